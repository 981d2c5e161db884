"""Resolution, the only I/O before a plan: bind each spec to a provider, an environment,
its inputs' DDOs (publishing local datasets to a specrunner provider) and their digests.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specrunner.errors import PlanError, ProviderError, WalletError
from specrunner.ocean.aquarius import Aquarius
from specrunner.ocean.compute import environments_for_chain
from specrunner.ocean.models import DDO, ComputeEnvironment
from specrunner.ocean.provider import DataServiceProvider
from specrunner.ocean.publishing import build_publish_request
from specrunner.ocean.signing import Signer
from specrunner.resolve.digests import ddo_digest, files_digest, json_digest
from specrunner.resolve.environments import select_environment
from specrunner.resolve.models import (
    ResolvedAlgorithm,
    ResolvedInput,
    ResolvedJob,
)
from specrunner.spec import LocalDataset, PublishedAlgorithm, PublishedDataset, RawAlgorithm, Spec

EMBEDDED = "embedded"


@dataclass
class Resolver:
    """Resolves specs against live providers, caching what several specs share.

    `embedded_url` is where the embedded provider listens (None when no spec needs it);
    `default_signer` signs for specs without a `wallet:`. `signers` maps each owner
    address to its Signer for the executor; keys never enter the resolved models.
    """

    client: DataServiceProvider
    default_signer: Signer | None
    embedded_url: str | None = None
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    signers: dict[str, Signer] = field(default_factory=dict)
    _envs: dict[tuple[str, int], list[ComputeEnvironment]] = field(default_factory=dict)
    _ddos: dict[tuple[str, str], DDO] = field(default_factory=dict)
    _published: dict[tuple[str, tuple[Path, ...]], DDO] = field(default_factory=dict)

    def register_wallets(self, specs: Sequence[Spec]) -> None:
        """Learn the wallets specs name (whose variables are set), without resolving them."""
        for spec in specs:
            if spec.wallet is not None and self.environ.get(spec.wallet.env_var):
                signer = self._signer(spec)
                self.signers[signer.address] = signer

    def resolve_all(self, specs: Sequence[Spec]) -> list[ResolvedJob]:
        return [self.resolve(spec) for spec in specs]

    def resolve(self, spec: Spec) -> ResolvedJob:
        source = spec.source.describe() if spec.source else spec.name
        try:
            return self._resolve(spec, source)
        except (ProviderError, PlanError) as exc:
            raise PlanError(f"{source}: {spec.name}: {exc}") from exc

    def _resolve(self, spec: Spec, source: str) -> ResolvedJob:
        url, embedded = self._provider_url(spec)
        info = self.client.root(url)
        chain_id = self._chain_id(spec, info.raw)
        signer = self._signer(spec)
        self.signers[signer.address] = signer
        cache_url = (spec.provider.metadata_cache_url if spec.provider else None) or url
        inputs = [self._input(item, url, cache_url, signer, info.raw) for item in spec.datasets]
        algorithm = self._algorithm(spec, cache_url)
        envs = self._environments(url, chain_id)
        environment = select_environment(envs, spec.environment, url)
        fingerprints = {
            "provider": EMBEDDED if embedded else url,
            "environment": environment.id,
            "algorithm": algorithm.digest,
        }
        for item in inputs:
            fingerprints[f"dataset {item.label}"] = item.ddoDigest
            if item.userdata is not None:
                fingerprints[f"userdata {item.label}"] = json_digest(item.userdata)
        if algorithm.customData is not None:
            fingerprints["customData"] = json_digest(algorithm.customData)
        if spec.environment.resources:
            fingerprints["resources"] = json_digest(
                [r.model_dump() for r in spec.environment.resources]
            )
        return ResolvedJob(
            name=spec.name,
            source=source,
            specDigest=spec.spec_digest(),
            provider=url,
            chainId=chain_id,
            dialect=info.dialect,
            embedded=embedded,
            owner=signer.address,
            environment=environment,
            inputs=inputs,
            algorithm=algorithm,
            timeoutSeconds=spec.policy.timeout,
            retries=spec.policy.retries,
            resources=[{"id": r.id, "amount": r.amount} for r in spec.environment.resources],
            maxJobDuration=spec.policy.max_job_duration or spec.policy.timeout,
            queueMaxWaitTime=spec.policy.queue_max_wait_time,
            labels=dict(spec.metadata.labels),
            outputsDir=spec.outputs.dir,
            fingerprints=fingerprints,
        )

    def _provider_url(self, spec: Spec) -> tuple[str, bool]:
        if spec.provider is not None:
            return spec.provider.url.rstrip("/"), False
        if self.embedded_url is None:
            raise PlanError("no provider given and the embedded provider is not running")
        return self.embedded_url, True

    def _chain_id(self, spec: Spec, root: dict[str, Any]) -> int:
        if spec.provider is not None and spec.provider.chain_id is not None:
            return spec.provider.chain_id
        chains = root.get("chainIds") or []
        if not chains:
            raise PlanError("the provider names no chain: set provider.chainId")
        return int(chains[0])

    def _signer(self, spec: Spec) -> Signer:
        if spec.wallet is None:
            if self.default_signer is None:
                raise WalletError("no wallet: set wallet.privateKey or SPECRUNNER_PRIVATE_KEY")
            return self.default_signer
        name = spec.wallet.env_var
        value = self.environ.get(name)
        if not value:
            raise PlanError(f"wallet.privateKey refers to ${{env:{name}}}, which is not set")
        try:
            return Signer.from_key(value.strip())
        except ValueError:
            raise PlanError(f"${name} does not hold a valid private key") from None

    def _environments(self, url: str, chain_id: int) -> list[ComputeEnvironment]:
        key = (url, chain_id)
        if key not in self._envs:
            raw = environments_for_chain(self.client.compute_environments(url, chain_id), chain_id)
            self._envs[key] = [ComputeEnvironment.model_validate(env) for env in raw]
        return self._envs[key]

    def _ddo(self, cache_url: str, did: str) -> DDO:
        key = (cache_url, did)
        if key not in self._ddos:
            self._ddos[key] = Aquarius(cache_url, self.client).resolve(did)
        return self._ddos[key]

    def _input(
        self,
        item: PublishedDataset | LocalDataset,
        url: str,
        cache_url: str,
        signer: Signer,
        root: dict[str, Any],
    ) -> ResolvedInput:
        if isinstance(item, PublishedDataset):
            ddo = self._ddo(cache_url, item.did)
            service = ddo.service(item.service_id)
            if service is None:
                raise PlanError(f"dataset {item.did} has no service {item.service_id!r}")
            if service.type != "compute":
                raise PlanError(
                    f"service {item.service_id!r} of {item.did} is not a compute service"
                )
            return ResolvedInput(
                did=ddo.id,
                serviceId=service.id,
                ddoDigest=ddo_digest(ddo.as_wire()),
                label=item.did,
                userdata=item.userdata,
                transferTxId=item.transfer_tx_id,
            )
        ddo = self._publish_local(item, url, signer, root)
        service = next(s for s in ddo.services if s.type == "compute")
        return ResolvedInput(
            did=ddo.id,
            serviceId=service.id,
            label=item.path,
            ddoDigest=files_digest(item.files),
            userdata=item.userdata,
        )

    def _publish_local(
        self, item: LocalDataset, url: str, signer: Signer, root: dict[str, Any]
    ) -> DDO:
        if "publish" not in (root.get("serviceEndpoints") or {}):
            raise PlanError(
                f"dataset path {item.path!r} needs a specrunner provider to publish "
                f"it, and {url} is not one: publish it on chain and use its did"
            )
        key = (url, item.files)
        if key not in self._published:
            common = _common_root(item.files)
            body = build_publish_request(
                list(item.files),
                "dataset",
                name=item.path,
                # The spec's own data: its raw algorithm must run on it, and only its owner's
                # (a shared provider must not let another wallet read it).
                compute={
                    "allowRawAlgorithm": True,
                    "rawAlgorithmPublisherOnly": True,
                    "allowNetworkAccess": False,
                },
            )
            if common is not None:
                for entry, path in zip(body["files"], item.files, strict=True):
                    entry["filename"] = str(path.relative_to(common)).replace("/", "_")
            self._published[key] = self.client.publish(url, signer, body)
        return self._published[key]

    def _algorithm(self, spec: Spec, cache_url: str) -> ResolvedAlgorithm:
        algorithm = spec.algorithm
        if isinstance(algorithm, PublishedAlgorithm):
            ddo = self._ddo(cache_url, algorithm.did)
            if ddo.metadata.type != "algorithm":
                raise PlanError(f"{algorithm.did} is not an algorithm")
            if ddo.service(algorithm.service_id) is None:
                raise PlanError(
                    f"algorithm {algorithm.did} has no service {algorithm.service_id!r}"
                )
            return ResolvedAlgorithm(
                digest=ddo_digest(ddo.as_wire()),
                label=algorithm.did,
                did=ddo.id,
                serviceId=algorithm.service_id,
                customData=algorithm.custom_data,
            )
        return _raw_algorithm(algorithm)


def _raw_algorithm(algorithm: RawAlgorithm) -> ResolvedAlgorithm:
    if algorithm.file_path is not None:
        try:
            code = algorithm.file_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PlanError(f"cannot read algorithm {algorithm.file}: {exc}") from exc
    else:
        code = algorithm.rawcode or ""
    container = algorithm.container.model_dump(exclude_none=True)
    meta = {
        "rawcode": code,
        "language": algorithm.language or "",
        "version": "0.1",
        "container": {"checksum": "", **container},
    }
    return ResolvedAlgorithm(
        digest=json_digest({"code": code, "container": container}),
        label=algorithm.file or "rawcode",
        meta=meta,
        customData=algorithm.custom_data,
    )


def _common_root(paths: Sequence[Path]) -> Path | None:
    """The folder the files share, so names stay unique when a glob spans subfolders."""
    if len(paths) < 2:
        return None
    return Path(os.path.commonpath([str(p.parent) for p in paths]))
