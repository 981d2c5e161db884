"""The packaged JSON Schemas (the canonical files live in the top-level `schemas/` folder).

`specrunner/schemas` is a symlink to `../schemas` so a checkout and an installed wheel read the
same files through importlib.resources.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any, cast

JOB_SCHEMA = "job.schema.json"
LOCK_SCHEMA = "lock.schema.json"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The parsed schema `name` (`JOB_SCHEMA` or `LOCK_SCHEMA`); cached, treat it as read-only.

    Raises FileNotFoundError for an unknown name: a packaging bug, not a user error.
    """
    text = resources.files("specrunner").joinpath("schemas", name).read_text(encoding="utf-8")
    return cast(dict[str, Any], json.loads(text))


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its local `#/$defs/...` references replaced by their targets.

    For schemas without recursion (ours): resolving references per validation was a
    quarter of validating a manifest and a fifth of loading a large lock (bench/).
    """
    return cast(dict[str, Any], _inline(schema, schema.get("$defs", {})))


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: _inline(value, definitions) for key, value in node.items() if key != "$ref"}
    reference = node.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/$defs/"):
        target = _inline(definitions[reference.removeprefix("#/$defs/")], definitions)
        result = {**target, **result}  # sibling keys (a description) win, as in 2020-12
    elif reference is not None:
        result["$ref"] = reference
    return result
