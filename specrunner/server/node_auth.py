"""Signed requests of the ocean-node dialect (reference §10.2, §10.3).

The signature covers `consumerAddress + nonce + command`; the nonce must exceed the last
one used (a new address is at 0). Failures answer 401 with the message as a JSON string,
as ocean-node's start routes do.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from specrunner.ocean import node, signing
from specrunner.server.auth import NONCE_TEXT
from specrunner.server.http import RequestError
from specrunner.server.store import Store

FIRST_NONCE = Decimal(0)


def node_error(status: int, message: str) -> RequestError:
    """ocean-node answers errors with a JSON-encoded string body."""
    return RequestError(status, message)


def consumer(data: dict[str, Any]) -> str:
    value = data.get("consumerAddress")
    if not signing.is_address(value):
        raise node_error(400, "Missing or invalid consumerAddress")
    return str(value)


def check_node_signed(store: Store, data: dict[str, Any], owner: str, command: str) -> None:
    """Verify the signature over `owner + nonce + command`, then consume the nonce."""
    _check(store, data, owner, lambda nonce: node.signed_message(owner, nonce, command))


def check_publish_signed(store: Store, data: dict[str, Any], owner: str, message: str) -> None:
    """Our publish extension signs `message + nonce` in both dialects; on ocean-node the
    nonce count starts at 0."""
    _check(store, data, owner, lambda nonce: f"{message}{nonce}")


def _check(
    store: Store, data: dict[str, Any], owner: str, signed_text: Callable[[str], str]
) -> None:
    nonce = data.get("nonce")
    signature = data.get("signature")
    if nonce is None or not isinstance(signature, str) or not signature:
        raise node_error(400, "Missing nonce or signature")
    text = str(nonce)
    # Plain digits only: a stored nonce is read back by clients as a Number or a float.
    if isinstance(nonce, bool) or not NONCE_TEXT.fullmatch(text):
        raise node_error(400, "Invalid nonce: not a plain number")
    if not signing.verify(owner, signed_text(text), signature):
        raise node_error(401, "Invalid signature")
    stored = store.use_nonce(owner, text, FIRST_NONCE)
    if stored is not None:
        raise node_error(401, f"Invalid nonce: must be greater than {stored}")
