"""Every `OceanCompute` method over HTTP against the real embedded provider.

Assets are published with the `specrunner publish` CLI; orders come from
`initializeCompute` (`validOrder`), as a Provider v2 client would get them.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from specrunner.errors import ProviderError
from specrunner.ocean import (
    DDO,
    AlgorithmMetadata,
    Aquarius,
    ComputeInput,
    Container,
    DataServiceProvider,
    OceanCompute,
    Signer,
)

REPO = Path(__file__).resolve().parents[2]

# Writes what it saw: the inputs of every DID, and the custom data (reference Appendix A).
SHOW_INPUTS = """\
import json, os
dids = json.loads(os.environ["DIDS"])
seen = {"dids": dids, "inputs": {}, "custom": None}
for did in dids:
    seen["inputs"][did] = open(f"/data/inputs/{did}/0").read()
custom = "/data/inputs/algoCustomData.json"
if os.path.exists(custom):
    seen["custom"] = json.load(open(custom))
with open("/data/outputs/seen.json", "w") as out:
    json.dump(seen, out, sort_keys=True)
print("saw", len(dids), "dataset(s)")
"""

# Two outputs derived byte for byte from the input, and a known line on stdout.
UPPERCASE = """\
import json, os
did = json.loads(os.environ["DIDS"])[0]
data = open(f"/data/inputs/{did}/0", "rb").read()
open("/data/outputs/upper.txt", "wb").write(data.upper())
open("/data/outputs/size.txt", "w").write(str(len(data)))
print("uppercased", len(data), "bytes")
"""

SLEEPER = "import time\nprint('sleeping', flush=True)\ntime.sleep(120)\n"

DATA = b"alpha,beta\n1,2\nzeta,\xc3\xa9t\xc3\xa9\n"


def publish(url: str, path: Path, *options: str) -> DDO:
    """`specrunner publish ... --output json`, as a user runs it; the DDO it prints."""
    command = [sys.executable, "-m", "specrunner", "publish", str(path), "--provider", url]
    env = {
        **os.environ,
        "SPECRUNNER_PRIVATE_KEY": "0x" + os.urandom(32).hex(),
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        [*command, *options, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=path.parent,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return DDO.model_validate(json.loads(done.stdout))


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def raw(code: str) -> AlgorithmMetadata:
    return AlgorithmMetadata(
        rawcode=code,
        language="python",
        version="0.1",
        container=Container(
            entrypoint="python3 $ALGO", image="python", tag="3.11", checksum="sha256:" + "0" * 64
        ),
    )


class Session:
    """One consumer driving one provider through the SDK."""

    def __init__(self, url: str, wallet: Signer) -> None:
        self.url = url
        self.wallet = wallet
        self.dsp = DataServiceProvider()
        self.ocean = OceanCompute(data_provider=self.dsp)
        chain = int(self.dsp.root(url).raw["chainIds"][0])
        self.chain = chain
        self.env = str(self.ocean.get_free_c2d_environment(url, chain)[0]["id"])

    def ordered(
        self, datasets: Sequence[DDO], algorithm: DDO | AlgorithmMetadata
    ) -> tuple[list[ComputeInput], ComputeInput | None]:
        """Inputs with orders from initializeCompute's `validOrder` (reference §4.5)."""
        inputs = [ComputeInput(ddo, ddo.services[0]) for ddo in datasets]
        algo = (
            ComputeInput(algorithm, algorithm.services[0]) if isinstance(algorithm, DDO) else None
        )
        answer = self.dsp.initialize_compute(
            self.url,
            inputs,
            algo or algorithm,  # type: ignore[arg-type]
            self.env,
            int(time.time()) + 3600,
            self.wallet.address,
        )
        for item, quote in zip(inputs, answer["datasets"], strict=True):
            item.transfer_tx_id = quote["validOrder"]
        if algo is not None:
            algo.transfer_tx_id = answer["algorithm"]["validOrder"]
        return inputs, algo

    def start(self, datasets: Sequence[DDO], algorithm: DDO | AlgorithmMetadata, **kw: Any) -> str:
        inputs, algo = self.ordered(datasets, algorithm)
        meta = algorithm if isinstance(algorithm, AlgorithmMetadata) else None
        return self.ocean.start(
            self.wallet,
            inputs[0],
            kw.pop("environment", self.env),
            algorithm=algo,
            algorithm_meta=meta,
            additional_datasets=inputs[1:],
            **kw,
        )

    def wait(self, ddo: DDO, job_id: str, timeout: float = 90) -> dict[str, Any]:
        """Poll status until `dateFinished` is set (reference §6.1), within a deadline."""
        return self.wait_for(ddo, job_id, lambda s: bool(s["dateFinished"]), timeout)

    def wait_for(self, ddo: DDO, job_id: str, done: Any, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status = self.ocean.status(ddo, ddo.services[0], job_id, self.wallet)
            if done(status):
                return status
            assert time.monotonic() < deadline, f"job {job_id} stuck: {status}"
            time.sleep(0.1)


@pytest.fixture
def session(provider_url: str, wallet: Signer) -> Iterator[Session]:
    running = Session(provider_url, wallet)
    yield running
    running.dsp.close()


@pytest.fixture
def dataset(provider_url: str, tmp_path: Path) -> DDO:
    return publish(provider_url, write(tmp_path, "data.csv", DATA), "--allow-raw-algorithm")


def test_environments_carry_the_seed_keys(session: Session) -> None:
    envs = session.ocean.get_c2d_environments(session.url, session.chain)
    assert envs
    for env in envs:
        keys = {"id", "feeToken", "priceMin", "consumerAddress", "lastSeen", "namespace", "status"}
        assert keys <= set(env)
    free = session.ocean.get_free_c2d_environment(session.url, session.chain)
    assert free and all(env["priceMin"] == 0 for env in free)
    assert session.ocean.get_c2d_environments(session.url, session.chain + 1) == []
    assert session.ocean.get_free_c2d_environment(session.url, session.chain + 1) == []


def test_published_dataset_with_published_algorithm(
    session: Session, dataset: DDO, tmp_path: Path
) -> None:
    algo_path = write(tmp_path, "upper.py", UPPERCASE)
    published = publish(session.url, algo_path, "--type", "algorithm")
    aquarius = Aquarius(session.url, session.dsp)
    ddo, algorithm = aquarius.resolve(dataset.id), aquarius.resolve(published.id)
    assert ddo.services[0].type == "compute"
    assert session.dsp.fileinfo(session.url, ddo.id, ddo.services[0].id)[0]["valid"] is True

    job_id = session.start([ddo], algorithm)
    finished = session.wait(ddo, job_id)
    assert (finished["ok"], finished["status"], finished["statusText"]) == (
        True,
        70,
        "Job finished",
    )
    outputs = session.ocean.compute_job_result_logs(ddo, ddo.services[0], job_id, session.wallet)
    assert outputs["did"] == ddo.id
    names = [entry["filename"] for entry in outputs["results"]]
    contents = dict(zip(names, map(session.ocean.download, outputs["urls"]), strict=True))
    assert {name.rsplit("/", 1)[-1]: data for name, data in contents.items()} == {
        "size.txt": str(len(DATA)).encode(),
        "upper.txt": DATA.upper(),
    }
    logs = session.ocean.compute_job_result_logs(
        ddo, ddo.services[0], job_id, session.wallet, "algorithmLog"
    )
    assert len(logs["urls"]) == 1
    assert session.ocean.download(logs["urls"][0]) == f"uppercased {len(DATA)} bytes\n".encode()


def test_result_by_index_downloads_to_a_file_once(
    session: Session, dataset: DDO, tmp_path: Path
) -> None:
    job_id = session.start([dataset], raw(UPPERCASE))
    finished = session.wait(dataset, job_id)
    index = next(r["index"] for r in finished["results"] if r["filename"].endswith("upper.txt"))
    answer = session.ocean.result(dataset, dataset.services[0], job_id, index, session.wallet)
    assert answer["did"] == dataset.id and len(answer["urls"]) == 1
    assert answer["results"][0]["index"] == index
    assert {entry["type"] for entry in answer["logs"]} >= {"algorithmLog"}
    written = session.ocean.download_to(answer["urls"][0], tmp_path / "got" / "upper.txt")
    assert (tmp_path / "got" / "upper.txt").read_bytes() == DATA.upper()
    assert (written.size, written.sha256) == (len(DATA), hashlib.sha256(DATA.upper()).hexdigest())
    with pytest.raises(ProviderError) as reused:  # the URL's nonce is spent
        session.ocean.download(answer["urls"][0])
    assert reused.value.status_code == 400
    with pytest.raises(ProviderError, match="has no result 99"):
        session.ocean.result(dataset, dataset.services[0], job_id, 99, session.wallet)


def test_two_datasets_and_custom_data_reach_a_raw_algorithm(
    session: Session, dataset: DDO, tmp_path: Path
) -> None:
    second = publish(session.url, write(tmp_path, "more.csv", "second\n"), "--allow-raw-algorithm")
    custom = {"threshold": 0.5, "label": "ünïcode", "nested": {"list": [1, 2]}}
    job_id = session.start([dataset, second], raw(SHOW_INPUTS), algorithm_algocustomdata=custom)
    assert session.wait(dataset, job_id)["status"] == 70
    seen = _seen(session, dataset, job_id)
    short = [ddo.id.removeprefix("did:op:") for ddo in (dataset, second)]
    assert seen["dids"] == short
    assert seen["inputs"] == {short[0]: DATA.decode(), short[1]: "second\n"}
    assert seen["custom"] == custom


def test_custom_data_reaches_a_published_algorithm(
    session: Session, dataset: DDO, tmp_path: Path
) -> None:
    algorithm = publish(session.url, write(tmp_path, "show.py", SHOW_INPUTS), "--type", "algorithm")
    job_id = session.start([dataset], algorithm, algorithm_algocustomdata={"k": [1, "two"]})
    assert session.wait(dataset, job_id)["status"] == 70
    assert _seen(session, dataset, job_id)["custom"] == {"k": [1, "two"]}


def test_stop_a_long_running_job(session: Session, dataset: DDO) -> None:
    job_id = session.start([dataset], raw(SLEEPER))
    session.wait_for(dataset, job_id, lambda s: s["status"] == 40)
    stopped = session.ocean.stop(dataset, dataset.services[0], job_id, session.wallet)
    assert stopped["ok"] is True and stopped["jobId"] == job_id and stopped["stopreq"] == 1
    finished = session.wait(dataset, job_id, timeout=30)
    assert (finished["status"], finished["stopreq"]) == (70, 1)
    logs = session.ocean.compute_job_result_logs(
        dataset, dataset.services[0], job_id, session.wallet, "algorithmLog"
    )
    assert b"sleeping" in session.ocean.download(logs["urls"][0])


def test_another_wallet_cannot_see_stop_or_fetch_the_job(
    session: Session, dataset: DDO, other_wallet: Signer
) -> None:
    job_id = session.start([dataset], raw(UPPERCASE))
    session.wait(dataset, job_id)
    service, ocean = dataset.services[0], session.ocean
    with pytest.raises(ProviderError, match="not found"):
        ocean.status(dataset, service, job_id, other_wallet)
    with pytest.raises(ProviderError, match="not found"):
        ocean.stop(dataset, service, job_id, other_wallet)
    with pytest.raises(ProviderError, match="not found"):
        ocean.result(dataset, service, job_id, 0, other_wallet)
    # Past our client's own check, the provider refuses the other wallet too (§4.10).
    url = session.dsp.compute_result_urls(session.url, other_wallet, job_id, [0])[0]
    with pytest.raises(ProviderError, match="mismatch") as caught:
        ocean.download(url)
    assert caught.value.status_code == 404
    assert ocean.status(dataset, service, job_id, session.wallet)["stopreq"] == 0


def test_raw_algorithm_refused_when_the_dataset_forbids_it(
    session: Session, tmp_path: Path
) -> None:
    strict = publish(session.url, write(tmp_path, "strict.csv", "a\n"))
    with pytest.raises(ProviderError, match="no_raw_algo_allowed") as caught:
        session.start([strict], raw(UPPERCASE))
    assert caught.value.status_code == 400
    assert caught.value.payload == {"error": {"dataset": "no_raw_algo_allowed"}}


def test_untrusted_published_algorithm_is_refused(session: Session, tmp_path: Path) -> None:
    trusted = publish(session.url, write(tmp_path, "t.py", UPPERCASE), "--type", "algorithm")
    other = publish(session.url, write(tmp_path, "o.py", UPPERCASE), "--type", "algorithm")
    guarded = publish(
        session.url, write(tmp_path, "g.csv", "a\n"), "--trusted-algorithm", trusted.id
    )
    with pytest.raises(ProviderError, match="not_trusted_algo"):
        session.start([guarded], other)


def test_unknown_environment_is_refused(session: Session, dataset: DDO) -> None:
    with pytest.raises(ProviderError, match="Environment invalid or does not exist") as caught:
        session.start([dataset], raw(UPPERCASE), environment="no-such-env")
    assert caught.value.status_code == 400


def test_unknown_job_and_unknown_asset(session: Session, dataset: DDO) -> None:
    with pytest.raises(ProviderError, match="not found"):
        session.ocean.status(dataset, dataset.services[0], "0" * 32, session.wallet)
    with pytest.raises(ProviderError, match="not found") as caught:
        Aquarius(session.url, session.dsp).resolve("did:op:" + "0" * 64)
    assert caught.value.status_code == 404


def _seen(session: Session, ddo: DDO, job_id: str) -> dict[str, Any]:
    outputs = session.ocean.compute_job_result_logs(ddo, ddo.services[0], job_id, session.wallet)
    [url] = outputs["urls"]
    return dict(json.loads(session.ocean.download(url)))
