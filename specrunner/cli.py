"""Click wiring only: parse options, call a command function, map errors to exit codes.

Exit codes (README "Exit codes"): 0 success; 1 a `SpecRunnerError` (one line on stderr);
2 a usage error (click), `plan --detailed-exitcode` with changes, `status` out of sync;
3 an unexpected exception, a bug (one line, the traceback in a log file); 130 Ctrl-C.

Commands are imported lazily inside each callback so `specrunner --help` and
`specrunner validate` start fast.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from specrunner import __version__
from specrunner.errors import SpecRunnerError

if TYPE_CHECKING:
    from specrunner.report import Reporter

OUTPUT_CHOICE = click.Choice(["text", "json"])
ERROR_LOG = Path(".specrunner") / "last-error.log"
BUG = 3


def build_reporter(output: str = "text") -> Reporter:
    """The reporter for `--output`: "text" or "json"."""
    from specrunner.report import REPORTERS

    return REPORTERS[output]()


def _run(ctx: click.Context, command: Callable[[], int]) -> None:
    """Run a command function and exit with its code; errors become one line on stderr:
    a SpecRunnerError exits 1, any other exception (a bug) exits 3, Ctrl-C 130."""
    debug = bool(ctx.find_root().params.get("debug"))
    try:
        code = command()
    except SpecRunnerError as exc:
        from specrunner import report
        from specrunner.errors import ManifestError

        if debug:
            report.error(traceback.format_exc().rstrip())
        if isinstance(exc, ManifestError):
            for problem in exc.problems:
                report.error(problem.format())
        report.error(f"error: {exc}")
        code = 1
    except KeyboardInterrupt:
        code = 130
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise  # click's own: a usage error exits 2 with its message
    except Exception as exc:
        _report_bug(exc, debug)
        code = BUG
    sys.exit(code)


def _report_bug(exc: Exception, debug: bool) -> None:
    """One line for an unexpected exception; its traceback on stderr with --debug, else in
    a log file a bug report can attach (pre-commit's error_handler)."""
    from specrunner import report

    summary = f"specrunner: an unexpected error occurred (a bug): {type(exc).__name__}: {exc}"
    text = "".join(traceback.format_exception(exc))
    if debug:
        report.error(text.rstrip())
        report.error(summary)
        return
    where = _write_error_log(f"specrunner {__version__}\nargv: {sys.argv}\n\n{text}")
    report.error(f"{summary}; the traceback is in {where}" if where else summary)


def _write_error_log(text: str) -> Path | None:
    """`.specrunner/last-error.log` in the working folder, else a temp file; None if neither."""
    target = Path.cwd() / ERROR_LOG
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target
    except OSError:
        pass
    try:
        handle, name = tempfile.mkstemp(prefix="specrunner-error-", suffix=".log")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        return Path(name)
    except OSError:
        return None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(__version__, prog_name="specrunner")
def main(debug: bool) -> None:
    """Run Ocean Protocol Compute-to-Data jobs from version-controlled YAML specs."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--output", type=OUTPUT_CHOICE, default="text", show_default=True)
@click.pass_context
def validate(ctx: click.Context, paths: tuple[str, ...], output: str) -> None:
    """Check manifests against the schema (default PATH: specs/)."""
    from specrunner.commands import validate as command

    _run(ctx, lambda: command.run(list(paths) or ["specs"], build_reporter(output)))


LOCKFILE_OPTION = click.option(
    "--lockfile",
    default="specrunner.lock.json",
    show_default=True,
    type=click.Path(),
    help="The lockfile recording every job.",
)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@LOCKFILE_OPTION
@click.option("--output", type=OUTPUT_CHOICE, default="text", show_default=True)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes.")
@click.option("--target", "targets", multiple=True, help="Plan only this job (repeatable).")
@click.option("--replace", "replace", multiple=True, help="Run this job again (repeatable).")
@click.pass_context
def plan(
    ctx: click.Context,
    paths: tuple[str, ...],
    lockfile: str,
    output: str,
    detailed_exitcode: bool,
    targets: tuple[str, ...],
    replace: tuple[str, ...],
) -> None:
    """Show what apply would start, keep or replace, and why (default PATH: specs/)."""
    from specrunner.commands import plan as command

    _run(
        ctx,
        lambda: command.run(
            list(paths) or ["specs"],
            lockfile,
            build_reporter(output),
            detailed_exitcode=detailed_exitcode,
            targets=list(targets),
            replace=list(replace),
        ),
    )


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@LOCKFILE_OPTION
@click.option(
    "--parallelism",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Jobs at once per provider and environment.",
)
@click.option("--target", "targets", multiple=True, help="Apply only this job (repeatable).")
@click.option("--replace", "replace", multiple=True, help="Run this job again (repeatable).")
@click.option("--no-wait", is_flag=True, help="Start and record the jobs, then return.")
@click.option("--prune", is_flag=True, help="Drop lock entries whose spec is gone.")
@click.option(
    "--lock-timeout",
    default=30.0,
    show_default=True,
    type=float,
    help="Seconds to wait for another apply holding the lockfile.",
)
@click.option("--output", type=OUTPUT_CHOICE, default="text", show_default=True)
@click.pass_context
def apply(
    ctx: click.Context,
    paths: tuple[str, ...],
    lockfile: str,
    parallelism: int,
    targets: tuple[str, ...],
    replace: tuple[str, ...],
    no_wait: bool,
    prune: bool,
    lock_timeout: float,
    output: str,
) -> None:
    """Run the plan: start, follow, download results, record them (default PATH: specs/)."""
    from specrunner.commands import apply as command

    options = command.ApplyOptions(
        lockfile=lockfile,
        parallelism=parallelism,
        targets=list(targets),
        replace=list(replace),
        wait=not no_wait,
        prune=prune,
        lock_timeout=lock_timeout,
    )
    _run(ctx, lambda: command.run(list(paths) or ["specs"], options, build_reporter(output)))


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@LOCKFILE_OPTION
@click.option("--output", type=OUTPUT_CHOICE, default="text", show_default=True)
@click.option(
    "--lock-timeout",
    default=30.0,
    show_default=True,
    type=float,
    help="Seconds to wait for an apply holding the lockfile.",
)
@click.pass_context
def status(
    ctx: click.Context, paths: tuple[str, ...], lockfile: str, output: str, lock_timeout: float
) -> None:
    """Refresh recorded jobs from their providers; exit 2 when out of sync."""
    from specrunner.commands import status as command

    _run(
        ctx,
        lambda: command.run(
            list(paths), lockfile, build_reporter(output), lock_timeout=lock_timeout
        ),
    )


@main.command()
@click.argument("name")
@LOCKFILE_OPTION
@click.option("--follow", "-f", is_flag=True, help="Wait for a running job to end first.")
@click.pass_context
def logs(ctx: click.Context, name: str, lockfile: str, follow: bool) -> None:
    """Print a recorded job's algorithm log."""
    from specrunner.commands import logs as command

    _run(ctx, lambda: command.run(name, lockfile, build_reporter(), follow=follow))


@main.command()
@click.argument("name")
@LOCKFILE_OPTION
@click.option(
    "--dir",
    "folder",
    default=None,
    type=click.Path(),
    help="Where to put them (default: the job's outputs folder).",
)
@click.pass_context
def results(ctx: click.Context, name: str, lockfile: str, folder: str | None) -> None:
    """Download a recorded job's results again and verify their sha256."""
    from specrunner.commands import results as command

    _run(ctx, lambda: command.run(name, lockfile, build_reporter(), folder))


@main.command()
@click.argument("names", nargs=-1, required=True)
@LOCKFILE_OPTION
@click.pass_context
def stop(ctx: click.Context, names: tuple[str, ...], lockfile: str) -> None:
    """Stop recorded jobs that are running."""
    from specrunner.commands import stop as command

    _run(ctx, lambda: command.run(list(names), lockfile, build_reporter()))


@main.command()
@click.option(
    "--provider",
    "provider_url",
    default=None,
    help="Provider URL (default: the embedded provider).",
)
@click.option("--chain-id", default=None, type=int)
@click.option("--output", type=OUTPUT_CHOICE, default="text", show_default=True)
@click.pass_context
def envs(ctx: click.Context, provider_url: str | None, chain_id: int | None, output: str) -> None:
    """List the compute environments of a provider."""
    from specrunner.commands import envs as command

    _run(ctx, lambda: command.run(provider_url, chain_id, build_reporter(output)))


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option(
    "--provider", "provider_url", required=True, help="Provider URL (a specrunner server)."
)
@click.option(
    "--type", "asset_type", type=click.Choice(["dataset", "algorithm"]), default="dataset"
)
@click.option("--name", default=None, help="Asset name (default: the first file's name).")
@click.option("--entrypoint", default=None, help="Algorithm entrypoint; $ALGO is the code.")
@click.option("--image", default=None, help="Algorithm container image (recorded).")
@click.option("--tag", default=None, help="Algorithm container tag (recorded).")
@click.option(
    "--allow-raw-algorithm/--no-allow-raw-algorithm",
    default=False,
    help="Dataset: accept raw (unpublished) algorithms.",
)
@click.option(
    "--allow-network/--no-allow-network",
    default=False,
    help="Dataset: let algorithms reach the network.",
)
@click.option(
    "--trusted-algorithm",
    "trusted_algorithms",
    multiple=True,
    help="Dataset: DID of an algorithm allowed to run on it (repeatable).",
)
@click.option(
    "--trusted-publisher",
    "trusted_publishers",
    multiple=True,
    help="Dataset: address whose algorithms may run on it (repeatable).",
)
@click.option("--output", type=OUTPUT_CHOICE, default="text", show_default=True)
@click.pass_context
def publish(
    ctx: click.Context,
    files: tuple[str, ...],
    provider_url: str,
    asset_type: str,
    name: str | None,
    entrypoint: str | None,
    image: str | None,
    tag: str | None,
    allow_raw_algorithm: bool,
    allow_network: bool,
    trusted_algorithms: tuple[str, ...],
    trusted_publishers: tuple[str, ...],
    output: str,
) -> None:
    """Upload files to a specrunner provider and register them as a DDO v4 asset."""
    from specrunner.commands import publish as command

    options = command.PublishOptions(
        asset_type=asset_type,
        name=name,
        entrypoint=entrypoint,
        image=image,
        tag=tag,
        allow_raw_algorithm=allow_raw_algorithm,
        allow_network=allow_network,
        trusted_algorithms=list(trusted_algorithms),
        trusted_publishers=list(trusted_publishers),
    )
    _run(ctx, lambda: command.run(list(files), provider_url, options, build_reporter(output)))


@main.group()
def provider() -> None:
    """The embedded Ocean Provider."""


@provider.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8030, show_default=True, type=int, help="0 picks a free port.")
@click.option("--data-dir", default=".specrunner/provider", show_default=True, type=click.Path())
@click.option(
    "--config",
    "config_path",
    default=None,
    type=click.Path(),
    help="YAML with `environments:` in Provider v2 field names.",
)
@click.option(
    "--dialect",
    type=click.Choice(["provider-v2", "ocean-node"]),
    default=None,
    help="The compute API to speak (default: the config's, else provider-v2).",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    data_dir: str,
    config_path: str | None,
    dialect: str | None,
) -> None:
    """Serve the Provider v2 (or ocean-node) compute API with a sandboxed engine."""
    from specrunner.commands import serve as command

    _run(
        ctx,
        lambda: command.run(
            build_reporter(),
            host=host,
            port=port,
            data_dir=data_dir,
            config_path=config_path,
            dialect=dialect,
        ),
    )
