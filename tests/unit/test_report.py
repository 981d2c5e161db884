from __future__ import annotations

import io

from specrunner.report import LiveView, event_text


def test_live_view_redraws_one_line_per_job() -> None:
    stream = io.StringIO()
    view = LiveView(["alpha", "b"], stream=stream)
    view({"event": "started", "job": "alpha", "jobId": "j1", "environment": "free"})
    view({"event": "status", "job": "b", "status": 40, "statusText": "Running algorithm"})
    text = stream.getvalue()
    first, second = text.split("\x1b[2F")
    assert first == "\x1b[2K  alpha  started job j1 on free\n\x1b[2K  b      waiting\n"
    assert second == (
        "\x1b[2K  alpha  started job j1 on free\n\x1b[2K  b      40 Running algorithm\n"
    )


def test_plain_events_and_failures(capsys: object) -> None:
    import pytest

    assert isinstance(capsys, pytest.CaptureFixture)
    event_text({"event": "finished", "job": "a", "results": 2})
    event_text({"event": "failed", "job": "a", "error": "exit code 3"})
    event_text({"event": "mystery", "job": "a"})
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "a: finished (2 results)"
    assert '"event": "mystery"' in out
    assert err == "a: FAILED: exit code 3\n"
