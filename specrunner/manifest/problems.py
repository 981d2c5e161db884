"""One problem found in a manifest, located as compilers do: FILE:LINE:COL."""

from __future__ import annotations

import re
from dataclasses import dataclass

JsonPath = tuple[str | int, ...]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def json_path(path: JsonPath) -> str:
    """`$.datasets[0].did` for ("datasets", 0, "did"); odd keys are quoted: `$["a b"]`."""
    parts = ["$"]
    for element in path:
        if isinstance(element, int):
            parts.append(f"[{element}]")
        elif _IDENTIFIER.fullmatch(element):
            parts.append(f".{element}")
        else:
            escaped = element.replace("\\", "\\\\").replace('"', '\\"')
            parts.append(f'["{escaped}"]')
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong, where: `line` and `col` are 1-based; `path` is a JSON path like `$.kind`."""

    file: str
    line: int
    col: int
    path: str
    message: str
    hint: str | None = None

    def format(self) -> str:
        """`FILE:LINE:COL: $.json.path: message (hint: ...)`, the one-line form users see."""
        text = f"{self.file}:{self.line}:{self.col}: {self.path}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text

    def as_dict(self) -> dict[str, str | int | None]:
        """The `--output json` form."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.col,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }
