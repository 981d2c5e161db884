"""Load job manifests: files → YAML with line marks → checks → frozen `Spec` models.

Every problem in every file is collected before anything is raised, so one run of
`specrunner validate` shows them all, each at the line of the offending key or value:

1. find files (a folder means every *.yaml / *.yml under it, sorted);
2. parse YAML keeping marks (`marked_yaml`); scan the raw text for literal private keys;
3. substitute `${env:NAME}`; validate against `schemas/job.schema.json` (the contract);
4. check the file system (local datasets, algorithm files) and build the pydantic models;
5. check across documents and files (duplicate job names).
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pydantic
from jsonschema import Draft202012Validator

from specrunner.errors import ManifestError
from specrunner.manifest.explain import explain_all
from specrunner.manifest.marked_yaml import Document, Mark, parse_yaml
from specrunner.manifest.problems import JsonPath, Problem, json_path
from specrunner.schema_files import JOB_SCHEMA, inline_refs, load_schema
from specrunner.spec import Spec

# 32 bytes of hex standing alone: not part of a DID (did:op:…) or a digest (sha256:…).
_LITERAL_KEY = re.compile(r"(?<![0-9A-Za-z:])(?:0x)?[0-9a-fA-F]{64}(?![0-9A-Za-z])")
_ENV_REFERENCE = re.compile(r"\$\{env:([^}]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_GLOB_CHARS = re.compile(r"[*?\[]")
_NOT_SUBSTITUTED: JsonPath = ("wallet", "privateKey")  # the wallet reads it; specs never hold it
_RELATIVE_HINT = "relative paths start from the manifest's own folder"


@cache
def _validator() -> Any:
    # The job schema has no recursion, so its local `$ref`s can be inlined once: resolving
    # them per document was a quarter of validation time (bench/bench_validate.py).
    schema = load_schema(JOB_SCHEMA)
    return Draft202012Validator(inline_refs(schema))


@dataclass
class _Run:
    """What one `load_manifests` call has found so far."""

    environ: Mapping[str, str]
    problems: list[Problem] = field(default_factory=list)
    specs: list[Spec] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # job name → "file:line:col"

    def add(
        self, file: str, mark: Mark, path: JsonPath, message: str, hint: str | None = None
    ) -> None:
        self.problems.append(Problem(file, mark.line, mark.col, json_path(path), message, hint))


def load_manifests(
    paths: Sequence[str | os.PathLike[str]], environ: Mapping[str, str] | None = None
) -> list[Spec]:
    """Every ComputeJob in `paths` (files, or folders searched for *.yaml / *.yml), in order.

    `environ` (default `os.environ`) supplies `${env:NAME}` values. Raises ManifestError whose
    `problems` lists every `Problem` found, sorted by file (in the order given), line, column.
    """
    run = _Run(os.environ if environ is None else environ)
    files = find_manifest_files(paths, run.problems)
    # Paths that do not exist come first, then files in the order they were found.
    names = dict.fromkeys([*(problem.file for problem in run.problems), *files])
    order = {name: index for index, name in enumerate(names)}
    for file in files:
        _load_file(run, file)
    if run.problems:
        run.problems.sort(key=lambda p: (order[p.file], p.line, p.col, p.message))
        count = len(run.problems)
        raise ManifestError(
            f"{count} problem{'s' if count != 1 else ''} in manifests", run.problems
        )
    return run.specs


def find_manifest_files(
    paths: Sequence[str | os.PathLike[str]], problems: list[Problem]
) -> list[str]:
    """The files to load, as display names built from the paths given; each once, in order.

    A path that does not exist, or a folder without manifests, is a problem at 1:1.
    """
    found: list[str] = []
    seen: set[str] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            candidates = sorted(_walk_manifests(path))
            if not candidates:
                problems.append(
                    Problem(str(path), 1, 1, "$", "no *.yaml or *.yml files in this folder")
                )
        elif path.exists():
            candidates = [str(path)]
        else:
            problems.append(Problem(str(path), 1, 1, "$", "no such file or folder"))
            candidates = []
        for candidate in candidates:
            if (key := os.path.abspath(candidate)) not in seen:
                seen.add(key)
                found.append(candidate)
    return found


def _walk_manifests(folder: Path) -> Iterator[str]:
    for root, dirs, names in os.walk(folder):
        dirs[:] = [name for name in dirs if not name.startswith(".")]  # .git, .specrunner ...
        for name in names:
            if name.endswith((".yaml", ".yml")) and not name.startswith("."):
                yield os.path.join(root, name)


def _load_file(run: _Run, file: str) -> None:
    text = _read_text(run, file)
    if text is None:
        return
    documents, problems = parse_yaml(text, file)
    run.problems.extend(problems)
    if not documents and not problems:
        run.add(file, Mark(1, 1), (), "empty file: expected a ComputeJob manifest")
        return
    leaks = _check_literal_keys(run, file, text, documents)
    base = Path(os.path.abspath(file)).parent
    for document in documents:
        _load_document(run, file, base, document, leaks.get(document.index, set()))


def _read_text(run: _Run, file: str) -> str | None:
    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        run.add(file, Mark(1, 1), (), f"cannot read: {exc.strerror or exc}")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        run.add(file, Mark(line, col), (), f"not UTF-8 text (byte 0x{data[exc.start]:02x})")
        return None


def _check_literal_keys(
    run: _Run, file: str, text: str, documents: list[Document]
) -> dict[int, set[str]]:
    """A 32-byte hex value anywhere in the file, comments included, would be committed to git.

    Transaction ids (`transferTxId`) have the same shape and are the one allowed exception.
    Returns the JSON paths reported, by document index.
    """
    leaks: dict[int, set[str]] = {}
    for match in _LITERAL_KEY.finditer(text):
        start = match.start()
        line = text.count("\n", 0, start) + 1
        mark = Mark(line, start - (text.rfind("\n", 0, start) + 1) + 1)
        index, path = _path_at(documents, mark)
        if path and path[-1] == "transferTxId":
            continue
        where = "" if path is not None else " in a comment"
        run.add(
            file, mark, path or (), f"this looks like a literal private key{where}",
            "keep keys out of manifests: privateKey: ${env:SPECRUNNER_PRIVATE_KEY};"
            " a hash is written sha256:<hex>",
        )  # fmt: skip
        leaks.setdefault(index, set()).add(json_path(path or ()))
    return leaks


def _path_at(documents: list[Document], mark: Mark) -> tuple[int, JsonPath | None]:
    """The document and path of the value `mark` falls in: a plain 0x… key is an int value
    starting there; anything else long enough to hold one is a string whose span we know.
    A path of None means a comment (document -1)."""
    position = (mark.line, mark.col)
    for document in documents:
        for start, end, path in document.long_strings:
            if (start.line, start.col) <= position < (end.line, end.col):
                return document.index, path
        for path, value_mark in document.values.items():
            if value_mark == mark:
                return document.index, path
    return -1, None


def _load_document(
    run: _Run, file: str, base: Path, document: Document, reported: set[str]
) -> None:
    if not isinstance(document.value, dict):
        kind = "a list" if isinstance(document.value, list) else "a single value"
        message = f"a manifest must be a mapping (apiVersion, kind, metadata, ...), not {kind}"
        run.add(file, document.locate(()), (), message)
        return
    before = len(run.problems)
    value = _substitute(run, file, document, document.value, ())
    _check_name(run, file, document, value)
    errors = list(_validator().iter_errors(value))
    reported = reported | {problem.path for problem in run.problems[before:]}
    run.problems.extend(explain_all(errors, document, file, reported))
    if not reported and len(run.problems) == before:
        _build_spec(run, file, base, document, value)


def _substitute(run: _Run, file: str, document: Document, value: Any, path: JsonPath) -> Any:
    """`value` with every `${env:NAME}` in a string replaced; unset names are problems."""
    if isinstance(value, dict):
        return {
            key: _substitute(run, file, document, item, (*path, key)) for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            _substitute(run, file, document, item, (*path, index))
            for index, item in enumerate(value)
        ]
    if not isinstance(value, str) or "${" not in value or path == _NOT_SUBSTITUTED:
        return value

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in run.environ and _ENV_NAME.fullmatch(name):
            return run.environ[name]
        if _ENV_NAME.fullmatch(name):
            message = f"environment variable {name} is not set"
            hint = f"export {name} before running specrunner; it is never read as empty"
        else:
            message = f"malformed variable reference {match.group(0)!r}"
            hint = "write ${env:NAME} with NAME made of letters, digits and _"
        run.add(file, document.locate(path), path, message, hint)
        return match.group(0)

    return _ENV_REFERENCE.sub(replace, value)


def _check_name(run: _Run, file: str, document: Document, value: dict[str, Any]) -> None:
    """Job names key the lockfile, so they must be unique across every file given."""
    metadata = value.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(name, str):
        return
    mark = document.locate(("metadata", "name"))
    if name in run.names:
        message = f"duplicate job name {name!r}, first defined at {run.names[name]}"
        run.add(
            file,
            mark,
            ("metadata", "name"),
            message,
            "job names must be unique: they key the lockfile",
        )
    else:
        run.names[name] = f"{file}:{mark.line}:{mark.col}"


def _build_spec(
    run: _Run, file: str, base: Path, document: Document, value: dict[str, Any]
) -> None:
    data = dict(value)
    data["source"] = {"file": file, "document": document.index, "line": document.locate(()).line}
    data["datasets"] = [
        _resolve_dataset(run, file, base, document, index, dataset)
        for index, dataset in enumerate(value["datasets"])
    ]
    algorithm = value["algorithm"]
    if "file" in algorithm:
        data["algorithm"] = {
            **algorithm,
            "file_path": _resolve_algorithm(run, file, base, document, algorithm),
        }
    try:
        run.specs.append(Spec.model_validate(data))
    except pydantic.ValidationError as exc:  # the schema should have caught it; still no traceback
        for error in exc.errors():
            path = _known_path(value, error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            run.add(file, document.locate(path), path, message)


def _resolve_dataset(
    run: _Run, file: str, base: Path, document: Document, index: int, dataset: dict[str, Any]
) -> dict[str, Any]:
    if "path" not in dataset:
        return dataset
    written = dataset["path"]
    files = local_files(base, written)
    if not files:
        path: JsonPath = ("datasets", index, "path")
        if _GLOB_CHARS.search(written):
            message = f"no file matches {written!r}"
        elif os.path.isdir(base / written):
            message = f"folder {written!r} holds no files"
        else:
            message = f"local file {written!r} does not exist"
        run.add(file, document.locate(path), path, message, _RELATIVE_HINT)
    return {**dataset, "files": files}


def _resolve_algorithm(
    run: _Run, file: str, base: Path, document: Document, algorithm: dict[str, Any]
) -> Path:
    written = algorithm["file"]
    target = Path(os.path.abspath(base / written))
    if not target.is_file():
        what = "is a folder, not a file" if target.is_dir() else "does not exist"
        path: JsonPath = ("algorithm", "file")
        run.add(
            file, document.locate(path), path, f"algorithm file {written!r} {what}", _RELATIVE_HINT
        )
    return target


def local_files(base: Path, written: str) -> tuple[Path, ...]:
    """The absolute paths of the files `written` names from folder `base`: a file, every
    non-hidden file under a folder, or the files a glob (`**` allowed) matches. Sorted."""
    target = os.path.abspath(base / written)
    matches = glob.glob(target, recursive=True) if _GLOB_CHARS.search(written) else [target]
    files: set[Path] = set()
    for match in matches:
        if os.path.isfile(match):
            files.add(Path(match))
        elif os.path.isdir(match):
            files.update(_walk_files(Path(match)))
    return tuple(sorted(files))


def _walk_files(folder: Path) -> Iterator[Path]:
    for root, dirs, names in os.walk(folder):
        dirs[:] = [name for name in dirs if not name.startswith(".")]
        yield from (Path(root, name) for name in names if not name.startswith("."))


def _known_path(value: Any, loc: tuple[int | str, ...]) -> JsonPath:
    """The part of a pydantic error location that exists in the document (pydantic adds
    union member names such as 'PublishedDataset' that the user never wrote)."""
    path: list[str | int] = []
    for element in loc:
        in_dict = isinstance(value, dict) and element in value
        in_list = isinstance(value, list) and isinstance(element, int) and element < len(value)
        if not (in_dict or in_list):
            continue
        value = value[element]
        path.append(element)
    return tuple(path)


__all__ = ["find_manifest_files", "load_manifests", "local_files"]
