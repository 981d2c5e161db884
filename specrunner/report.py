"""Every user-facing line goes through here: plain text, JSON, and error lines."""

from __future__ import annotations

import json
import sys
from typing import Any


def line(text: str = "") -> None:
    """A line of normal output on stdout."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def error(text: str) -> None:
    """A line on stderr, for problems and warnings."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def as_json(value: Any) -> None:
    """One JSON document on stdout, stable key order so output diffs cleanly."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True) + "\n")
    sys.stdout.flush()


def json_line(value: Any) -> None:
    """One compact JSON object per line (NDJSON event streams)."""
    sys.stdout.write(json.dumps(value, sort_keys=True, separators=(",", ":")) + "\n")
    sys.stdout.flush()
