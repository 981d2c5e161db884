"""Compute-start validation (reference §8.3): inputs, algorithm, compute options, orders.

`build_workflow` turns a start request into the workflow the engine runs, or refuses it
with the Provider's own error codes, in the Provider's evaluation order.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from specrunner.server.assets import AssetRegistry, sha256_hex
from specrunner.server.config import EnvironmentConfig
from specrunner.server.http import RequestError, nested, route_error
from specrunner.server.orders import OrderBook
from specrunner.server.store import Asset, StoredFile


@dataclass(frozen=True)
class Checker:
    registry: AssetRegistry
    orders: OrderBook
    env: EnvironmentConfig
    env_address: str
    # ocean-node's free compute takes no orders (reference §10.3); Provider v2 always does.
    require_orders: bool = True

    def _ordered(self, owner: str, item: dict[str, Any], did: str, service_id: str) -> bool:
        """True when `item.transferTxId` is an order this provider issued for this use."""
        order = self.orders.find_valid(
            item.get("transferTxId"),
            did=did,
            service_id=service_id,
            environment=self.env.id,
            consumers=(owner, self.env_address),
        )
        return order is not None

    def algorithm(self, owner: str, algo: dict[str, Any], customdata: Any) -> dict[str, Any]:
        """The algorithm part of a workflow: published (documentId) or raw (meta)."""
        if customdata is not None and not isinstance(customdata, dict):
            raise route_error({"algorithm.algocustomdata": "must be an object"})
        meta = algo.get("meta")
        if not algo.get("documentId") and not meta:
            raise route_error({"algorithm": "missing_meta_documentId"})
        if algo.get("documentId"):
            return self._published_algorithm(owner, algo, customdata)
        if not isinstance(meta, dict):
            raise route_error({"algorithm": "missing_meta_documentId"})
        if not meta.get("rawcode") and not meta.get("url"):
            raise route_error({"algorithm": "meta_oneof_url_rawcode_remote"})
        if not all(isinstance(meta.get(k) or "", str) for k in ("rawcode", "url")):
            raise route_error({"algorithm": "meta_oneof_url_rawcode_remote"})
        container = _container(meta.get("container"))
        return {
            "did": "",
            "serviceId": "",
            "rawcode": _text(meta.get("rawcode")),
            "url": _text(meta.get("url")),
            "container": container,
            "files": [],
            "customdata": customdata,
            "ddo": None,
        }

    def _published_algorithm(
        self, owner: str, algo: dict[str, Any], customdata: Any
    ) -> dict[str, Any]:
        did = str(algo["documentId"])
        asset = self.registry.resolve(did)
        if asset is None:
            raise route_error({"algorithm": "file_unavailable"})
        if asset.ddo.get("metadata", {}).get("type") != "algorithm":
            raise route_error({"algorithm": "not_algo"})
        service_id = algo.get("serviceId")
        if not service_id:
            raise route_error({"algorithm.serviceId": "missing"})
        service = _service(asset, str(service_id))
        if service is None:
            raise route_error({"algorithm.serviceId": "not_found"})
        files = self.registry.service_files(asset, service)
        if files is None:
            raise route_error({"algorithm": "compute_services_not_in_same_provider"})
        if self.require_orders and not self._ordered(owner, algo, did, str(service_id)):
            raise route_error({"algorithm": "in_use_or_not_on_chain"})
        container = asset.ddo["metadata"]["algorithm"]["container"]
        return {
            "did": did,
            "serviceId": str(service_id),
            "rawcode": None,
            "url": None,
            "container": container,
            "files": [_file_json(f) for f in files],
            "customdata": customdata,
            "ddo": asset.ddo,
            "publisher": (asset.ddo.get("nft") or {}).get("owner", ""),
        }

    def dataset(
        self, owner: str, item: dict[str, Any], resource: str, algorithm: dict[str, Any]
    ) -> dict[str, Any]:
        """One input of a workflow; `resource` is `dataset` or `datasets[i]` in errors."""
        required = (
            ("documentId", "transferTxId", "serviceId")
            if self.require_orders
            else ("documentId", "serviceId")
        )
        for field in required:
            if not item.get(field):
                raise route_error({f"{resource}.{field}": "missing"})
        did = str(item["documentId"])
        asset = self.registry.resolve(did)
        if asset is None:
            raise route_error({f"{resource}.documentId": "did_not_found"})
        service = _service(asset, str(item["serviceId"]))
        if service is None:
            raise route_error({f"{resource}.serviceId": "not_found"})
        if service.get("type") not in ("access", "compute"):
            raise route_error({f"{resource}.serviceId": "service_not_access_compute"})
        if resource == "dataset" and service.get("type") != "compute":
            # Only the main input must be a compute service; additional ones may be access.
            raise route_error({f"{resource}.serviceId": "main_service_compute"})
        files = self.registry.service_files(asset, service)
        if files is None:
            raise route_error({f"{resource}.serviceId": "compute_services_not_in_same_provider"})
        options = service.get("compute") or {}
        if service.get("type") == "compute":
            # An access service carries no compute options to enforce.
            _check_algorithm_allowed(
                options, algorithm, resource, owner.lower() == asset.publisher.lower()
            )
        order_id = ""
        if self.require_orders:
            if not self._ordered(owner, item, did, str(service["id"])):
                raise route_error({f"{resource}.serviceId": "order_invalid"})
            order_id = str(item["transferTxId"]).lower()
        userdata = item.get("userdata")
        if userdata is not None and not isinstance(userdata, dict):
            raise route_error({f"{resource}.userdata": "must be an object"})
        return {
            "did": did,
            "serviceId": str(service["id"]),
            "transferTxId": order_id,
            "userdata": userdata,
            "files": [_file_json(f) for f in files],
            "ddo": asset.ddo,
            "allowNetworkAccess": bool(options.get("allowNetworkAccess", False)),
        }


def build_workflow(checker: Checker, owner: str, data: dict[str, Any]) -> dict[str, Any]:
    """Validate a compute start request and return the workflow; raises RequestError."""
    extra = data.get("additionalDatasets")
    if extra is None:
        # ocean.py sends the (always empty) list under another key (reference §9.1).
        extra = data.get("additionalInputs") or []
    if not isinstance(extra, list) or not all(isinstance(i, dict) for i in extra):
        raise route_error({"additional_input": "invalid"})
    algo = nested(data, "algorithm")
    customdata = algo.get("algocustomdata", data.get("algocustomdata"))
    algorithm = checker.algorithm(owner, algo, customdata)
    main = checker.dataset(owner, nested(data, "dataset"), "dataset", algorithm)
    inputs = [main] + [
        checker.dataset(owner, item, f"datasets[{i}]", algorithm)
        for i, item in enumerate(extra, start=1)
    ]
    allow_network = checker.env.allowNetwork and all(i["allowNetworkAccess"] for i in inputs)
    return {"inputs": inputs, "algorithm": algorithm, "allowNetwork": allow_network}


PUBLISHER_ONLY_RAW = "rawAlgorithmPublisherOnly"


def _check_algorithm_allowed(
    options: dict[str, Any], algorithm: dict[str, Any], resource: str, by_publisher: bool
) -> None:
    """Provider v2 semantics (reference §5.3): both lists empty allow any published one.

    Our extension `rawAlgorithmPublisherOnly` accepts raw code only from the dataset's own
    publisher, so a shared provider never lets another wallet read someone's local data.
    """
    if not algorithm["did"]:
        if not options.get("allowRawAlgorithm", False):
            raise route_error({resource: "no_raw_algo_allowed"})
        if options.get(PUBLISHER_ONLY_RAW) and not by_publisher:
            raise route_error({resource: "no_raw_algo_allowed"})
        return
    publishers = options.get("publisherTrustedAlgorithmPublishers") or []
    if publishers and algorithm.get("publisher", "").lower() not in {
        str(p).lower() for p in publishers
    }:
        raise route_error({resource: "not_trusted_algo_publisher"})
    trusted = options.get("publisherTrustedAlgorithms") or []
    if not trusted:
        return
    if any(not entry.get("did") for entry in trusted):
        raise route_error({resource: "no_publisherTrustedAlgorithms"})
    entry = next((e for e in trusted if e.get("did") == algorithm["did"]), None)
    if entry is None:
        raise route_error({resource: "not_trusted_algo"})
    files_checksum = "".join(f["sha256"] for f in algorithm["files"])
    if entry.get("filesChecksum") and entry["filesChecksum"].lower() != files_checksum:
        raise route_error({resource: "algorithm_file_checksum_mismatch"})
    container = algorithm["container"]
    container_checksum = sha256_hex((container["entrypoint"] + container["checksum"]).encode())
    if (
        entry.get("containerSectionChecksum")
        and entry["containerSectionChecksum"] != container_checksum
    ):
        raise route_error({resource: "algorithm_container_checksum_mismatch"})


def _container(value: Any) -> dict[str, str]:
    """A raw algorithm's container; the entrypoint runs on the host's runtimes."""
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("entrypoint"), str)
        or not value["entrypoint"]
    ):
        raise route_error({"algorithm.container": "missing_entrypoint_image_checksum"})
    try:
        if not shlex.split(str(value["entrypoint"])):
            raise ValueError("empty")
    except ValueError:  # an unclosed quote: refuse it now, not when the job runs
        raise route_error({"algorithm.container.entrypoint": "invalid"}) from None
    checksum = value.get("checksum")
    if checksum and not str(checksum).startswith("sha256:"):
        raise route_error({"algorithm.container": "checksum_prefix"})
    return {key: str(value.get(key) or "") for key in ("entrypoint", "image", "tag", "checksum")}


def _service(asset: Asset, service_id: str) -> dict[str, Any] | None:
    return next((s for s in asset.ddo.get("services", []) if str(s.get("id")) == service_id), None)


def _file_json(stored: StoredFile) -> dict[str, Any]:
    return {"filename": stored.filename, "sha256": stored.sha256, "size": stored.size}


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


__all__ = ["Checker", "RequestError", "build_workflow"]
