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
