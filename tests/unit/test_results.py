from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from specrunner.errors import SpecRunnerError
from specrunner.results import file_sha256, result_path, save_stream


def test_outputs_and_logs_have_their_places(tmp_path: Path) -> None:
    assert result_path(tmp_path, "output", "a/b.txt") == tmp_path / "outputs" / "a" / "b.txt"
    # Siblings: an output called "logs" cannot collide with the logs folder.
    assert result_path(tmp_path, "output", "logs") == tmp_path / "outputs" / "logs"
    assert (
        result_path(tmp_path, "algorithmLog", "algorithm.log")
        == tmp_path / "logs" / "algorithm.log"
    )


@pytest.mark.parametrize("name", ["", ".", "../x", "a/../../x", "/etc/passwd", "a\0b"])
def test_names_that_leave_the_folder_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(SpecRunnerError, match="refusing result name"):
        result_path(tmp_path, "output", name)


def test_symlinked_subfolder_cannot_redirect_a_result(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "out" / "outputs").mkdir(parents=True)
    (tmp_path / "out" / "outputs" / "link").symlink_to(outside)
    with pytest.raises(SpecRunnerError):
        result_path(tmp_path / "out", "output", "link/x.txt")


def test_stream_is_hashed_and_a_failure_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "r" / "out.bin"
    size, digest = save_stream([b"ab", b"cd"], target)
    assert (size, digest) == (4, hashlib.sha256(b"abcd").hexdigest())
    assert file_sha256(target) == digest

    def broken() -> Iterator[bytes]:
        yield b"partial"
        raise OSError("connection reset")

    with pytest.raises(OSError, match="connection reset"):
        save_stream(broken(), tmp_path / "r" / "broken.bin")
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["out.bin"]


def test_a_backslash_is_an_ordinary_character(tmp_path: Path) -> None:
    """`..\\evil` is one legal POSIX file name, not a way up."""
    assert result_path(tmp_path, "output", "..\\evil") == tmp_path / "outputs" / "..\\evil"
