"""Client side of our publish extension: register local files on a specrunner provider."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx

from specrunner.errors import ProviderError, ProviderUnreachableError
from specrunner.ocean.models import DDO
from specrunner.ocean.signing import Signer, publish_digest, publish_message

PUBLISH_PATH = "/api/services/publish"


def build_publish_request(
    files: list[Path],
    asset_type: str,
    name: str | None = None,
    compute: dict[str, Any] | None = None,
    algorithm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The unsigned publish body: files inline (base64) with the asset's options."""
    body: dict[str, Any] = {
        "type": asset_type,
        "name": name or files[0].name,
        "files": [
            {"filename": path.name, "content": base64.b64encode(path.read_bytes()).decode()}
            for path in files
        ],
    }
    if compute is not None:
        body["compute"] = compute
    if algorithm is not None:
        body["algorithm"] = algorithm
    return body


def publish(provider_url: str, signer: Signer, body: dict[str, Any], timeout: float = 120) -> DDO:
    """Sign and send a publish request; returns the DDO as the provider serves it."""
    base = provider_url.rstrip("/")
    try:
        with httpx.Client(timeout=timeout) as client:
            nonce_response = client.get(
                f"{base}/api/services/nonce", params={"userAddress": signer.address}
            )
            _raise_for(nonce_response, "nonce")
            nonce = int(float(nonce_response.json()["nonce"])) + 1
            signed = {**body, "publisherAddress": signer.address, "nonce": str(nonce)}
            message = publish_message(signer.address, publish_digest(signed))
            signed["signature"] = signer.sign(f"{message}{nonce}")
            response = client.post(f"{base}{PUBLISH_PATH}", json=signed)
            _raise_for(response, "publish")
            return DDO.model_validate(response.json())
    except httpx.TransportError as exc:
        raise ProviderUnreachableError(
            f"cannot reach provider {base}: {type(exc).__name__}", endpoint="publish"
        ) from None


def _raise_for(response: httpx.Response, endpoint: str) -> None:
    if response.status_code == 200:
        return
    try:
        payload: Any = response.json()
    except ValueError:
        payload = response.text[:200]
    detail = (
        payload.get("error", payload.get("errors", payload))
        if isinstance(payload, dict)
        else payload
    )
    if response.status_code == 404 and endpoint == "publish":
        detail = "this provider does not accept publishing (only specrunner providers do)"
    raise ProviderError(
        f"{endpoint} failed ({response.status_code}): {detail}",
        status_code=response.status_code,
        payload=payload,
        endpoint=endpoint,
    )
