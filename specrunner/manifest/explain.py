"""JSON Schema errors → plain-English problems at the line of the offending key or value.

jsonschema's own messages name schema keywords ("is not valid under any of the given
schemas"); users need to hear which key is wrong and what to write instead.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from typing import Any

# No stubs in the dev extras; `unused-ignore` keeps this quiet once types-jsonschema is added.
from jsonschema import ValidationError

from specrunner.manifest.marked_yaml import Document, Mark
from specrunner.manifest.problems import JsonPath, Problem, json_path
from specrunner.schema_files import JOB_SCHEMA, load_schema
from specrunner.spec import DURATION_FORMS

_TYPE_NAMES = {
    "integer": "a whole number",
    "number": "a number",
    "string": "text",
    "object": "a mapping",
    "array": "a list",
    "boolean": "true or false",
    "null": "nothing",
}
_DEFINITIONS = {"algorithm": "Algorithm", "datasets": "Dataset", "environment": "Environment"}
_SHAPE_HINTS = {
    "algorithm": "published: did + serviceId; raw: rawcode or file, plus container",
    "datasets": "published: did + serviceId; local files: path",
    "environment": "give an environment id or selectors (free, minCpu, ...), not both",
}
_PATTERN_MESSAGES: dict[str, tuple[str, str]] = {
    "did": ("malformed DID {value!r}", "a DID is did:op: followed by 64 hex digits"),
    "name": (
        "{value!r} is not a valid name",
        "use letters, digits, '-', '_' and '.', starting with a letter or digit",
    ),
    "privateKey": (
        "a private key must be a reference such as ${{env:SPECRUNNER_PRIVATE_KEY}}",
        "keep the key in an environment variable: a manifest is committed to git",
    ),
    "transferTxId": ("{value!r} is not a transaction id", "0x followed by hex digits"),
    "checksum": ("{value!r} is not a checksum", "sha256: followed by 64 hex digits"),
    "feeToken": ("{value!r} is not a token address", "0x followed by 40 hex digits"),
    "dir": (
        "outputs folder {value!r} must stay inside the working directory",
        "a relative folder such as results/my-job: not absolute, no '..', not '.' or .git",
    ),
    "url": ("{value!r} is not an http(s) URL", "for example https://provider.example.org"),
    "metadataCacheUrl": (
        "{value!r} is not an http(s) URL",
        "for example https://aquarius.example.org",
    ),
}


def explain_all(
    errors: Iterable[ValidationError], doc: Document, file: str, reported: set[str]
) -> list[Problem]:
    """One problem per distinct mistake, skipping JSON paths in `reported` (already explained
    better, e.g. an unset variable). An object with a wrong shape (both published and raw, say)
    is reported once, not once per schema keyword it breaks; a key missing because it is
    misspelt is reported once, as the misspelling."""
    problems: list[Problem] = []
    shaped: set[JsonPath] = set()
    for error in errors:
        path = tuple(error.absolute_path)
        if error.validator in (None, "dependentRequired", "anyOf") and _is_shape(error):
            if path in shaped:
                continue
            shaped.add(path)
        for problem in _explain(error, doc, file):
            if problem not in problems and problem.path not in reported:
                problems.append(problem)
    misspelt = {
        (problem.path.rsplit(".", 1)[0] or "$", problem.hint.split("'")[1])
        for problem in problems
        if problem.hint and problem.hint.startswith("did you mean")
    }
    return [
        problem for problem in problems if (problem.path, _missing_key(problem)) not in misspelt
    ]


def _missing_key(problem: Problem) -> str | None:
    prefix = "missing required key '"
    return problem.message[len(prefix) : -1] if problem.message.startswith(prefix) else None


def _is_shape(error: ValidationError) -> bool:
    schema_path = list(error.absolute_schema_path)
    return "dependentSchemas" in schema_path or error.validator in ("dependentRequired", "anyOf")


def _problem(
    file: str,
    doc: Document,
    path: JsonPath,
    message: str,
    hint: str | None = None,
    *,
    key: bool = False,
) -> Problem:
    mark: Mark = doc.locate(path, key=key)
    return Problem(file, mark.line, mark.col, json_path(path), message, hint)


def _rule(error: ValidationError) -> Any:
    """The failed keyword's value in the schema (typed loosely by jsonschema's stubs)."""
    return error.validator_value


def _instance(error: ValidationError) -> Any:
    return error.instance


def _schema(error: ValidationError) -> dict[str, Any]:
    return error.schema if isinstance(error.schema, dict) else {}


def _explain(error: ValidationError, doc: Document, file: str) -> Iterator[Problem]:
    path: JsonPath = tuple(error.absolute_path)
    value = _instance(error)
    validator = error.validator
    if validator == "additionalProperties":
        yield from _unknown_keys(error, doc, file)
    elif validator == "required":
        for missing in _rule(error):
            if isinstance(value, dict) and missing not in value:
                hint = _SHAPE_HINTS.get(missing) if missing == "datasets" else None
                yield _problem(file, doc, path, f"missing required key {missing!r}", hint, key=True)
    elif validator == "type":
        yield _problem(file, doc, path, *_wrong_type(_rule(error), value, path))
    elif validator in ("const", "enum"):
        allowed = [_rule(error)] if validator == "const" else _rule(error)
        expected = " or ".join(repr(item) for item in allowed)
        yield _problem(file, doc, path, f"expected {expected}, got {_describe(value)}")
    elif validator == "pattern":
        yield _problem(file, doc, path, *_bad_pattern(path, value, str(_rule(error))))
    elif validator is None or "dependentSchemas" in error.absolute_schema_path:
        yield _conflict(error, doc, file)
    elif validator == "dependentRequired":
        yield from _needs(error, doc, file)
    elif validator == "anyOf":
        yield _problem(file, doc, path, *_any_of(error, path, value))
    elif validator == "minItems" and path == ("datasets",):
        yield _problem(file, doc, path, "at least one dataset is needed", _SHAPE_HINTS["datasets"])
    else:
        yield _problem(file, doc, path, _bounds(error))


def _unknown_keys(error: ValidationError, doc: Document, file: str) -> Iterator[Problem]:
    path: JsonPath = tuple(error.absolute_path)
    known = sorted(_schema(error).get("properties", {}))
    for key in _instance(error):
        if key in known:
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else "known keys: " + ", ".join(known)
        yield _problem(file, doc, (*path, key), f"unknown key {key!r}", hint, key=True)


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"text {value!r}"
    return repr(value)


def _wrong_type(expected: str | list[str], value: Any, path: JsonPath) -> tuple[str, str | None]:
    names = [expected] if isinstance(expected, str) else expected
    wanted = " or ".join(_TYPE_NAMES.get(name, name) for name in names)
    hint = None
    if isinstance(value, str) and {"integer", "number"} & set(names):
        hint = f"write a plain number without units, for example {path[-1]}: 2"
    elif isinstance(value, str | int | float) and "object" in names:
        hint = "write key: value pairs, indented under this key"
    return f"expected {wanted}, got {_describe(value)}", hint


def _bad_pattern(path: JsonPath, value: Any, pattern: str) -> tuple[str, str | None]:
    field = str(path[-1]) if path else ""
    if field == "name" and isinstance(value, str) and _looks_like_path(value):
        return (
            f"name {value!r} must not be a path",
            "use letters, digits, '-', '_' and '.', starting with a letter or digit",
        )
    message, hint = _PATTERN_MESSAGES.get(field, ("{value!r} does not match " + pattern, ""))
    return message.format(value=value), hint or None


def _looks_like_path(value: str) -> bool:
    return "/" in value or "\\" in value or value.startswith(".") or value.startswith("~")


def _conflict(error: ValidationError, doc: Document, file: str) -> Problem:
    path: JsonPath = tuple(error.absolute_path)
    schema_path = list(error.absolute_schema_path)
    trigger = str(schema_path[schema_path.index("dependentSchemas") + 1])
    kind = _object_kind(path)
    # jsonschema reports a `false` property schema with the object's path and the property's
    # *value*, so the offending key is found from the object and the schema.
    obj = _value_at(doc.value, path)
    others = [key for key in obj if key != trigger] if isinstance(obj, dict) else []
    offending = next((key for key in others if _forbidden(kind, trigger, key)), None)
    if offending is None:
        return _problem(file, doc, path, error.message)
    hint = _SHAPE_HINTS.get(kind)
    if kind == "algorithm" and trigger == "did" and offending in ("rawcode", "file", "container"):
        message = f"an algorithm cannot be both published (did) and raw ({offending})"
    elif kind == "datasets" and trigger == "did" and offending == "path":
        message = "a dataset cannot be both published (did) and local files (path)"
    elif kind == "environment":
        message = f"{offending!r} cannot be combined with an environment id"
    else:
        message = f"{offending!r} cannot be used together with {trigger!r}"
    return _problem(file, doc, (*path, offending), message, hint, key=True)


def _forbidden(kind: str, trigger: str, key: str) -> bool:
    """Whether the job schema forbids `key` beside `trigger` (`"key": false`) in `kind`."""
    definition = load_schema(JOB_SCHEMA)["$defs"].get(_DEFINITIONS.get(kind, ""), {})
    dependent = definition.get("dependentSchemas", {}).get(trigger, {})
    return dependent.get("properties", {}).get(key) is False


def _value_at(value: Any, path: JsonPath) -> Any:
    for element in path:
        try:
            value = value[element]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def _object_kind(path: JsonPath) -> str:
    named = [element for element in path if isinstance(element, str)]
    return named[-1] if named else ""


def _needs(error: ValidationError, doc: Document, file: str) -> Iterator[Problem]:
    path: JsonPath = tuple(error.absolute_path)
    for trigger, required in _rule(error).items():
        if trigger not in _instance(error):
            continue
        for missing in required:
            if missing not in _instance(error):
                message = f"{trigger!r} needs {missing!r} too"
                hint = _SHAPE_HINTS.get(_object_kind(path))
                yield _problem(file, doc, (*path, trigger), message, hint, key=True)
                return  # one is enough: the others follow from the same fix


def _any_of(error: ValidationError, path: JsonPath, value: Any) -> tuple[str, str | None]:
    if path and path[-1] in ("timeout", "maxJobDuration", "queueMaxWaitTime"):
        return f"{_describe(value)} is not a duration", DURATION_FORMS
    branches = _rule(error)
    if all(set(branch) == {"required"} for branch in branches):
        keys = " or ".join(repr(branch["required"][0]) for branch in branches)
        return f"needs {keys}", _SHAPE_HINTS.get(_object_kind(path))
    return f"{_describe(value)} is not valid here", None


def _bounds(error: ValidationError) -> str:
    limit = _rule(error)
    messages = {
        "minimum": f"must be at least {limit}",
        "exclusiveMinimum": f"must be more than {limit}",
        "maximum": f"must be at most {limit}",
        "minLength": "must not be empty" if limit == 1 else f"must be at least {limit} long",
        "maxLength": f"must be at most {limit} characters long",
        "minItems": f"needs at least {limit} item(s)",
    }
    return messages.get(str(error.validator), str(error.message))
