from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from specrunner.errors import SpecRunnerError
from specrunner.execute.results import result_path, save_stream
from specrunner.resolve.digests import file_sha256


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


def _tar(path: Path, *members: tuple[str, bytes | None, bytes]) -> Path:
    """A tar with (name, link target or None, content) members."""
    import io
    import tarfile

    with tarfile.open(path, "w") as tar:
        for name, target, content in members:
            info = tarfile.TarInfo(name)
            if target is not None:
                info.type, info.linkname = tarfile.SYMTYPE, target.decode()
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return path


def test_extract_tar_keeps_regular_files_and_refuses_the_rest(tmp_path: Path) -> None:
    from specrunner.execute.results import extract_tar

    archive = _tar(
        tmp_path / "o.tar",
        ("a/report.json", None, b"{}"),
        ("link", b"/etc/passwd", b""),
        ("../escape", None, b"x"),
    )
    files, refused = extract_tar(archive, tmp_path / "out")
    assert [(name, size) for name, _, size, _ in files] == [("a/report.json", 2)]
    assert (tmp_path / "out" / "outputs" / "a" / "report.json").read_bytes() == b"{}"
    assert len(refused) == 2 and "not a regular file" in refused[0]
    assert not (tmp_path / "escape").exists()


def test_extract_tar_refuses_compressed_archives(tmp_path: Path) -> None:
    import gzip

    from specrunner.execute.results import extract_tar

    plain = _tar(tmp_path / "o.tar", ("big", None, b"0" * 100_000))
    packed = tmp_path / "o.tar.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    with pytest.raises(SpecRunnerError, match="not a readable tar"):
        extract_tar(packed, tmp_path / "out")
