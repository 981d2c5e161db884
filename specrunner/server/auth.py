"""Signed-request checks of Provider v2 (reference §3): signature first, then the nonce.

The signature is verified before the nonce is consumed, so a forged request cannot burn
a user's nonces. A nonce must be strictly greater than the last one used (the Provider
accepts an equal one; the reference recommends refusing it, which stops replays).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from specrunner.ocean import signing
from specrunner.server.http import required, validation_error
from specrunner.server.store import Store

# What GET nonce answers for an address never seen; Provider v2 answers 1 (reference §3.3).
FIRST_NONCE = Decimal(1)
# Counters and UTC timestamps (fractional ones too, §3.3), in plain notation: a stored nonce
# must stay readable by clients that parse it as a float (ocean.py) or a Number (ocean.js),
# so "1e400" or a thousand digits would leave that wallet unable to sign again.
NONCE_TEXT = re.compile(r"[0-9]{1,32}(\.[0-9]{1,18})?")


def address_field(data: dict[str, Any], name: str) -> str:
    """A required Ethereum address parameter, as sent (its case is part of the message)."""
    value = data.get(name)
    if value is None or value == "":
        raise required(name)
    if not signing.is_address(value):
        raise validation_error({name: [f"The {name} must be an Ethereum address."]})
    return str(value)


def nonce_field(data: dict[str, Any]) -> str:
    value = data.get("nonce")
    if value is None or value == "":
        raise required("nonce")
    text = str(value)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise validation_error({"nonce": ["The nonce must be a number."]})
    if not NONCE_TEXT.fullmatch(text):
        raise validation_error(
            {"nonce": ["The nonce must be a number: up to 32 digits, an optional fraction."]}
        )
    return text


def check_signed(
    store: Store,
    data: dict[str, Any],
    owner: str,
    message: str,
    *,
    also_accept: tuple[str, ...] = (),
) -> None:
    """Verify `signature` over `message + nonce` by `owner`, then consume the nonce.

    `also_accept` lists further complete signed strings tolerated for a client quirk
    (ocean.js ≥ 3.3.3 signs a stop without the nonce, reference §9.3).
    Raises RequestError (400, flask-sieve shape) on any failure.
    """
    nonce = nonce_field(data)
    signature = data.get("signature")
    if not isinstance(signature, str) or not signature:
        raise validation_error(
            {"signature": ["Invalid signature provided. Please check the nonce or documentId."]}
        )
    covered = signing.verify(owner, message + nonce, signature)
    if not covered and not any(signing.verify(owner, text, signature) for text in also_accept):
        recovered = signing.recover_signer(message + nonce, signature)
        raise validation_error(
            {
                "signature": (
                    f"Invalid signature {signature} for ethereum address {owner}, message "
                    f"{message} and nonce {nonce}. Got {recovered or 'no valid signature'}"
                )
            }
        )
    if not covered:
        # The signature does not cover this nonce, so anyone who saw it could send any
        # nonce with it: it must not move the owner's counter (a huge one would lock the
        # wallet out). It is accepted only for stop, which repeating does not change.
        stored = store.get_nonce(owner)
        if stored is not None and Decimal(nonce) <= Decimal(stored):
            raise validation_error(
                {
                    "signature": f"Invalid signature expected nonce ({stored}) > current nonce "
                    f"({nonce})."
                }
            )
        return
    stored = store.use_nonce(owner, nonce, FIRST_NONCE)
    if stored is not None:
        raise validation_error(
            {"signature": f"Invalid signature expected nonce ({stored}) > current nonce ({nonce})."}
        )
