"""`divoom-hub run` end to end: a real HTTP target, the real daemon, console transport.

The daemon runs in real time here (it is the real asyncio wiring), so polls are every
0.1 s; the test waits for printed lines with timeouts and never sleeps.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable
from pathlib import Path

from hub.app import run_daemon
from hub.config import load_config
from hub.secrets import Secrets
from hub.web.server import PortWait
from tests.daemon import Lines, write_hub_toml
from tests.fakes.target import Target

#: Generous: a loaded CI machine may be slow, and a pass never waits this long.
WAIT_SECONDS = 10.0


def write_config(tmp_path: Path, url: str) -> Path:
    """The hub of every run here: alert on the second failure, never remind."""
    return write_hub_toml(tmp_path, url, timeout_seconds=0.05,
                          policy={"failures_before_alert": 2, "remind_after_seconds": 0})


def test_outage_of_an_http_monitor_alerts_then_recovers_then_stops_cleanly(tmp_path):
    async def scenario(target: Target) -> tuple[int, Lines]:
        config = load_config(write_config(tmp_path, target.url))
        lines, stop = Lines(WAIT_SECONDS), asyncio.Event()
        daemon = asyncio.create_task(run_daemon(config, Secrets(), lines.write, stop))
        await lines.wait_for("STARTED")
        target.status = 503
        alert = await lines.wait_for("ALERT")
        assert "web" in alert and "http_503" in alert
        target.status = 200
        await lines.wait_for("RECOVERY")
        stop.set()
        return await asyncio.wait_for(daemon, timeout=10), lines

    with Target().running() as target:
        code, lines = asyncio.run(scenario(target))
    assert code == 0
    kinds = [line.split()[1] for line in lines.lines]
    assert kinds == ["STARTED", "ALERT", "RECOVERY", "STOPPED"]
    assert "components: web" in lines.lines[0]
    # Everything was delivered, so nothing is left queued for the next start.
    from hub.notify.outbox import Outbox

    with Outbox(tmp_path / "state" / "outbox.sqlite") as outbox:
        assert outbox.depth() == 0


def test_run_command_stops_on_sigterm_with_exit_code_zero(tmp_path):
    with Target().running() as target:
        config = write_config(tmp_path, target.url)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("DISCORD_WEBHOOK_URL", None)
        with subprocess.Popen([sys.executable, "-m", "hub", "run", "-c", str(config)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env, cwd=tmp_path) as proc:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
    assert "STARTED" in first
    assert "STOPPED" in out and "stop requested" in out
    assert proc.returncode == 0, err


def test_run_without_a_config_warns_that_it_watches_nothing_and_what_to_pass(tmp_path):
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("DISCORD_", "HUB_"))}
    env.update(PYTHONUNBUFFERED="1", XDG_STATE_HOME=str(tmp_path / "state"))
    with subprocess.Popen([sys.executable, "-m", "hub", "run"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path) as proc:
        assert proc.stdout is not None
        said = [proc.stdout.readline()]  # blocks until something is said: no sleeping
        # Stop once it runs (or waits for the default port, should another program hold it).
        while said[-1] and not any(mark in said[-1] for mark in ("STARTED", "trying again")):
            said.append(proc.stdout.readline())
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)
    assert said[0].rstrip().endswith(
        "WARNING hub.cli: no configuration given, so nothing is watched: pass -c/--config "
        "hub.toml or set HUB_CONFIG (start from hub.example.toml)")
    assert proc.returncode == 0, "".join(said) + rest


def test_run_with_the_kill_switch_says_so_and_sends_nothing(tmp_path):
    config = tmp_path / "hub.toml"
    config.write_text(f"[hub]\nnotifications = false\nhttp_listen = ''\n"
                      f"state_dir = '{tmp_path / 'state'}'\n", encoding="utf-8")
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("DISCORD_", "HUB_"))}
    env.update(PYTHONUNBUFFERED="1")
    with subprocess.Popen([sys.executable, "-m", "hub", "run", "-c", str(config)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env, cwd=tmp_path) as proc:
        assert proc.stdout is not None
        said = [proc.stdout.readline()]  # blocks until something is said: no sleeping
        while said[-1] and "notifications = false" not in said[-1]:
            said.append(proc.stdout.readline())
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)
    assert said[-1].rstrip().endswith(
        f"WARNING hub.app: {config}: [hub] notifications = false: every notice is recorded "
        "(the status page, /api/status, the journal) and none is sent")
    assert proc.returncode == 0, "".join(said) + rest
    # The started and stopped notices were decided, held, and never printed.
    assert "STARTED" not in "".join(said) + rest and "STOPPED" not in rest
    from hub.storage.incidents import IncidentStore

    store = IncidentStore(tmp_path / "state" / "outbox.sqlite")
    try:
        assert [(n.kind.value, n.held.value if n.held else None) for n in store.held()] == [
            ("started", "notifications_off"), ("stopped", "notifications_off")]
    finally:
        store.close()


def test_bad_config_exits_with_usage_error_naming_the_key(tmp_path):
    config = tmp_path / "hub.toml"
    config.write_text("[[monitor]]\nkind = 'http'\nname = 'x'\nurl = 'ftp://nope'\n",
                      encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "hub", "run", "-c", str(config)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert str(config) in done.stderr and "url" in done.stderr


def test_a_state_dir_that_cannot_be_written_is_a_usage_error_naming_it(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the state directory should be", encoding="utf-8")
    config = tmp_path / "hub.toml"
    config.write_text(f"[hub]\nstate_dir = '{blocker / 'state'}'\nhttp_listen = ''\n",
                      encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "hub", "run", "-c", str(config)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert f"state_dir {blocker / 'state'}: cannot write there" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_timeline_remembers_the_day_across_a_restart(tmp_path):
    from hub.app import DaemonInfo
    from machines import HealthState

    async def run_once(target: Target, until: str) -> DaemonInfo:
        config = load_config(write_config(tmp_path, target.url))
        lines, stop = Lines(WAIT_SECONDS), asyncio.Event()
        ready: list[DaemonInfo] = []
        daemon = asyncio.create_task(run_daemon(config, Secrets(), lines.write, stop,
                                                on_ready=ready.append))
        await lines.wait_for(until)
        stop.set()
        assert await asyncio.wait_for(daemon, timeout=10) == 0
        return ready[0]

    with Target().running() as target:
        target.status = 503
        asyncio.run(run_once(target, "ALERT"))
        target.status = 200
        info = asyncio.run(run_once(target, "STARTED"))
    (web,) = [h for h in info.status().history if h.component == "web"]
    states = [change.state for change in web.changes]
    # Before the restart: healthy, suspect, alerting — seeded from the journal.
    assert states[:3] == [HealthState.HEALTHY, HealthState.SUSPECT, HealthState.ALERTING]


class TakenPort:
    """A port held by a real listening socket, as another program would hold it, and the
    wait `run_daemon` is given instead of sleeping: it records each delay, releases the
    port at the `release_at`-th and sets `stop` at the `stop_at`-th."""

    def __init__(self, *, release_at: int | None = None, stop_at: int | None = None,
                 stop: asyncio.Event | None = None) -> None:
        self.holder = socket.socket()
        self.holder.bind(("127.0.0.1", 0))
        self.holder.listen()
        self.port = int(self.holder.getsockname()[1])
        self.delays: list[float] = []
        self.release_at, self.stop_at, self.stop = release_at, stop_at, stop

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        if len(self.delays) == self.release_at:
            self.holder.close()
        if len(self.delays) == self.stop_at and self.stop is not None:
            self.stop.set()
            await asyncio.Event().wait()  # a wait that only the stop can end

    def run(self, tmp_path: Path, stop: asyncio.Event, lines: Lines) -> Awaitable[int]:
        config = load_config(write_hub_toml(tmp_path, None, http_listen=f"127.0.0.1:{self.port}"))
        return run_daemon(config, Secrets(), lines.write, stop,
                          port_wait=PortWait(seconds=60, sleep=self.sleep))


def test_a_status_port_freed_within_the_wait_starts_the_hub(tmp_path):
    async def scenario() -> tuple[int, TakenPort, Lines]:
        lines, stop = Lines(WAIT_SECONDS), asyncio.Event()
        taken = TakenPort(release_at=3)
        daemon = asyncio.create_task(taken.run(tmp_path, stop, lines))
        await lines.wait_for("STARTED")
        stop.set()
        return await asyncio.wait_for(daemon, timeout=10), taken, lines

    code, taken, lines = asyncio.run(scenario())
    assert code == 0
    assert taken.delays == [1, 2, 4]
    assert [line.split()[1] for line in lines.lines] == ["STARTED", "STOPPED"]


def test_a_status_port_taken_for_the_whole_wait_exits_1_for_systemd_to_restart(
        tmp_path, caplog):
    taken = TakenPort()
    lines, stop = Lines(WAIT_SECONDS), asyncio.Event()
    with taken.holder:
        code = asyncio.run(taken.run(tmp_path, stop, lines))
    assert code == 1  # not 2: RestartPreventExitStatus=2 would leave the hub down
    assert sum(taken.delays) == 60
    assert lines.lines == []  # neither STARTED nor a STOPPED for a start that never was
    errors = [r.getMessage() for r in caplog.records
              if r.name == "hub.app" and r.levelno >= logging.ERROR]
    assert errors == [
        f"cannot listen on 127.0.0.1:{taken.port} ([hub] http_listen): the address is in use "
        f"by another program, still after 60 s; stop that program (`ss -ltnp 'sport = "
        f":{taken.port}'` names it) or give [hub] http_listen another port. Exiting with 1: "
        "under systemd the hub is started again"]


def test_a_stop_while_waiting_for_the_status_port_ends_the_wait_cleanly(tmp_path):
    lines, stop = Lines(WAIT_SECONDS), asyncio.Event()

    async def scenario() -> tuple[int, TakenPort]:
        taken = TakenPort(stop_at=2, stop=stop)
        with taken.holder:
            return await taken.run(tmp_path, stop, lines), taken

    code, taken = asyncio.run(scenario())
    assert code == 0
    assert taken.delays == [1, 2]
    assert lines.lines == []
