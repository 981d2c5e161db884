"""Every user-facing line goes through here: plain text, JSON, and error lines.

A command gets one `Reporter`, built by `cli.build_reporter(output)`: `TextReporter` for
people and CI logs, `JsonReporter` for `--output json` (one JSON document, or NDJSON events
for `apply`). Commands hand it data (a plan, status rows, a DDO) and never format output
themselves. The module-level `line`/`raw`/`error` helpers are the raw channels both use.
"""

from __future__ import annotations

import abc
import contextlib
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.live import Live

    from specrunner.manifest.problems import Problem
    from specrunner.ocean.models import DDO
    from specrunner.plan import Action, Plan

Event = dict[str, Any]
Emit = Callable[[Event], None]


def line(text: str = "") -> None:
    """A line of normal output on stdout."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def raw(text: str) -> None:
    """Text as it comes (a streamed log), flushed at once."""
    sys.stdout.write(text)
    sys.stdout.flush()


def error(text: str) -> None:
    """A line on stderr, for problems and warnings."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def as_json(value: object) -> None:
    """One JSON document on stdout, stable key order so output diffs cleanly."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True) + "\n")
    sys.stdout.flush()


def json_line(value: Event) -> None:
    """One compact JSON object per line (NDJSON event streams)."""
    sys.stdout.write(json.dumps(value, sort_keys=True, separators=(",", ":")) + "\n")
    sys.stdout.flush()


@dataclass
class JobReport:
    """One recorded job as `status` found it; `drift` lists why it is out of sync."""

    name: str
    phase: str
    status: int | None = None
    status_text: str | None = None
    job_id: str | None = None
    drift: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "phase": self.phase,
            "status": self.status,
            "statusText": self.status_text,
            "jobId": self.job_id,
            "drift": self.drift,
            "inSync": not self.drift,
        }


class Reporter(abc.ABC):
    """What a command reports, in one shape per output format (check-jsonschema's reporter).

    The base class holds the lines that look the same in every format: streamed logs,
    per-result checks and notices. Subclasses render the command results.
    """

    @abc.abstractmethod
    def valid(self, manifests: int, files: int) -> None:
        """`validate` found no problem in `manifests` manifests from `files` files."""

    @abc.abstractmethod
    def problems(self, problems: list[Problem], summary: str) -> None:
        """`validate` found `problems`; `summary` is the error's one line."""

    @abc.abstractmethod
    def plan(self, plan: Plan) -> None:
        """`plan`: every step and why."""

    @abc.abstractmethod
    def apply_plan(self, plan: Plan, prune: bool) -> None:
        """`apply`: the plan it is about to run."""

    @abc.abstractmethod
    def apply_events(self, names: list[str]) -> contextlib.AbstractContextManager[Emit]:
        """`apply`: where its events go while the block runs (the executor's `emit`)."""

    @abc.abstractmethod
    def apply_complete(self, changed: int, lockfile: str) -> None:
        """`apply` ended with every job done; `changed` of them ran."""

    @abc.abstractmethod
    def status(self, reports: list[JobReport]) -> None:
        """`status`: one row per recorded job (and per spec never applied)."""

    @abc.abstractmethod
    def environments(self, envs: list[dict[str, Any]], chain_id: int, where: str) -> None:
        """`envs`: the environments of chain `chain_id` at `where`."""

    @abc.abstractmethod
    def published(self, asset_type: str, ddo: DDO) -> None:
        """`publish`: the asset as the provider serves it."""

    # The same in every format: these commands have no `--output json`.

    def log(self, text: str) -> None:
        """A whole algorithm log (`logs`)."""
        line(text.rstrip("\n"))

    def log_chunk(self, text: str) -> None:
        """Part of a live log, as it streams in (`logs --follow`)."""
        raw(text)

    def result_checked(self, path: str, sha256: str, ok: bool) -> None:
        line(f"{'ok' if ok else 'MISMATCH'}  {path}  sha256 {sha256}")

    def not_running(self, name: str, phase: str) -> None:
        line(f"{name}: not running ({phase})")

    def stop_requested(self, name: str, job_id: str) -> None:
        line(f"{name}: stop requested for job {job_id}")

    def listening(self, address: str, url: str) -> None:
        line(f"specrunner provider {address} listening on {url}")

    def warning(self, text: str) -> None:
        """A notice on stderr, in every format (stdout stays parseable)."""
        error(text)


class TextReporter(Reporter):
    """Lines for people and CI logs; `apply` shows a live table on a terminal."""

    def valid(self, manifests: int, files: int) -> None:
        line(f"{_plural(manifests, 'manifest')} valid ({_plural(files, 'file')})")

    def problems(self, problems: list[Problem], summary: str) -> None:
        for problem in problems:
            line(problem.format())
        error(summary)

    def plan(self, plan: Plan) -> None:
        plan_text(plan)

    def apply_plan(self, plan: Plan, prune: bool) -> None:
        plan_text(plan, prune=prune)
        line("")

    @contextlib.contextmanager
    def apply_events(self, names: list[str]) -> Iterator[Emit]:
        if (
            sys.stdout.isatty()
            and os.environ.get("CI") is None
            and os.environ.get("TERM") != "dumb"
        ):
            with LiveView(names) as view:
                yield view
        else:
            yield event_text

    def apply_complete(self, changed: int, lockfile: str) -> None:
        line(f"\nApply complete: {changed} job(s) run, lock in {lockfile}.")

    def status(self, reports: list[JobReport]) -> None:
        width = max((len(item.name) for item in reports), default=0)
        for item in reports:
            state = (
                f"{item.status} {(item.status_text or '').strip()}" if item.status else item.phase
            )
            mark = "ok" if not item.drift else "OUT OF SYNC"
            line(f"  {item.name.ljust(width)}  {item.phase:<8} {state:<28} {mark}")
            for text in item.drift:
                line(f"      {text}")
        out = sum(1 for item in reports if item.drift)
        line(f"\n{len(reports) - out} in sync, {out} out of sync.")

    def environments(self, envs: list[dict[str, Any]], chain_id: int, where: str) -> None:
        line(f"{len(envs)} environment(s) on chain {chain_id} at {where}:")
        for env in envs:
            price = "free" if not env.get("priceMin") else f"priceMin {env['priceMin']:g}"
            line(
                f"  {env['id']}: {price}, {env.get('cpuNumber')} cpu, {env.get('ramGB')} GB "
                f"RAM, {env.get('diskGB')} GB disk, {env.get('currentJobs')}/"
                f"{env.get('maxJobs')} jobs, max {env.get('maxJobDuration')}s"
            )

    def published(self, asset_type: str, ddo: DDO) -> None:
        line(f"published {asset_type} {ddo.id}")
        for service in ddo.services:
            line(f"  service {service.id} ({service.type}) at {service.serviceEndpoint}")


class JsonReporter(Reporter):
    """One JSON document per command on stdout; `apply` streams NDJSON events instead."""

    def valid(self, manifests: int, files: int) -> None:
        as_json([])

    def problems(self, problems: list[Problem], summary: str) -> None:
        as_json([problem.as_dict() for problem in problems])

    def plan(self, plan: Plan) -> None:
        as_json(plan_json(plan))

    def apply_plan(self, plan: Plan, prune: bool) -> None:
        json_line({"event": "plan", **plan_json(plan)})

    @contextlib.contextmanager
    def apply_events(self, names: list[str]) -> Iterator[Emit]:
        yield json_line

    def apply_complete(self, changed: int, lockfile: str) -> None:
        """Nothing: the NDJSON stream has already said everything."""

    def status(self, reports: list[JobReport]) -> None:
        as_json([item.as_dict() for item in reports])

    def environments(self, envs: list[dict[str, Any]], chain_id: int, where: str) -> None:
        as_json(envs)

    def published(self, asset_type: str, ddo: DDO) -> None:
        as_json(ddo.as_wire())


REPORTERS: dict[str, type[Reporter]] = {"text": TextReporter, "json": JsonReporter}


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


SYMBOLS: dict[Action, str] = {
    "create": "+",
    "replace": "~",
    "resume": ">",
    "keep": "=",
    "orphan": "-",
}


def plan_json(plan: Plan) -> dict[str, Any]:
    """A plan as data: the steps in order and a count per action."""
    steps = []
    for step in plan.steps:
        entry: dict[str, Any] = {"name": step.name, "action": step.action, "reason": step.reason}
        if step.changed:
            entry["changed"] = step.changed
        if step.job is not None:
            entry.update(
                provider="embedded" if step.job.embedded else step.job.provider,
                environment=step.job.environment.id,
                environmentReason=step.job.environment.reason,
                priceMin=step.job.environment.priceMin,
                source=step.job.source,
            )
        if step.locked is not None and step.locked.jobId:
            entry["jobId"] = step.locked.jobId
        steps.append(entry)
    summary = {action: plan.count(action) for action in SYMBOLS}
    return {"steps": steps, "summary": summary, "changes": plan.has_changes}


def plan_text(plan: Plan, prune: bool = False) -> None:
    """The plan as a reviewer reads it in a pull request."""
    width = max((len(step.name) for step in plan.steps), default=0)
    for step in plan.steps:
        reason = step.reason
        if step.action == "orphan":
            reason += " (dropped from the lock)" if prune else " (apply --prune drops it)"
        line(f"  {SYMBOLS[step.action]} {step.name.ljust(width)}  {step.action}: {reason}")
        if step.job is not None and step.action != "keep":
            where = "embedded provider" if step.job.embedded else step.job.provider
            env = step.job.environment
            price = "free" if env.priceMin == 0 else f"priceMin {env.priceMin:g}"
            line(f"      on {where}, environment {env.id} ({price}; {env.reason})")
    changing: tuple[tuple[Action, str], ...] = (
        ("create", "create"),
        ("replace", "replace"),
        ("resume", "resume"),
    )
    counts = ", ".join(f"{plan.count(action)} to {verb}" for action, verb in changing)
    line(f"\nPlan: {counts}, {plan.count('keep')} up to date, {plan.count('orphan')} orphaned.")


def event_text(event: Event) -> None:
    """One apply event as a plain line (CI logs and terminals alike)."""
    kind = str(event.get("event"))
    text = _event_words(kind, event)
    (error if kind in ("failed", "warning") else line)(f"{event.get('job', '')}: {text}")


EVENT_TEMPLATES = {
    "started": "started job {jobId} on {environment}",
    "adopted": "adopted job {jobId}, already started by an earlier run",
    "status": "{status} {statusText}",
    "timeout": "timed out after {seconds}s: stopping it",
    "result": "saved {path} (sha256 {sha256})",
    "finished": "finished ({results} results)",
    "failed": "FAILED: {error}",
    "retry": "retrying (attempt {attempt}) after: {error}",
    "kept": "{reason}",
    "orphan": "orphaned: {reason}",
    "pruned": "dropped from the lock",
    "warning": "warning: {message}",
}


def _event_words(kind: str, event: Event) -> str:
    template = EVENT_TEMPLATES.get(kind)
    try:
        return template.format_map(event) if template else json.dumps(event, sort_keys=True)
    except KeyError:
        return json.dumps(event, sort_keys=True)


# The live table. Rows are cut to the terminal's width at every redraw: a row that wrapped
# would take two screen lines, and the cursor-up of the next redraw would then land in the
# wrong place (rows repeated, others overwritten). rich is imported only here, when a
# terminal actually shows the table, so `--version` and CI runs never load it.

MIN_TEXT = 12  # columns kept for a job's state before its name is shortened


def live_rows(names: dict[str, str], name_width: int, width: int, ellipsis: str) -> list[str]:
    """The table as lines of at most `width` cells: `  name  state`, each cut with `ellipsis`."""
    from rich.cells import cell_len, set_cell_size

    keep = max(1, min(name_width, width - 4 - MIN_TEXT))
    rows = []
    for name, text in names.items():
        shown = name if cell_len(name) <= keep else set_cell_size(name, keep - 1) + ellipsis
        row = f"  {set_cell_size(shown, keep)}  {' '.join(text.split())}".rstrip()
        if cell_len(row) > width:
            row = set_cell_size(row, max(0, width - 1)) + ellipsis
        rows.append(row)
    return rows


class _Rows:
    """A rich renderable that lays the rows out for the width of each render."""

    def __init__(self, view: LiveView) -> None:
        self.view = view

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.text import Text

        ellipsis = "…" if (console.encoding or "").lower().startswith("utf") else "."
        rows = live_rows(self.view.rows, self.view.width, options.max_width, ellipsis)
        yield Text("\n".join(rows), no_wrap=True, overflow="crop", end="")


class LiveView:
    """A redrawn table on a terminal: one line per job, updated in place as events arrive.

    Use it as a context manager; events come from several job threads, a lock keeps each
    redraw whole. `stream` defaults to stdout (then stray prints and stderr lines are shown
    above the table instead of tearing it).
    """

    def __init__(self, names: list[str], stream: TextIO | None = None) -> None:
        self.stream = stream
        self.rows: dict[str, str] = dict.fromkeys(names, "waiting")
        self.width = max((len(name) for name in names), default=0)
        self._lock = threading.Lock()
        self._live: Live | None = None

    def __enter__(self) -> LiveView:
        from rich.console import Console
        from rich.live import Live

        console = Console(file=self.stream, highlight=False, emoji=False, markup=False)
        self._live = Live(
            _Rows(self),
            console=console,
            auto_refresh=False,
            redirect_stdout=self.stream is None,
            redirect_stderr=self.stream is None,
        )
        self._live.start(refresh=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._live is not None:
            with self._lock:
                self._live.stop()
            self._live = None

    def __call__(self, event: Event) -> None:
        name = str(event.get("job", ""))
        with self._lock:
            self.rows[name] = _event_words(str(event.get("event")), event)
            if self._live is not None:
                self._live.refresh()
