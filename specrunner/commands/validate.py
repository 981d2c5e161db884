"""`specrunner validate [PATH...]`: check manifests, report every problem, exit 0 or 1."""

from __future__ import annotations

from specrunner import report
from specrunner.errors import ManifestError
from specrunner.manifest.loader import load_manifests


def run(paths: list[str], output: str = "text") -> int:
    """Validate the manifests in `paths` (files or folders).

    Exit 0 when all are valid: a count in text, `[]` in JSON. Otherwise exit 1 with one
    `FILE:LINE:COL: $.path: message (hint: ...)` line per problem on stdout, or with
    `--output json` a JSON list of problem objects (file, line, column, path, message, hint).
    """
    try:
        specs = load_manifests(paths)
    except ManifestError as exc:
        if output == "json":
            report.as_json([problem.as_dict() for problem in exc.problems])
        else:
            for problem in exc.problems:
                report.line(problem.format())
            report.error(str(exc))
        return 1
    if output == "json":
        report.as_json([])
    else:
        files = len({spec.source.file for spec in specs if spec.source})
        report.line(f"{_plural(len(specs), 'manifest')} valid ({_plural(files, 'file')})")
    return 0


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
