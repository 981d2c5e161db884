"""`OceanCompute`: the seed's seven compute methods, over any Ocean Provider v2.

Signatures match ocean.py's `OceanCompute`; what differs is documented per method:
additional datasets and algorithm custom data really reach the provider, results come as
signed URLs (plus `download`/`download_to`), and every failure is a `ProviderError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from specrunner.errors import ProviderError
from specrunner.ocean import node
from specrunner.ocean.models import (
    DDO,
    AlgorithmMetadata,
    ComputeEnvironment,
    ComputeInput,
    JobStatus,
    Service,
)
from specrunner.ocean.provider import DataServiceProvider, Download, shared_provider


def build_start_payload(
    dataset: ComputeInput,
    environment: str,
    algorithm: ComputeInput | None,
    algorithm_meta: AlgorithmMetadata | None,
    algorithm_custom_data: dict[str, Any] | None,
    additional_datasets: Sequence[ComputeInput],
) -> dict[str, Any]:
    """The unsigned compute-start body (§4.6); ValueError unless exactly one algorithm form.

    The provider client adds `consumerAddress`, `nonce` and `signature`.
    """
    if (algorithm is None) == (algorithm_meta is None):
        raise ValueError("give exactly one of algorithm (published) or algorithm_meta (raw)")
    if algorithm is not None:
        algo = algorithm.as_dictionary()
        if algorithm.userdata:
            # The Provider's StageAlgoSerializer reads `algouserdata`; ocean.py's
            # `algorithm.userdata` never reaches the algorithm (§9.2). Send both.
            algo["algouserdata"] = algorithm.userdata
    else:
        assert algorithm_meta is not None
        algo = algorithm_meta.as_dictionary()
    if algorithm_custom_data is not None:
        # The Provider forwards `algorithm.algocustomdata` for raw (next to `meta`) and
        # published algorithms; the engine writes /data/inputs/algoCustomData.json (§9.2).
        algo["algocustomdata"] = algorithm_custom_data
    return {
        "dataset": dataset.as_dictionary(),
        "environment": environment,
        "algorithm": algo,
        # The Provider reads `additionalDatasets`; ocean.py sends `additionalInputs: []`
        # and so silently drops every extra dataset (§9.1).
        "additionalDatasets": [item.as_dictionary() for item in additional_datasets],
    }


def environments_for_chain(payload: Any, chain_id: int) -> list[dict[str, Any]]:
    """Normalised environments of `chain_id` from a computeEnvironments answer (§4.4).

    Accepts Provider v2's dict keyed by chain id (a missing key gives `[]`) and a flat
    list (ocean-node, §10.2; entries whose `allowedChainId` excludes the chain are
    dropped). Each environment carries at least the seed's keys: `id`, `feeToken`,
    `priceMin` (a float; None when the provider sends none), `consumerAddress`, `lastSeen`,
    `namespace` (the id when absent), `status` ("ok" once seen, else "unknown").
    """
    if isinstance(payload, dict):
        raw = payload.get(str(chain_id), [])
    elif isinstance(payload, list):
        raw = [env for env in payload if _allows_chain(env, chain_id)]
    else:
        raise ProviderError("computeEnvironments answered neither an object nor a list")
    if not isinstance(raw, list):
        raise ProviderError(f"computeEnvironments for chain {chain_id} is not a list")
    return [
        _environment(
            node.normalize_environment(env, chain_id) if node.is_node_environment(env) else env
        )
        for env in raw
        if isinstance(env, dict)
    ]


def is_free(environment: dict[str, Any]) -> bool:
    """`priceMin` 0 (float-parsed, §5.4); without a priceMin, an ocean-node `free` block."""
    price = environment.get("priceMin")
    if price is not None:
        return float(price) == 0
    return bool(environment.get("free"))


def _allows_chain(env: Any, chain_id: int) -> bool:
    allowed = env.get("allowedChainId") if isinstance(env, dict) else None
    return not isinstance(allowed, list) or str(chain_id) in {str(c) for c in allowed}


def _environment(raw: dict[str, Any]) -> dict[str, Any]:
    try:
        env = ComputeEnvironment.model_validate(raw)
    except ValidationError as exc:
        raise ProviderError(
            f"computeEnvironments answered a malformed environment: {exc.errors()[0]['msg']}",
            payload=raw,
            endpoint="computeEnvironments",
        ) from exc
    out = env.model_dump(mode="json")
    if "priceMin" not in raw:
        out["priceMin"] = None
    out["namespace"] = env.namespace or env.id
    out["status"] = env.status or ("ok" if env.lastSeen else "unknown")
    return out


def job_dict(job: JobStatus) -> dict[str, Any]:
    """A job as `status`/`stop` return it: every field, results a list, and `ok`."""
    return {**job.model_dump(mode="json"), "ok": job.ok}


def result_entries(job: JobStatus) -> list[dict[str, Any]]:
    """The job's results, each with its `index` (its position when the provider sends
    none, §7), `filename`, `filesize` and `type`."""
    entries = []
    for position, result in enumerate(job.results):
        entry = result.model_dump(mode="json", exclude_none=True)
        entry["index"] = position if result.index is None else result.index
        entries.append(entry)
    return entries


def _same_job(reported: str, wanted: str) -> bool:
    """ocean-node answers `<cluster>-<id>` on start but the bare id on status (§10.3)."""
    return reported == wanted or wanted.endswith("-" + reported) or reported.endswith("-" + wanted)


class OceanCompute:
    """Start, follow and fetch Ocean compute jobs (the seed's API).

    `config` is accepted for ocean.py compatibility (its config dict); its keys `timeout`
    (seconds) and `retries` tune the client built when `data_provider` is not given,
    otherwise the process-wide `shared_provider()` is used. Wallets are specrunner
    `Signer`s or eth-account `LocalAccount`s. Every failure raises `ProviderError`.
    """

    def __init__(
        self, config: dict[str, Any] | None = None, data_provider: DataServiceProvider | None = None
    ) -> None:
        self.config: dict[str, Any] = dict(config or {})
        if data_provider is None and ("timeout" in self.config or "retries" in self.config):
            data_provider = DataServiceProvider(
                timeout=float(self.config.get("timeout", 30.0)),
                retries=int(self.config.get("retries", 3)),
            )
        self.data_provider = data_provider or shared_provider()

    def start(
        self,
        consumer_wallet: Any,
        dataset: ComputeInput,
        compute_environment: str,
        algorithm: ComputeInput | None = None,
        algorithm_meta: AlgorithmMetadata | None = None,
        algorithm_algocustomdata: dict[str, Any] | None = None,
        additional_datasets: Sequence[ComputeInput] = (),
    ) -> str:
        """Start a job at the dataset's provider (`dataset.service.serviceEndpoint`); its id.

        Give exactly one of `algorithm` (published, ordered: `transfer_tx_id` set) or
        `algorithm_meta` (raw; the dataset must allow raw algorithms) — else ValueError.
        `algorithm_algocustomdata` reaches the algorithm as
        /data/inputs/algoCustomData.json; `additional_datasets` are sent as
        `additionalDatasets`. ProviderError (payload `{"dataset.serviceId":
        "main_service_compute"}`) when the dataset's service is not a compute service.
        """
        service = dataset.service
        if service.type != "compute":
            raise ProviderError(
                f"service {service.id} of {dataset.did} is of type {service.type!r}, "
                "not a compute service",
                payload={"dataset.serviceId": "main_service_compute"},
                endpoint="computeStart",
            )
        payload = build_start_payload(
            dataset,
            compute_environment,
            algorithm,
            algorithm_meta,
            algorithm_algocustomdata,
            additional_datasets,
        )
        endpoint = _endpoint(service)
        return self.data_provider.start_compute(endpoint, consumer_wallet, payload).jobId

    def status(self, ddo: DDO, service: Service, job_id: str, wallet: Any) -> dict[str, Any]:
        """The job as its provider reports it: `ok` (status not 31/32, §6.1), `status`,
        `statusText`, `dateCreated`, `dateFinished` (None until finished), `results` (always
        a list), … ProviderError when the job is unknown or belongs to another wallet."""
        return job_dict(self._job(service, job_id, wallet))

    def stop(self, ddo: DDO, service: Service, job_id: str, wallet: Any) -> dict[str, Any]:
        """Ask the provider to stop the job (signed; §4.8); same shape as `status`, taken
        right after the request, so usually not yet finished. A finished job is unchanged."""
        jobs = self.data_provider.stop_compute(_endpoint(service), wallet, job_id, ddo.did)
        return job_dict(_pick(jobs, job_id, _address(wallet)))

    def result(
        self, ddo: DDO, service: Service, job_id: str, index: int, wallet: Any
    ) -> dict[str, Any]:
        """Result `index` of a job, as `{"did", "urls", "results", "logs"}`:

        * `did`: the DID of `ddo` (the dataset the job ran on);
        * `urls`: one signed computeResult URL for that index — fetch it with
          `download(url)` / `download_to(url, path)`. It works once, and only before the
          wallet's next signed call at that provider (the provider consumes its nonce);
        * `results`: the matching entry (`index`, `filename`, `filesize`, `type`);
        * `logs`: every log entry of the job (type not "output"), unsigned — fetch them
          with `compute_job_result_logs(..., log_type=entry["type"])`.

        ProviderError when the job is unknown, not the wallet's, or has no such result.
        """
        entries = result_entries(self._job(service, job_id, wallet))
        chosen = [entry for entry in entries if entry["index"] == index]
        if not chosen:
            raise ProviderError(
                f"job {job_id} has no result {index}; its results: "
                + (", ".join(f"{e['index']}={e['filename']}" for e in entries) or "none yet"),
                endpoint="computeResult",
            )
        return self._signed_results(ddo, service, job_id, wallet, chosen, entries)

    def compute_job_result_logs(
        self, ddo: DDO, service: Service, job_id: str, wallet: Any, log_type: str = "output"
    ) -> dict[str, Any]:
        """Every result of `log_type` ("output", "algorithmLog", "configrationLog" [sic],
        "publishLog", …; §4.11) as `{"did", "urls", "results", "logs"}` shaped like
        `result`, with `urls[i]` the signed URL of `results[i]`. Only matching results are
        signed; their nonces increase, so fetch the URLs in list order. `[]` when none."""
        entries = result_entries(self._job(service, job_id, wallet))
        chosen = [entry for entry in entries if entry.get("type") == log_type]
        return self._signed_results(ddo, service, job_id, wallet, chosen, entries)

    def download(self, url: str) -> bytes:
        """The content behind a URL from `result`/`compute_job_result_logs`."""
        return self.data_provider.download(url)

    def download_to(self, url: str, path: Path | str) -> Download:
        """Stream such a URL into `path` (written atomically); its size and sha256."""
        return self.data_provider.download_to(url, path)

    def get_c2d_environments(self, service_endpoint: str, chain_id: int) -> list[dict[str, Any]]:
        """The provider's environments for `chain_id` (see `environments_for_chain`)."""
        payload = self.data_provider.compute_environments(service_endpoint, chain_id)
        return environments_for_chain(payload, chain_id)

    def get_free_c2d_environment(
        self, service_endpoint: str, chain_id: int
    ) -> list[dict[str, Any]]:
        """The free environments (`priceMin` 0); `[]` when the provider has none."""
        return [
            env for env in self.get_c2d_environments(service_endpoint, chain_id) if is_free(env)
        ]

    def _job(self, service: Service, job_id: str, wallet: Any) -> JobStatus:
        address = _address(wallet)
        jobs = self.data_provider.compute_status(_endpoint(service), address, job_id)
        return _pick(jobs, job_id, address)

    def _signed_results(
        self,
        ddo: DDO,
        service: Service,
        job_id: str,
        wallet: Any,
        chosen: list[dict[str, Any]],
        entries: list[dict[str, Any]],
    ) -> dict[str, Any]:
        indexes = [int(entry["index"]) for entry in chosen]
        urls = self.data_provider.compute_result_urls(_endpoint(service), wallet, job_id, indexes)
        logs = [entry for entry in entries if entry.get("type") != "output"]
        return {"did": ddo.did, "urls": urls, "results": chosen, "logs": logs}


def _pick(jobs: list[JobStatus], job_id: str, address: str) -> JobStatus:
    """The job among a status answer; a provider answers `[]` for an unknown job and for
    another owner's (§4.7, where ocean.py raises IndexError)."""
    for job in jobs:
        if _same_job(job.jobId, job_id):
            return job
    raise ProviderError(
        f"job {job_id} not found for {address}: the provider knows no such job of this wallet",
        payload=[job.model_dump(mode="json") for job in jobs],
        endpoint="computeStatus",
    )


def _endpoint(service: Service) -> str:
    if not service.serviceEndpoint:
        raise ProviderError(f"service {service.id} has no serviceEndpoint (provider URL)")
    return service.serviceEndpoint


def _address(wallet: Any) -> str:
    address = getattr(wallet, "address", None)
    if not isinstance(address, str):
        raise TypeError("wallet must be a specrunner Signer or an eth-account LocalAccount")
    return address
