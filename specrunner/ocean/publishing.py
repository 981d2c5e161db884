"""The body of our publish extension: local files inline, with the asset's options.

`DataServiceProvider.publish` signs and sends it, through the same transport (retries,
errors) as every other call.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from specrunner.ocean.models import DDO
from specrunner.ocean.provider import DataServiceProvider, shared_provider
from specrunner.ocean.signing import Signer


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


def publish(
    provider_url: str,
    signer: Signer,
    body: dict[str, Any],
    client: DataServiceProvider | None = None,
) -> DDO:
    """Sign and send `body` through `client` (default: the process-wide client)."""
    return (client or shared_provider()).publish(provider_url, signer, body)
