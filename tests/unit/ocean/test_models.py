"""Wire models against what real providers send (reference §4.4, §5, §6.2)."""

from __future__ import annotations

import pytest

from specrunner.ocean.models import (
    DDO,
    AlgorithmMetadata,
    ComputeEnvironment,
    ComputeInput,
    Container,
    JobStatus,
)

DID = "did:op:" + "ab" * 32


def _ddo() -> DDO:
    return DDO.model_validate(
        {
            "@context": ["https://w3id.org/did/v1"],
            "id": DID,
            "version": "4.1.0",
            "chainId": 8996,
            "nftAddress": "0x1",
            "metadata": {"type": "dataset", "name": "d", "extra": 1},
            "services": [
                {
                    "id": "1",
                    "type": "compute",
                    "serviceEndpoint": "http://p",
                    "files": "0xabc",
                    "timeout": 3600,
                    "compute": {"allowRawAlgorithm": False, "publisherTrustedAlgorithms": []},
                }
            ],
            "nft": {"owner": "0xowner", "state": 0},
            "stats": {"orders": 1},
        }
    )


def test_ddo_keeps_unknown_fields_and_finds_services() -> None:
    ddo = _ddo()
    assert ddo.did == DID and ddo.chainId == 8996
    service = ddo.service("1")
    assert service is not None and service.compute is not None
    assert service.compute.allowRawAlgorithm is False
    assert ddo.service("9") is None
    wire = ddo.as_wire()
    assert wire["@context"] == ["https://w3id.org/did/v1"]
    assert wire["stats"] == {"orders": 1}


def test_compute_input_wire_form() -> None:
    ddo = _ddo()
    assert ComputeInput(ddo, ddo.services[0]).as_dictionary() == {
        "documentId": DID,
        "serviceId": "1",
    }
    full = ComputeInput(ddo, ddo.services[0], "0xtx", {"a": 1}).as_dictionary()
    assert full == {
        "documentId": DID,
        "serviceId": "1",
        "transferTxId": "0xtx",
        "userdata": {"a": 1},
    }


def test_algorithm_metadata_sends_meta_without_format() -> None:
    meta = AlgorithmMetadata(
        rawcode="x",
        language="python",
        format="docker-image",
        version="0.1",
        container=Container(entrypoint="python $ALGO", image="img", tag="t", checksum="sha256:1"),
    ).as_dictionary()
    assert set(meta) == {"meta"}
    assert "format" not in meta["meta"] and "consumerParameters" not in meta["meta"]
    assert meta["meta"]["container"] == {
        "entrypoint": "python $ALGO",
        "image": "img",
        "tag": "t",
        "checksum": "sha256:1",
    }


def test_environment_numbers_may_be_strings() -> None:
    env = ComputeEnvironment.model_validate(
        {"id": "e", "priceMin": "0", "maxJobDuration": "60", "ramGB": "1.5", "lastSeen": 17.5}
    )
    assert env.priceMin == 0 and env.is_free
    assert env.maxJobDuration == 60 and env.ramGB == 1.5 and env.lastSeen == "17.5"
    assert not ComputeEnvironment.model_validate({"id": "e", "priceMin": "0.1"}).is_free


@pytest.mark.parametrize("results", ["", None, []])
def test_job_results_empty_string_is_an_empty_list(results: object) -> None:
    job = JobStatus.model_validate({"jobId": "j", "status": 1, "results": results})
    assert job.results == [] and not job.finished


@pytest.mark.parametrize(("status", "ok"), [(1, True), (70, True), (31, False), (32, False)])
def test_job_ok_is_ocean_pys_rule(status: int, ok: bool) -> None:
    assert JobStatus(jobId="j", status=status).ok is ok


def test_job_keeps_extra_fields_and_parses_results() -> None:
    job = JobStatus.model_validate(
        {
            "jobId": "j",
            "status": 70,
            "dateFinished": "1700000123.4",
            "results": [{"filename": "a", "filesize": 3, "type": "output"}],
            "expireTimestamp": 5,
        }
    )
    assert job.finished and job.results[0].filename == "a"
    assert job.model_dump()["expireTimestamp"] == 5
