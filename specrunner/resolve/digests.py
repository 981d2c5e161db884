"""Digests of everything a job depends on, so a plan can say exactly what changed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def json_digest(value: Any) -> str:
    """sha256 of canonical JSON: key order and spacing never change a digest."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


# What Aquarius adds and changes as the asset is used (order counts, prices, indexing
# events): not what the asset is, and not read by compute (reference §5.3).
VOLATILE_DDO_KEYS = frozenset({"stats", "event", "purgatory", "accessDetails", "datatokens"})


def ddo_digest(ddo: dict[str, Any]) -> str:
    """A DDO's digest, leaving out each service's endpoint and Aquarius' volatile fields.

    The endpoint is where the provider was reached, not what the asset is: the embedded
    provider gets a new port on every run, and that must not look like a changed dataset.
    """
    services = [
        {key: value for key, value in service.items() if key != "serviceEndpoint"}
        for service in ddo.get("services", [])
    ]
    kept = {key: value for key, value in ddo.items() if key not in VOLATILE_DDO_KEYS}
    return json_digest({**kept, "services": services})


def files_digest(paths: Iterable[Path], root: Path | None = None) -> str:
    """Names (relative to `root`) and contents of local files, in a stable order."""
    entries = []
    for path in sorted(paths):
        name = str(path.relative_to(root)) if root and path.is_relative_to(root) else path.name
        entries.append([name, file_sha256(path)])
    return json_digest(entries)


def file_sha256(path: Path) -> str:
    """sha256 hex of a file's contents, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
