"""Every user-facing line goes through here: plain text, JSON, and error lines."""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any


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


def as_json(value: Any) -> None:
    """One JSON document on stdout, stable key order so output diffs cleanly."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True) + "\n")
    sys.stdout.flush()


def json_line(value: Any) -> None:
    """One compact JSON object per line (NDJSON event streams)."""
    sys.stdout.write(json.dumps(value, sort_keys=True, separators=(",", ":")) + "\n")
    sys.stdout.flush()


# Plans and apply events. Imports stay inside so `validate` never loads them.

SYMBOLS = {"create": "+", "replace": "~", "resume": ">", "keep": "=", "orphan": "-"}


def plan_json(plan: Any) -> dict[str, Any]:
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


def plan_text(plan: Any, prune: bool = False) -> None:
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
    counts = ", ".join(
        f"{plan.count(action)} to {verb}"
        for action, verb in (("create", "create"), ("replace", "replace"), ("resume", "resume"))
    )
    line(f"\nPlan: {counts}, {plan.count('keep')} up to date, {plan.count('orphan')} orphaned.")


def event_text(event: dict[str, Any]) -> None:
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


def _event_words(kind: str, event: dict[str, Any]) -> str:
    template = EVENT_TEMPLATES.get(kind)
    try:
        return template.format_map(event) if template else json.dumps(event, sort_keys=True)
    except KeyError:
        return json.dumps(event, sort_keys=True)


class LiveView:
    """A redrawn table on a terminal: one line per job, updated in place as events arrive.

    Events come from several job threads; a lock keeps each redraw whole.
    """

    def __init__(self, names: list[str], stream: Any = None) -> None:
        self.stream = stream or sys.stdout
        self.rows: dict[str, str] = dict.fromkeys(names, "waiting")
        self.width = max((len(name) for name in names), default=0)
        self.drawn = 0
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> None:
        name = str(event.get("job", ""))
        with self._lock:
            self.rows[name] = _event_words(str(event.get("event")), event)
            self._redraw()

    def _redraw(self) -> None:
        out = [f"\x1b[{self.drawn}F"] if self.drawn else []
        for name, text in self.rows.items():
            out.append(f"\x1b[2K  {name.ljust(self.width)}  {text}\n")
        self.stream.write("".join(out))
        self.stream.flush()
        self.drawn = len(self.rows)


def event_sink(names: list[str], output: str) -> Any:
    """Where apply's events go: NDJSON, a live view on a terminal, or plain lines (CI)."""
    if output == "json":
        return json_line
    if sys.stdout.isatty() and os.environ.get("CI") is None and os.environ.get("TERM") != "dumb":
        return LiveView(names)
    return event_text
