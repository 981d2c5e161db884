"""Spec models, durations, the spec digest, and the packaged JSON Schemas."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pydantic
import pytest
from jsonschema import Draft202012Validator

from specrunner.schema_files import JOB_SCHEMA, LOCK_SCHEMA, load_schema
from specrunner.spec import (
    EnvironmentSpec,
    LocalDataset,
    RawAlgorithm,
    Source,
    Spec,
    parse_duration,
)

DID = "did:op:" + "ab" * 32
MANIFEST: dict[str, Any] = {
    "apiVersion": "specrunner/v1",
    "kind": "ComputeJob",
    "metadata": {"name": "job", "labels": {"team": "a"}},
    "datasets": [{"did": DID, "serviceId": "compute"}, {"path": "data.csv"}],
    "algorithm": {
        "rawcode": "print(1)",
        "container": {"entrypoint": "python3 $ALGO", "image": "python", "tag": "3.11"},
        "customData": {"n": 1},
    },
    "policy": {"timeout": "90s"},
}


def spec(**changes: Any) -> Spec:
    data = copy.deepcopy(MANIFEST)
    data.update(changes)
    return Spec.model_validate(data)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("10m", 600), ("2h", 7200), ("1h30m", 5400), ("1h0m5s", 3605), (600, 600)],
)
def test_durations(text: object, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "1d", "0s", 0, -5, True, "m", "10 minutes", 1.5, None])
def test_bad_durations_name_the_accepted_forms(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_spec_fields_and_defaults() -> None:
    loaded = spec()
    assert loaded.name == "job"
    assert loaded.policy.timeout == 90 and loaded.policy.retries == 0
    assert loaded.outputs.dir == "results/job"  # the default follows the name
    assert loaded.environment == EnvironmentSpec()
    assert isinstance(loaded.datasets[1], LocalDataset)
    assert isinstance(loaded.algorithm, RawAlgorithm)
    assert loaded.algorithm.custom_data == {"n": 1}


def test_specs_are_frozen_and_forbid_unknown_fields() -> None:
    loaded = spec()
    with pytest.raises(pydantic.ValidationError):
        loaded.kind = "Other"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        spec(extra="x")
    with pytest.raises(pydantic.ValidationError):
        spec(metadata={"name": "a/b"})


def test_digest_ignores_formatting_location_and_equivalent_durations() -> None:
    base = spec()
    same = spec(policy={"timeout": "1m30s"}, outputs={"dir": "results/job"})
    located = base.model_copy(update={"source": Source(file="x.yaml", document=2, line=9)})
    with_files = spec(datasets=[MANIFEST["datasets"][0], {"path": "data.csv", "files": ["/abs"]}])
    assert base.spec_digest().startswith("sha256:") and len(base.spec_digest()) == 71
    assert base.spec_digest() == same.spec_digest() == located.spec_digest()
    assert base.spec_digest() == with_files.spec_digest()


@pytest.mark.parametrize(
    "change",
    [
        {"policy": {"timeout": "91s"}},
        {"metadata": {"name": "job", "labels": {"team": "b"}}},
        {"datasets": [{"did": DID, "serviceId": "other"}, {"path": "data.csv"}]},
        {"outputs": {"dir": "elsewhere"}},
    ],
)
def test_digest_changes_with_what_the_spec_asks_for(change: dict[str, Any]) -> None:
    assert spec(**change).spec_digest() != spec().spec_digest()


def test_model_invariants_back_up_the_schema() -> None:
    container = {"entrypoint": "x", "image": "y", "tag": "z"}
    with pytest.raises(pydantic.ValidationError, match="exactly one of rawcode or file"):
        RawAlgorithm.model_validate({"rawcode": "a", "file": "b", "container": container})
    with pytest.raises(pydantic.ValidationError, match="cannot be combined"):
        EnvironmentSpec.model_validate({"id": "env", "minCpu": 1})
    with pytest.raises(pydantic.ValidationError):
        spec(wallet={"privateKey": "0x" + "11" * 32})
    assert spec(wallet={"privateKey": "${env:MY_KEY}"}).wallet.env_var == "MY_KEY"  # type: ignore[union-attr]


def test_packaged_schemas_are_valid_2020_12() -> None:
    for name in (JOB_SCHEMA, LOCK_SCHEMA):
        schema = load_schema(name)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)


def test_schema_files_are_the_top_level_ones() -> None:
    top = Path(__file__).parents[2] / "schemas"
    for name in (JOB_SCHEMA, LOCK_SCHEMA):
        assert (top / name).read_text(encoding="utf-8").startswith("{")
        assert load_schema(name) == __import__("json").loads((top / name).read_text())


def test_job_schema_accepts_the_model_manifest() -> None:
    assert list(Draft202012Validator(load_schema(JOB_SCHEMA)).iter_errors(MANIFEST)) == []


LOCK: dict[str, Any] = {
    "version": 1,
    "serial": 12,
    "lineage": "5b0c",
    "jobs": {
        "word-count": {
            "specDigest": "sha256:" + "0" * 64,
            "phase": "finished",
            "dialect": "provider-v2",
            "provider": "http://127.0.0.1:8030",
            "chainId": 8996,
            "environment": "env-1",
            "jobId": "abc",
            "owner": "0x" + "1" * 40,
            "orderTxIds": ["0x01"],
            "status": 70,
            "statusText": "Job finished",
            "exitCode": 0,
            "dateCreated": "2024-01-01T00:00:00Z",
            "dateFinished": "2024-01-01T00:01:00Z",
            "fingerprints": {"datasets[0]": "sha256:" + "1" * 64},
            "inputs": [
                {
                    "did": DID,
                    "serviceId": "compute",
                    "ddoDigest": "sha256:" + "2" * 64,
                    "transferTxId": "0x02",
                }
            ],
            "algorithm": {"did": None, "digest": "sha256:" + "3" * 64},
            "results": [
                {
                    "index": 0,
                    "type": "output",
                    "filename": "out.json",
                    "filesize": 12,
                    "sha256": "4" * 64,
                    "path": "results/word-count/out.json",
                }
            ],
        }
    },
}


def test_lock_schema_accepts_the_design_shape_with_crash_safety_fields() -> None:
    assert list(Draft202012Validator(load_schema(LOCK_SCHEMA)).iter_errors(LOCK)) == []


@pytest.mark.parametrize(
    ("where", "key", "value"),
    [
        ((), "extra", 1),
        (("jobs", "word-count"), "surprise", 1),
        (("jobs", "word-count"), "phase", "running"),
        (("jobs", "word-count"), "dialect", "provider-v3"),
        (("jobs", "word-count"), "specDigest", "md5:abc"),
    ],
)
def test_lock_schema_rejects_unknown_keys_and_values(
    where: tuple[str, ...], key: str, value: object
) -> None:
    lock = copy.deepcopy(LOCK)
    target = lock
    for part in where:
        target = target[part]
    target[key] = value
    assert list(Draft202012Validator(load_schema(LOCK_SCHEMA)).iter_errors(lock))


def test_ocean_node_fields_are_parsed() -> None:
    from pathlib import Path

    from specrunner.manifest.loader import load_manifests

    corpus = Path(__file__).parent.parent / "data" / "manifests" / "valid" / "ocean-node.yaml"
    (spec,) = load_manifests([corpus], environ={})
    assert [(r.id, r.amount) for r in spec.environment.resources] == [
        ("cpu", 2),
        ("ram", 4),
        ("nvidia-a100", 1),
    ]
    assert (spec.policy.max_job_duration, spec.policy.queue_max_wait_time) == (1200, 300)
    assert spec.environment.free is True
