"""Signature scheme of reference §3, pinned to the reference's test vector."""

from __future__ import annotations

from specrunner.ocean import signing

KEY = "0x" + "11" * 32
DID = "did:op:d32696f71f3318c92bcf325e2e51e6e8299c0eb6d362ddcfa77d2a3e0c1237b5"
VECTOR = (
    "0x8c2a32b7c501409fb37a4b22b64300a40f741333f06fee42171773bafc9a5e776e23b22790ff986e7"
    "cdc108339ed350d87b6e158c3d869aa696898138db98d661b"
)


def test_reference_vector() -> None:
    signer = signing.Signer.from_key(KEY)
    message = signing.compute_start_message(signer.address, DID) + "2"
    assert signer.sign(message) == VECTOR
    assert signing.verify(signer.address, message, VECTOR)


def test_v_zero_one_and_address_case_are_accepted() -> None:
    signer = signing.Signer.from_key(KEY)
    message = f"{signer.address}{DID}2"
    ocean_py_form = VECTOR[:-2] + "00"
    assert signing.verify(signer.address.lower(), message, ocean_py_form)


def test_wrong_message_signer_or_shape_is_rejected() -> None:
    signer = signing.Signer.from_key(KEY)
    other = signing.Signer.from_key("0x" + "22" * 32)
    message = f"{signer.address}{DID}2"
    assert not signing.verify(signer.address, message + "0", VECTOR)
    assert not signing.verify(other.address, message, VECTOR)
    for bad in ("", "0x", "0x1234", VECTOR[:-2] + "05", "zz" * 65, VECTOR + "00"):
        assert not signing.verify(signer.address, message, bad)
    assert signing.recover_signer(message, "0x1234") is None


def test_digest_with_leading_zero_stripped_is_accepted() -> None:
    """ocean.js 8 signs the keccak digest without its leading zero bytes (§10.3)."""
    from eth_account import Account
    from eth_account.messages import encode_defunct
    from eth_utils.crypto import keccak

    signer = signing.Signer.from_key(KEY)
    message = next(f"m{i}" for i in range(5000) if keccak(text=f"m{i}")[0] == 0)
    stripped = keccak(text=message).lstrip(b"\0")
    signed = Account.sign_message(encode_defunct(primitive=stripped), KEY)
    assert signing.verify(signer.address, message, "0x" + bytes(signed.signature).hex())
