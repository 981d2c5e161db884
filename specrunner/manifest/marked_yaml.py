"""YAML → plain JSON-like values, remembering the line and column of every key and value.

We build values from the parser's *events* rather than from `yaml.compose`: libyaml's event
parser is iterative, while the C composer recurses and crashes the interpreter on deeply nested
input (`[[[[…`). Building from events also lets us report duplicate keys, non-string keys,
unsupported tags and alias bombs as problems instead of surprises.

Values follow JSON and YAML 1.2's core schema, not PyYAML's YAML 1.1: mapping keys are the
key's text; only true/false are booleans and only decimal numbers are numbers (so `yes`,
`0x…` and dates stay text); NaN or infinity are problems. Anchors are per document, as YAML
says.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from specrunner.manifest.problems import JsonPath, Problem, json_path

try:  # libyaml's parser is several times faster; the pure-Python one is a correct fallback
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_DEPTH = 64
MAX_VALUES = 100_000  # per document, counting every alias expansion
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
# YAML 1.2's core schema, not PyYAML's YAML 1.1 one: `yes`, `on`, `0x1f`, `1:30` and dates stay
# text. A tx hash (0x…) is then a string, and `labels: {country: no}` stays "no".
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_SPECIAL_FLOATS = re.compile(r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")


def _plain_kind(text: str) -> str:
    if text in _NULLS:
        return "null"
    if text in _BOOLS:
        return "bool"
    if _INT.fullmatch(text):
        return "int"
    if _FLOAT.fullmatch(text) or _SPECIAL_FLOATS.fullmatch(text):
        return "float"
    return "str"


def _to_null(text: str) -> None:
    if text not in _NULLS:
        raise ValueError(text)


def _to_float(text: str) -> float:
    if _SPECIAL_FLOATS.fullmatch(text):
        return float(text.lower().replace(".", ""))  # "-.inf" → float("-inf"); later refused
    if not _FLOAT.fullmatch(text):
        raise ValueError(text)
    return float(text)


def _to_int(text: str) -> int:
    if not _INT.fullmatch(text):
        raise ValueError(text)
    return int(text)


_CONVERT: dict[str, Any] = {
    "null": _to_null,
    "bool": _BOOLS.__getitem__,
    "int": _to_int,
    "float": _to_float,
}
_TAG = "tag:yaml.org,2002:"
_MERGE = object()  # stands for a pending `<<` key


@dataclass(frozen=True, slots=True)
class Mark:
    line: int  # 1-based
    col: int  # 1-based


@dataclass
class Document:
    """One YAML document: its value and where each key and value starts."""

    value: Any
    index: int
    start: Mark
    values: dict[JsonPath, Mark] = field(default_factory=dict)
    keys: dict[JsonPath, Mark] = field(default_factory=dict)
    # (start, end, path) of long string scalars, to tell a secret in a value from one in a comment
    long_strings: list[tuple[Mark, Mark, JsonPath]] = field(default_factory=list)

    def locate(self, path: JsonPath, *, key: bool = False) -> Mark:
        """Where `path` is written: its key when `key` (or when it has no value mark), else its
        value; an unmarked path (inside an alias, or missing) falls back to its nearest parent."""
        while True:
            first, second = (self.keys, self.values) if key else (self.values, self.keys)
            mark = first.get(path) or second.get(path)
            if mark is not None:
                return mark
            if not path:
                return self.start
            path = path[:-1]
            key = True  # a missing child is best shown at its parent's key line


class _Abandon(Exception):
    """The rest of the file cannot be read sensibly (too deep, too big, syntax error)."""


def _mark(yaml_mark: Any) -> Mark:
    return Mark(yaml_mark.line + 1, yaml_mark.column + 1)


def _position(text: str, index: int) -> Mark:
    line = text.count("\n", 0, index)
    return Mark(line + 1, index - (text.rfind("\n", 0, index) + 1) + 1)


def parse_yaml(text: str, file: str) -> tuple[list[Document], list[Problem]]:
    """Every non-empty document in `text`; problems carry `file` as their file name.

    Never raises for bad input: syntax errors, tabs, control characters and the like come back
    as problems (and no documents, since what follows a syntax error cannot be trusted).
    """
    bad = _NON_PRINTABLE.search(text)
    if bad:
        mark = _position(text, bad.start())
        message = f"character U+{ord(bad.group()):04X} is not allowed in YAML"
        return [], [Problem(file, mark.line, mark.col, "$", message)]
    builder = _Builder(file)
    try:
        for event in yaml.parse(text, Loader=_Loader):
            builder.feed(event)
    except yaml.MarkedYAMLError as exc:
        return [], [*builder.problems, _syntax_problem(exc, text, file)]
    except yaml.YAMLError as exc:  # ReaderError has no mark; the pre-check makes it rare
        return [], [*builder.problems, Problem(file, 1, 1, "$", f"YAML error: {exc}")]
    except _Abandon:
        return [], builder.problems
    return builder.documents, builder.problems


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str, file: str) -> Problem:
    mark = _mark(exc.problem_mark) if exc.problem_mark else Mark(1, 1)
    lines = text.splitlines()
    row = lines[mark.line - 1] if 0 < mark.line <= len(lines) else ""
    if "\t" in row[: mark.col]:  # libyaml's message for a tab does not say it is a tab
        tab = Mark(mark.line, row.index("\t") + 1)
        return Problem(
            file, tab.line, tab.col, "$", "tab character in indentation",
            "YAML indents with spaces only",
        )  # fmt: skip
    message = f"YAML syntax error: {exc.problem}"
    if exc.context:
        where = exc.context_mark
        started = f" started at line {where.line + 1}, column {where.column + 1}" if where else ""
        message += f" ({exc.context}{started})"
    return Problem(file, mark.line, mark.col, "$", message)


class _Frame:
    """A mapping or sequence being built."""

    __slots__ = ("anchor", "container", "key", "key_mark", "merges", "path", "size_before")

    def __init__(
        self, container: dict[str, Any] | list[Any], path: JsonPath, anchor: str | None, size: int
    ) -> None:
        self.container = container
        self.path = path
        self.anchor = anchor
        self.size_before = size  # to know how many values this container expands to
        self.key: str | object | None = None  # None: the next scalar is a key (mappings only)
        self.key_mark = Mark(0, 0)
        self.merges: list[tuple[dict[str, Any], Mark]] = []


class _Builder:
    """Turns parser events into `Document`s; see the module docstring for why."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.documents: list[Document] = []
        self.problems: list[Problem] = []
        self._index = -1
        self._doc = Document(None, 0, Mark(1, 1))
        self._stack: list[_Frame] = []
        self._anchors: dict[str, tuple[Any, int]] = {}
        self._size = 0

    def problem(self, mark: Mark, path: JsonPath, message: str, hint: str | None = None) -> None:
        self.problems.append(
            Problem(self.file, mark.line, mark.col, json_path(path), message, hint)
        )

    def feed(self, event: yaml.Event) -> None:
        kind = type(event)  # exact types: the parser never subclasses them, and `is` is fast
        if kind is yaml.ScalarEvent:
            self._scalar(event)  # type: ignore[arg-type]
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            self._start(event)  # type: ignore[arg-type]
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            self._end()
        elif isinstance(event, yaml.AliasEvent):
            self._alias(event)
        elif isinstance(event, yaml.DocumentStartEvent):
            self._index += 1
            self._doc = Document(None, self._index, _mark(event.start_mark))
            self._anchors, self._size = {}, 0
        elif isinstance(event, yaml.DocumentEndEvent) and self._doc.value is not None:
            self.documents.append(self._doc)

    def _child_path(self) -> JsonPath:
        top = self._stack[-1] if self._stack else None
        if top is None:
            return ()
        if isinstance(top.container, list):
            return (*top.path, len(top.container))
        return (*top.path, top.key) if isinstance(top.key, str) else top.path

    def _in_key_position(self) -> bool:
        if not self._stack:
            return False
        top = self._stack[-1]
        return isinstance(top.container, dict) and top.key is None

    def _scalar(self, event: yaml.ScalarEvent) -> None:
        mark = _mark(event.start_mark)
        if self._in_key_position():
            self._key(event, mark)
            return
        value = self._scalar_value(event, mark)
        self._attach(value, mark, 1, event.anchor)

    def _key(self, event: yaml.ScalarEvent, mark: Mark) -> None:
        frame = self._stack[-1]
        assert isinstance(frame.container, dict)
        frame.key_mark = mark
        if event.value == "<<" and event.implicit[0]:  # plain, untagged: a merge key
            frame.key = _MERGE
            return
        key = event.value
        if key in frame.container:
            first = self._doc.keys[(*frame.path, key)]
            self.problem(
                mark, (*frame.path, key), f"duplicate key {key!r} (first at line {first.line})"
            )
        frame.key = key
        self._doc.keys[(*frame.path, key)] = mark

    def _scalar_value(self, event: yaml.ScalarEvent, mark: Mark) -> Any:
        path = self._child_path()
        tag = event.tag
        if tag in (None, "!"):
            # Only plain scalars are typed by their look; quoted ones are always text.
            kind = _plain_kind(event.value) if event.implicit[0] else "str"
        elif tag.startswith(_TAG):
            kind = tag[len(_TAG) :]
        else:
            self.problem(mark, path, f"unsupported YAML tag {tag}", "remove the tag")
            return event.value
        if kind not in _CONVERT:  # str, timestamp, binary...: JSON has only text for them
            if len(event.value) >= 64:
                self._doc.long_strings.append((mark, _mark(event.end_mark), path))
            return event.value
        try:
            value = _CONVERT[kind](event.value)
        except (ValueError, KeyError):
            self.problem(mark, path, f"{event.value!r} is not a valid !!{kind}")
            return event.value
        if isinstance(value, float) and not math.isfinite(value):
            message = f"{event.value} is not a finite number"
            self.problem(mark, path, message, "JSON has no NaN or infinity")
            return None
        return value

    def _start(self, event: yaml.MappingStartEvent | yaml.SequenceStartEvent) -> None:
        mark = _mark(event.start_mark)
        if len(self._stack) >= MAX_DEPTH:
            self.problem(mark, (), f"nested more than {MAX_DEPTH} levels deep")
            raise _Abandon
        is_map = isinstance(event, yaml.MappingStartEvent)
        if event.tag not in (None, "!", _TAG + ("map" if is_map else "seq")):
            self.problem(mark, self._child_path(), f"unsupported YAML tag {event.tag}")
        if self._in_key_position():
            self.problem(
                mark, self._stack[-1].path, "a key must be plain text, not a list or mapping"
            )
            raise _Abandon
        path = self._child_path()
        self._doc.values[path] = mark
        container: dict[str, Any] | list[Any] = {} if is_map else []
        frame = _Frame(container, path, event.anchor, self._size)
        frame.key_mark = mark
        self._stack.append(frame)

    def _end(self) -> None:
        frame = self._stack.pop()
        if isinstance(frame.container, dict):
            for merged, merge_mark in frame.merges:  # explicit keys win (YAML merge spec)
                for key, value in merged.items():
                    if key not in frame.container:
                        frame.container[key] = value
                        self._doc.keys.setdefault((*frame.path, key), merge_mark)
        size = self._size - frame.size_before + 1
        self._attach(frame.container, self._doc.values.get(frame.path, Mark(1, 1)), 1, None)
        if frame.anchor:  # registered only now: an alias inside its own anchor is an error
            self._anchors[frame.anchor] = (frame.container, size)

    def _alias(self, event: yaml.AliasEvent) -> None:
        mark = _mark(event.start_mark)
        if self._in_key_position():
            self.problem(mark, self._stack[-1].path, "an alias cannot be a key")
            raise _Abandon
        found = self._anchors.get(event.anchor or "")
        if found is None:
            self.problem(mark, self._child_path(), f"unknown alias *{event.anchor}")
            self._attach(None, mark, 1, None)
            return
        self._attach(found[0], mark, found[1], None)

    def _attach(self, value: Any, mark: Mark, size: int, anchor: str | None) -> None:
        self._size += size
        if self._size > MAX_VALUES:
            self.problem(
                mark, self._child_path(), f"document expands to more than {MAX_VALUES} values"
            )
            raise _Abandon
        if anchor and not isinstance(value, dict | list):
            self._anchors[anchor] = (value, size)
        if not self._stack:
            self._doc.value = value
            return
        frame = self._stack[-1]
        path = self._child_path()
        self._doc.values.setdefault(path, mark)
        if isinstance(frame.container, list):
            frame.container.append(value)
        elif frame.key is _MERGE:
            self._merge(frame, value, mark)
        else:
            frame.container[str(frame.key)] = value
            frame.key = None

    def _merge(self, frame: _Frame, value: Any, mark: Mark) -> None:
        frame.key = None
        if value is None:  # an unknown alias, already reported
            return
        sources = value if isinstance(value, list) else [value]
        if not all(isinstance(source, dict) for source in sources):
            self.problem(mark, frame.path, "`<<` merges a mapping or a list of mappings")
            return
        frame.merges.extend((source, frame.key_mark) for source in sources)
