"""hypothesis on `load_lock` (issue 5, Fuzzing): any file gives a Lock or a LockfileError
that names the file, never another exception; the file is never changed by reading it."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specrunner.errors import LockfileError
from specrunner.lockfile import Lock, LockedAlgorithm, LockedJob, LockedResult, dump_lock, load_lock

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALID = Lock(
    serial=3,
    jobs={
        "one": LockedJob(
            specDigest="sha256:" + "a" * 64,
            provider="http://127.0.0.1:8030",
            chainId=8996,
            environment="env",
            owner="0x" + "1" * 40,
            phase="finished",
            jobId="j" * 32,
            algorithm=LockedAlgorithm(digest="sha256:" + "b" * 64),
            results=[
                LockedResult(
                    index=0, type="output", filename="o", filesize=1, sha256="c" * 64, path="r/o"
                )
            ],
        )
    },
)
VALID_DATA: dict[str, Any] = json.loads(dump_lock(VALID))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _load(content: bytes) -> Lock | None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "specrunner.lock.json"
        path.write_bytes(content)
        try:
            lock = load_lock(path)
        except LockfileError as exc:
            assert str(path) in str(exc)
            assert "\n" not in str(exc)
            lock = None
        assert path.read_bytes() == content  # reading never rewrites it
        return lock


@FUZZ
@given(content=st.binary(max_size=300))
def test_any_bytes(content: bytes) -> None:
    _load(content)


@FUZZ
@given(value=json_values)
def test_any_json_document(value: Any) -> None:
    _load(json.dumps(value).encode())


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


PATHS = _paths(VALID_DATA)[1:]


@FUZZ
@given(data=st.data(), path=st.sampled_from(PATHS), replacement=json_values)
def test_a_valid_lock_with_one_value_replaced(
    data: st.DataObject, path: tuple[Any, ...], replacement: Any
) -> None:
    mutated = json.loads(json.dumps(VALID_DATA))
    target = mutated
    for part in path[:-1]:
        target = target[part]
    if data.draw(st.booleans(), label="delete"):
        del target[path[-1]]
    else:
        target[path[-1]] = replacement
    lock = _load(json.dumps(mutated).encode())
    if lock is not None:
        assert json.loads(dump_lock(lock)) is not None


@FUZZ
@given(data=st.data())
def test_a_valid_lock_cut_or_corrupted_anywhere(data: st.DataObject) -> None:
    text = dump_lock(VALID)
    cut = data.draw(st.integers(0, len(text)), label="cut")
    junk = data.draw(st.binary(max_size=8), label="junk")
    _load(text[:cut] + junk + text[cut + len(junk) :])


def test_deep_nesting_and_huge_numbers_are_errors_not_crashes() -> None:
    for content in (
        b"[" * 100_000 + b"]" * 100_000,
        b'{"version": 1, "jobs": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_001,
        b'{"version": 1, "serial": ' + b"9" * 10_000 + b', "jobs": {}}',
        b'{"version": 1e999, "jobs": {}}',
        b'{"version": NaN, "jobs": {}}',
        b'{"version": 1, "serial": 1, "lineage": "\\ud800", "jobs": {}}',
    ):
        assert _load(content) is None or content.startswith(b'{"version": 1, "serial": 1')


def test_the_valid_lock_loads() -> None:
    assert _load(dump_lock(VALID)) == VALID
