"""Provider request signatures (reference §3): the only module that imports eth-account.

A signed request carries `keccak256(utf8(message + nonce))`, signed EIP-191 style as a
32-byte message. The message per endpoint is built here too, so the client and the
embedded provider can never disagree about it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak


@dataclass(frozen=True, repr=False)
class Signer:
    """A wallet that signs provider requests. Its repr never shows the key."""

    address: str
    _private_key: bytes

    @classmethod
    def from_key(cls, private_key: str | bytes) -> Signer:
        """Build from a 0x-hex or raw 32-byte key; raises ValueError on a malformed key."""
        try:
            account = Account.from_key(private_key)
        except Exception:  # eth-account raises several types; never echo the key
            raise ValueError("not a valid secp256k1 private key") from None
        return cls(address=account.address, _private_key=bytes(account.key))

    def sign(self, message: str) -> str:
        """0x-hex signature of `message` (the nonce already appended), v = 27/28."""
        digest = keccak(text=message)
        signed = Account.sign_message(encode_defunct(primitive=digest), self._private_key)
        return "0x" + bytes(signed.signature).hex()

    def sign_digest(self, digest: bytes) -> tuple[int, str, str]:
        """EIP-191 signature of a 32-byte digest as (v, r, s): v 27/28, r and s 0x-hex."""
        signed = Account.sign_message(encode_defunct(primitive=digest), self._private_key)
        return int(signed.v), f"0x{signed.r:064x}", f"0x{signed.s:064x}"

    def __repr__(self) -> str:
        return f"Signer(address={self.address!r})"


def as_signer(wallet: Any) -> Signer:
    """Accept our Signer or any eth-account LocalAccount (the seed's `wallet` argument)."""
    if isinstance(wallet, Signer):
        return wallet
    key = getattr(wallet, "key", None)
    if key is None:
        raise TypeError("wallet must be a specrunner Signer or an eth-account LocalAccount")
    return Signer.from_key(bytes(key))


def new_private_key() -> str:
    """A fresh random private key as 0x-hex."""
    return "0x" + secrets.token_bytes(32).hex()


def address_of(private_key: str | bytes) -> str:
    """The checksummed address of a private key."""
    return Signer.from_key(private_key).address


def checksum(address: str) -> str:
    """EIP-55 form of an address; raises ValueError when it is not an address."""
    return str(to_checksum_address(address))


def keccak256(data: bytes) -> bytes:
    return bytes(keccak(primitive=data))


def is_address(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 42 or not value.startswith(("0x", "0X")):
        return False
    try:
        int(value[2:], 16)
    except ValueError:
        return False
    return True


def recover_signer(message: str, signature: str) -> str | None:
    """The address that signed `message` over its full digest, or None when malformed."""
    raw = _normalised_signature(signature)
    if raw is None:
        return None
    try:
        found = Account.recover_message(
            encode_defunct(primitive=keccak(text=message)), signature=raw
        )
    except Exception:  # malformed r/s values make eth-keys raise several types
        return None
    return str(found)


def verify(address: str, message: str, signature: str) -> bool:
    """True when `signature` over `message` was made by `address` (case-insensitive).

    Accepts v as 0/1 (ocean.py) or 27/28 (ocean.js), and digests signed with their
    leading zero bytes stripped (ocean.js 8, reference §10.3).
    """
    raw = _normalised_signature(signature)
    if raw is None:
        return False
    digest = keccak(text=message)
    wanted = address.lower()
    for candidate in (digest, digest.lstrip(b"\0")):
        try:
            found = Account.recover_message(encode_defunct(primitive=candidate), signature=raw)
        except Exception:  # noqa: S112 - malformed r/s: not a valid signature
            continue
        if str(found).lower() == wanted:
            return True
    return False


def _normalised_signature(signature: str) -> bytes | None:
    """65 bytes r||s||v with v as 27/28, or None when it is not a signature."""
    if not isinstance(signature, str):
        return None
    text = signature[2:] if signature.startswith(("0x", "0X")) else signature
    if len(text) != 130:
        return None
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        return None
    if raw[64] not in (0, 1, 27, 28):
        return None
    if raw[64] < 27:
        raw = raw[:64] + bytes([raw[64] + 27])
    return raw


# Messages per endpoint (reference §3.2); the caller appends the nonce.


def compute_start_message(consumer_address: str, did: str) -> str:
    return f"{consumer_address}{did}"


def compute_job_message(consumer_address: str, job_id: str, did: str | None) -> str:
    """Stop and delete: `consumerAddress + jobId + documentId`."""
    return f"{consumer_address}{job_id}{did or ''}"


def compute_result_message(consumer_address: str, job_id: str, index: int | str) -> str:
    return f"{consumer_address}{job_id}{index}"


def publish_digest(body: dict[str, Any]) -> str:
    """What a publisher signs: sha256 of the canonical body without `signature`/`nonce`."""
    unsigned = {key: value for key, value in body.items() if key not in ("signature", "nonce")}
    canonical = json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()


def publish_message(publisher_address: str, content_digest: str) -> str:
    """Our publish extension: the publisher signs the digest of what it registers."""
    return f"{publisher_address}{content_digest}"
