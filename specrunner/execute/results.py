"""Result files on disk: safe paths under the job's folder, streamed, hashed, atomic.

A result's name comes from the provider, which we do not trust: it can never place a
file outside the job's output folder. A download that fails leaves no partial file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from specrunner.atomic import atomic_writer
from specrunner.errors import SpecRunnerError
from specrunner.ocean.protocol import OCEAN_NODE

OUTPUT_FOLDER = "outputs"  # what the algorithm wrote to /data/outputs
LOG_FOLDER = "logs"  # algorithm.log and the provider's logs: siblings, so no name collides


def result_path(outputs_dir: Path, result_type: str, filename: str) -> Path:
    """Where a result goes: outputs under `outputs/`, logs under `logs/`, and an archive
    of outputs (ocean-node's outputs.tar) beside them, so no member can overwrite it.

    Names are POSIX paths: `/` separates folders and a backslash is an ordinary character.
    Raises SpecRunnerError for a name that is empty, absolute, or climbs out with `..`.
    """
    name = PurePosixPath(filename)
    parts = [part for part in name.parts if part not in ("", ".")]
    if not parts or name.is_absolute() or any(part == ".." or "\0" in part for part in parts):
        raise SpecRunnerError(f"refusing result name {filename!r}: it would leave {outputs_dir}")
    folders = {"output": OUTPUT_FOLDER, "extracted": OUTPUT_FOLDER, "archive": ""}
    base = outputs_dir / folders.get(result_type, LOG_FOLDER)
    target = base.joinpath(*parts)
    if outputs_dir.resolve() not in target.resolve().parents:
        raise SpecRunnerError(f"refusing result name {filename!r}: it would leave {outputs_dir}")
    return target


def placement(dialect: str, result_type: str, filename: str) -> str:
    """The folder kind of a downloaded result, for `result_path`: ocean-node's `outputs.tar`
    is an archive kept beside `outputs/`; anything else goes by its type. The one rule that
    both `apply` and `specrunner results` follow."""
    return "archive" if dialect == OCEAN_NODE and filename.endswith(".tar") else result_type


def recorded_path(workdir: Path, outputs_dir: Path, recorded: str) -> Path:
    """The file a lock entry recorded (relative to `workdir`), refused unless it lies inside
    the job's `outputs_dir`: the lock is a file users edit by hand."""
    path = workdir / recorded
    base = (workdir / outputs_dir).resolve()
    if PurePosixPath(recorded).is_absolute() or base not in path.resolve().parents:
        raise SpecRunnerError(f"refusing recorded result path {recorded!r}: it is not in {base}")
    return path


def save_stream(chunks: Iterable[bytes], target: Path) -> tuple[int, str]:
    """Write `chunks` to `target` atomically; returns (size, sha256 hex)."""
    digest = hashlib.sha256()
    size = 0
    with atomic_writer(target) as handle:
        for chunk in chunks:
            handle.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def extract_tar(
    archive: Path, outputs_dir: Path
) -> tuple[list[tuple[str, Path, int, str]], list[str]]:
    """Unpack ocean-node's outputs.tar into `outputs_dir/outputs`.

    Plain (uncompressed) tar only, and regular, non-sparse files only, so what lands on disk
    is never more than the archive itself; each name is checked like any result name and
    written atomically. Returns (member name, path, size, sha256) per file, and what was
    refused (links, devices, bad names) with why: one odd member never blocks the rest.
    """
    import tarfile

    extracted: list[tuple[str, Path, int, str]] = []
    refused: list[str] = []
    try:
        with tarfile.open(archive, mode="r:") as tar:
            for member in tar:
                if member.isdir():
                    continue
                if not member.isfile() or member.issparse():
                    refused.append(f"{member.name!r} in {archive.name}: not a regular file")
                    continue
                try:
                    target = result_path(outputs_dir, "output", member.name)
                    extracted.append(_extract_one(tar, member, target))
                except (SpecRunnerError, OSError) as exc:
                    refused.append(f"{member.name!r} in {archive.name}: {exc}")
    except tarfile.TarError as exc:
        raise SpecRunnerError(f"{archive.name} is not a readable tar archive: {exc}") from None
    return extracted, refused


def _extract_one(tar: Any, member: Any, target: Path) -> tuple[str, Path, int, str]:
    source = tar.extractfile(member)
    assert source is not None  # a regular file always has content
    with source:
        size, digest = save_stream(_chunks(source), target)
    return member.name, target, size, digest


def _chunks(handle: Any) -> Iterator[bytes]:
    while chunk := handle.read(1 << 20):
        yield chunk
