"""The demo's scripted incident, on virtual time, and the real command end to end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from reactivex.testing import TestScheduler

from hub.demo import demo_notices
from machines import NoticeKind


def test_demo_shows_a_whole_incident_within_ninety_seconds():
    scheduler = TestScheduler()
    seen = []
    demo_notices(scheduler).subscribe(seen.append)
    scheduler.advance_to(90)
    assert [(n.kind, n.component) for n in seen] == [
        (NoticeKind.ALERT, "weather"), (NoticeKind.REMINDER, "weather"),
        (NoticeKind.RECOVERY, "weather")]
    assert seen[-1].at <= 90


def test_demo_command_prints_started_and_stops_cleanly_on_sigterm():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen([sys.executable, "-m", "hub", "demo"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env) as proc:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until the demo is up: no sleeping
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert "STARTED" in first and "demo" in first
    assert "STOPPED" in out
    assert proc.returncode == 0, err
