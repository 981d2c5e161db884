"""Published assets: files stored by content, DDO v4 documents, provider-encrypted file lists.

Publishing is our extension (Ocean publishes on chain). It is idempotent: the DID derives
from the publisher and the content (files, options, container), so publishing the same
thing again returns the same asset unchanged. DDOs are stored without a service
endpoint and served with the origin the client reached us at, so an embedded provider
on a new port still serves usable DDOs with unchanged digests of everything else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from specrunner.atomic import write_atomic
from specrunner.ocean import signing
from specrunner.server.http import RequestError, route_error
from specrunner.server.store import Asset, Store, StoredFile

MAX_FILES = 100
DEFAULT_ENTRYPOINTS = {".py": "python3 $ALGO", ".sh": "sh $ALGO", ".js": "node $ALGO"}
COMPUTE_SERVICE_ID = "compute"
ACCESS_SERVICE_ID = "access"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class FileCipher:
    """AES-GCM over the files list. The nonce derives from the plaintext, so the same
    files always encrypt to the same text and a re-published DDO never looks changed."""

    key: bytes

    def encrypt(self, plaintext: bytes) -> str:
        nonce = hashlib.sha256(self.key + plaintext).digest()[:12]
        return "0x" + (nonce + AESGCM(self.key).encrypt(nonce, plaintext, None)).hex()

    def decrypt(self, text: str) -> bytes:
        raw = bytes.fromhex(text[2:] if text.startswith("0x") else text)
        return AESGCM(self.key).decrypt(raw[:12], raw[12:], None)


class AssetRegistry:
    """Registers and resolves the provider's assets."""

    def __init__(self, store: Store, files_dir: Path, cipher: FileCipher, chain_id: int) -> None:
        self.store = store
        self.files_dir = files_dir
        self.cipher = cipher
        self.chain_id = chain_id
        files_dir.mkdir(parents=True, exist_ok=True)

    def file_path(self, stored: StoredFile) -> Path:
        return self.files_dir / stored.sha256

    def resolve(self, did: str) -> Asset | None:
        return self.store.get_asset(did)

    def publish(self, publisher: str, request: dict[str, Any]) -> Asset:
        """Store the request's files and register its DDO; the same content, the same DID."""
        asset_type = request.get("type", "dataset")
        if asset_type not in ("dataset", "algorithm"):
            raise route_error({"type": "must be dataset or algorithm"})
        contents = _decode_files(request.get("files"))
        if asset_type == "dataset":
            request = {**request, "compute": self._with_trusted_checksums(request.get("compute"))}
        stored = [self._store_file(name, data) for name, data in contents]
        description = _content_description(publisher, asset_type, request, stored)
        identity = sha256_hex(canonical(description))
        nft_address = signing.checksum("0x" + identity[:40])
        did = "did:op:" + sha256_hex((nft_address + str(self.chain_id)).encode())
        existing = self.store.get_asset(did)
        if existing is not None:
            return existing
        ddo = self._build_ddo(did, nft_address, publisher, description, stored)
        asset = Asset(did=did, publisher=publisher, ddo=ddo, files=stored)
        self.store.put_asset(asset, time.time())
        return asset

    def service_files(self, asset: Asset, service: dict[str, Any]) -> list[StoredFile] | None:
        """The files behind a service, or None when this provider cannot decrypt them."""
        try:
            listing = json.loads(self.cipher.decrypt(str(service.get("files", ""))))
        except Exception:  # any decryption or parse failure: not a file list of ours
            return None
        wanted = [entry.get("sha256") for entry in listing.get("files", [])]
        by_digest = {f.sha256: f for f in asset.files}
        found = [by_digest[d] for d in wanted if d in by_digest]
        return found if len(found) == len(wanted) else None

    def _with_trusted_checksums(self, compute: Any) -> dict[str, Any]:
        """Trusted algorithms may be given by DID alone; fill in their checksums."""
        options = dict(compute) if isinstance(compute, dict) else {}
        trusted = options.get("publisherTrustedAlgorithms") or []
        if not isinstance(trusted, list):
            raise route_error({"compute.publisherTrustedAlgorithms": "must be a list"})
        entries = []
        for item in trusted:
            did = (
                item
                if isinstance(item, str)
                else item.get("did")
                if isinstance(item, dict)
                else None
            )
            if not isinstance(did, str):
                raise route_error({"compute.publisherTrustedAlgorithms": "entries need a did"})
            entries.append(trusted_algorithm_entry(self, did))
        options["publisherTrustedAlgorithms"] = entries
        return options

    def _store_file(self, filename: str, data: bytes) -> StoredFile:
        digest = sha256_hex(data)
        target = self.files_dir / digest
        if not target.exists():
            # atomic: a temp name of its own per call, so publishes of one file may race.
            write_atomic(target, data)
        return StoredFile(
            filename=filename, sha256=digest, size=len(data), content_type=_content_type(filename)
        )

    def _build_ddo(
        self,
        did: str,
        nft_address: str,
        publisher: str,
        description: dict[str, Any],
        stored: list[StoredFile],
    ) -> dict[str, Any]:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        datatoken = signing.checksum("0x" + sha256_hex(did.encode())[:40])
        files_plain = canonical(
            {
                "datatokenAddress": datatoken,
                "nftAddress": nft_address,
                "files": [
                    {"type": "specrunner", "filename": f.filename, "sha256": f.sha256}
                    for f in stored
                ],
            }
        )
        metadata: dict[str, Any] = {
            "created": now,
            "updated": now,
            "type": description["type"],
            "name": description["name"],
            "description": description["description"],
            "author": publisher,
            "license": "No License Specified",
        }
        service: dict[str, Any] = {
            "id": ACCESS_SERVICE_ID,
            "type": "access",
            "name": "access",
            "description": "Access to the algorithm",
            "datatokenAddress": datatoken,
            "serviceEndpoint": "",
            "files": self.cipher.encrypt(files_plain),
            "timeout": 0,
        }
        if description["type"] == "algorithm":
            metadata["algorithm"] = description["algorithm"]
        else:
            service.update(
                id=COMPUTE_SERVICE_ID,
                type="compute",
                name="compute",
                description="Compute-to-Data on this dataset",
                timeout=3600,
                compute=description["compute"],
            )
        return {
            "@context": ["https://w3id.org/did/v1"],
            "id": did,
            "version": "4.1.0",
            "chainId": self.chain_id,
            "nftAddress": nft_address,
            "metadata": metadata,
            "services": [service],
            "nft": {
                "address": nft_address,
                "name": "Data NFT",
                "symbol": "DN",
                "owner": publisher,
                "state": 0,
                "created": now,
            },
            "datatokens": [
                {
                    "address": datatoken,
                    "name": "Datatoken",
                    "symbol": "DT",
                    "serviceId": service["id"],
                }
            ],
        }


def render_ddo(ddo: dict[str, Any], origin: str) -> dict[str, Any]:
    """The DDO as served: every service points at the origin the client used."""
    services = [{**service, "serviceEndpoint": origin} for service in ddo.get("services", [])]
    return {**ddo, "services": services}


def _decode_files(files: Any) -> list[tuple[str, bytes]]:
    if not isinstance(files, list) or not files:
        raise route_error({"files": "at least one file is required"})
    if len(files) > MAX_FILES:
        raise route_error({"files": f"at most {MAX_FILES} files"})
    decoded: list[tuple[str, bytes]] = []
    for index, entry in enumerate(files):
        name = entry.get("filename") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not _safe_filename(name):
            raise route_error({f"files[{index}].filename": "must be a plain file name"})
        try:
            data = base64.b64decode(str(entry.get("content", "")), validate=True)
        except (binascii.Error, ValueError):
            raise route_error({f"files[{index}].content": "must be base64"}) from None
        decoded.append((name, data))
    return decoded


def _safe_filename(name: str) -> bool:
    return (
        bool(name)
        and len(name) <= 255
        and "/" not in name
        and "\\" not in name
        and name not in (".", "..")
        and "\0" not in name
    )


def _content_type(filename: str) -> str:
    import mimetypes

    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _content_description(
    publisher: str, asset_type: str, request: dict[str, Any], stored: list[StoredFile]
) -> dict[str, Any]:
    """Everything that identifies an asset: equal descriptions give the same DID."""
    name = request.get("name") or stored[0].filename
    description: dict[str, Any] = {
        "publisher": publisher.lower(),
        "type": asset_type,
        "name": str(name)[:200],
        "description": str(request.get("description") or f"{asset_type} published by specrunner"),
        "files": [{"filename": f.filename, "sha256": f.sha256} for f in stored],
    }
    if asset_type == "algorithm":
        description["algorithm"] = _algorithm_block(request, stored[0].filename)
    else:
        description["compute"] = _compute_options(request.get("compute"))
    return description


def _algorithm_block(request: dict[str, Any], first_file: str) -> dict[str, Any]:
    given = request.get("algorithm") if isinstance(request.get("algorithm"), dict) else {}
    assert isinstance(given, dict)
    container_in = given.get("container") if isinstance(given.get("container"), dict) else {}
    assert isinstance(container_in, dict)
    suffix = Path(first_file).suffix.lower()
    entrypoint = container_in.get("entrypoint") or DEFAULT_ENTRYPOINTS.get(suffix)
    if not entrypoint:
        raise route_error({"algorithm.container.entrypoint": f"required for {first_file}"})
    image = str(container_in.get("image") or ("python" if suffix == ".py" else "debian"))
    tag = str(container_in.get("tag") or ("3.11" if suffix == ".py" else "stable"))
    # No image is pulled here: the checksum identifies the declared image name and tag.
    checksum = container_in.get("checksum") or "sha256:" + sha256_hex(f"{image}:{tag}".encode())
    if not str(checksum).startswith("sha256:"):
        raise route_error({"algorithm.container": "checksum_prefix"})
    language = given.get("language") or {".py": "python", ".js": "node"}.get(suffix, "shell")
    return {
        "language": str(language),
        "version": str(given.get("version") or "0.1"),
        "container": {
            "entrypoint": str(entrypoint),
            "image": image,
            "tag": tag,
            "checksum": str(checksum),
        },
    }


def _compute_options(given: Any) -> dict[str, Any]:
    """Ocean's default compute options (reference §5.3), overridden by what was asked."""
    options = given if isinstance(given, dict) else {}
    trusted = options.get("publisherTrustedAlgorithms") or []
    publishers = options.get("publisherTrustedAlgorithmPublishers") or []
    if not isinstance(trusted, list) or not isinstance(publishers, list):
        raise route_error({"compute": "trusted lists must be lists"})
    chosen = {
        "allowRawAlgorithm": bool(options.get("allowRawAlgorithm", False)),
        "allowNetworkAccess": bool(options.get("allowNetworkAccess", False)),
        "publisherTrustedAlgorithms": trusted,
        "publisherTrustedAlgorithmPublishers": [str(p) for p in publishers],
    }
    if options.get("rawAlgorithmPublisherOnly"):
        # Our extension: raw algorithms only from the dataset's own publisher.
        chosen["rawAlgorithmPublisherOnly"] = True
    return chosen


def trusted_algorithm_entry(registry: AssetRegistry, did: str) -> dict[str, str]:
    """A publisherTrustedAlgorithms entry with both checksums (reference §5.3)."""
    asset = registry.resolve(did)
    if asset is None or asset.ddo.get("metadata", {}).get("type") != "algorithm":
        raise RequestError(
            400,
            {
                "error": {
                    "publisherTrustedAlgorithms": f"{did} is not an "
                    "algorithm published on this provider"
                }
            },
        )
    container = asset.ddo["metadata"]["algorithm"]["container"]
    return {
        "did": did,
        "filesChecksum": "".join(f.sha256 for f in asset.files),
        "containerSectionChecksum": sha256_hex(
            (container["entrypoint"] + container["checksum"]).encode()
        ),
    }
