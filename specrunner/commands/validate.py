"""`specrunner validate [PATH...]`: check manifests, report every problem, exit 0 or 1."""

from __future__ import annotations

from specrunner.errors import ManifestError
from specrunner.manifest.loader import load_manifests
from specrunner.report import Reporter


def run(paths: list[str], reporter: Reporter) -> int:
    """Validate the manifests in `paths` (files or folders).

    Exit 0 when all are valid: a count in text, `[]` in JSON. Otherwise exit 1 with one
    `FILE:LINE:COL: $.path: message (hint: ...)` line per problem on stdout, or with
    `--output json` a JSON list of problem objects (file, line, column, path, message, hint).
    """
    try:
        specs = load_manifests(paths)
    except ManifestError as exc:
        reporter.problems(exc.problems, str(exc))
        return 1
    reporter.valid(len(specs), len({spec.source.file for spec in specs if spec.source}))
    return 0
