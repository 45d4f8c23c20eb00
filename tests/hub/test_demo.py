"""The demo's scripted incident, on virtual time, and the real command end to end."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from PIL import Image
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


def test_demo_command_serves_frames_and_status_then_stops_cleanly_on_sigterm(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in ("DISCORD_WEBHOOK_URL", "DISCORD_BOT_TOKEN", "DISCORD_MONITOR_CHANNEL_ID"):
        env.pop(name, None)
    command = [sys.executable, "-m", "hub", "demo", "--state-dir", str(tmp_path),
               "--http-listen", "127.0.0.1:0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env, cwd=tmp_path) as proc:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until the demo is up: no sleeping
        url = re.search(r"status page: (http://127\.0\.0\.1:\d+)", first)
        assert url is not None, first
        status = _wait_for(lambda: _json(f"{url[1]}/api/status"),
                           lambda s: {c["name"] for c in s["components"]} >= {"bus", "weather"})
        frame = _wait_for(lambda: _get(f"{url[1]}/frame.png"), lambda body: body is not None)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert "STARTED" in first and "demo" in first
    assert {c["state"] for c in status["components"]} <= {"healthy", "suspect"}
    assert frame is not None and frame.startswith(b"\x89PNG")
    with Image.open(tmp_path / "frame.png") as small, \
            Image.open(tmp_path / "frame-large.png") as large:
        assert (small.size, large.size) == ((64, 64), (512, 512))
    assert "STOPPED" in out
    assert proc.returncode == 0, err


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read()
    except urllib.error.HTTPError:
        return None  # e.g. 404 before the first frame


def _json(url: str) -> dict:
    body = _get(url)
    return json.loads(body) if body is not None else {"components": []}


def _wait_for(fetch, is_done, timeout_seconds: float = 20.0):
    """Ask again until `is_done` (the demo is real time); each ask waits on the server."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        value = fetch()
        if is_done(value) or time.monotonic() > deadline:
            return value
        threading.Event().wait(0.1)  # a pause between asks, not a wait for time to pass


def test_each_demo_starts_afresh_whatever_an_earlier_demo_left(tmp_path):
    from hub.storage.journal import Journal
    from machines import HealthState, Snapshot

    # An earlier demo stopped mid-incident: weather alerting, its reminder long overdue.
    with Journal(tmp_path / "outbox.sqlite") as journal:
        journal.begin_run(1000.0)
        journal.write(1000.0, [Snapshot(component="weather", state=HealthState.ALERTING,
                                        since=900.0, failures=3, first_failure_at=880.0,
                                        next_reminder_at=1020.0)])
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in ("DISCORD_WEBHOOK_URL", "DISCORD_BOT_TOKEN", "DISCORD_MONITOR_CHANNEL_ID"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "hub", "demo", "--seconds", "2",
                           "--state-dir", str(tmp_path), "--http-listen", ""],
                          capture_output=True, text=True, env=env, timeout=60)
    kinds = [line.split()[1] for line in done.stdout.splitlines()]
    assert kinds == ["STARTED", "STOPPED"], done.stdout
    assert done.returncode == 0, done.stderr


def test_the_demo_on_a_taken_port_fails_at_once_naming_its_option(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "hub", "demo", "--state-dir",
                               str(tmp_path), "--http-listen", f"127.0.0.1:{port}"],
                              capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().endswith(
        f"divoom-hub demo: cannot listen on 127.0.0.1:{port} (--http-listen): the address is "
        f"in use by another program; stop that program (`ss -ltnp 'sport = :{port}'` names "
        "it) or give --http-listen another port")
    assert done.stdout == ""
