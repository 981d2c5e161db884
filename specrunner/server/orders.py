"""Orders without a chain (design §3): initializeCompute issues them, compute start checks them.

For a free environment initializeCompute answers each input with its datatoken and a
`validOrder`, a local order id that ocean.py and ocean.js reuse as `transferTxId`
(reference §4.5). A paid environment gets a signed `providerFee` quote instead; no chain
can settle it here, so starting such a job fails with `order_invalid`, as on a Provider
whose fee was never paid.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from specrunner.ocean import signing
from specrunner.server.config import EnvironmentConfig
from specrunner.server.store import Asset, Order, Store


@dataclass(frozen=True)
class OrderBook:
    store: Store
    provider: signing.Signer
    default_timeout: int

    def issue(self, consumer: str, asset: Asset, service: dict[str, Any], env_id: str) -> Order:
        now = time.time()
        timeout = int(service.get("timeout") or 0)
        order = Order(
            order_id="0x" + secrets.token_hex(32),
            consumer=consumer,
            did=asset.did,
            service_id=str(service["id"]),
            environment=env_id,
            created=now,
            expires=now + timeout if timeout > 0 else None,
        )
        self.store.add_order(order)
        return order

    def find_valid(
        self,
        order_id: Any,
        *,
        did: str,
        service_id: str,
        environment: str,
        consumers: tuple[str, ...],
    ) -> Order | None:
        """The order if this provider issued it for exactly this use and it has not expired.

        `consumers` are the addresses the order may have been issued to: the job's owner,
        or the environment's own address, which Ocean's clients use as the order consumer
        (reference §4.5 note).
        """
        if not isinstance(order_id, str) or not order_id.startswith("0x") or len(order_id) > 130:
            return None
        order = self.store.get_order(order_id)
        if order is None:
            return None
        if (order.did, order.service_id, order.environment) != (did, service_id, environment):
            return None
        if order.consumer.lower() not in {c.lower() for c in consumers}:
            return None
        if order.expires is not None and order.expires < time.time():
            return None
        return order

    def provider_fee(
        self, env: EnvironmentConfig, datatoken: str, service_id: str, valid_until: int
    ) -> dict[str, Any]:
        """A Provider v2 `providerFee` quote, signed as the Provider signs it (§4.5)."""
        seconds = max(0, valid_until - int(time.time()))
        amount = 0 if env.feeToken == "0x" + "0" * 40 else int(seconds * env.priceMin / 60 * 10**18)
        provider_data = json.dumps(
            {"environment": env.id, "timestamp": time.time(), "dt": datatoken, "id": service_id},
            separators=(",", ":"),
        ).encode()
        packed = (
            provider_data
            + bytes.fromhex(self.provider.address[2:])
            + bytes.fromhex(env.feeToken[2:])
            + amount.to_bytes(32, "big")
            + valid_until.to_bytes(32, "big")
        )
        v, r, s = self.provider.sign_digest(signing.keccak256(packed))
        return {
            "providerFeeAddress": self.provider.address,
            "providerFeeToken": env.feeToken,
            "providerFeeAmount": str(amount),
            "providerData": "0x" + provider_data.hex(),
            "v": v,
            "r": r,
            "s": s,
            "validUntil": valid_until,
        }
