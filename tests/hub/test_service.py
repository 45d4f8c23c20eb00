"""Running under systemd: the notify protocol on a real unix datagram socket, the watchdog
that pings only while the loop proves itself alive, `divoom-hub run` as systemd runs it,
and the unit file in deploy/.

The receiving end is a real `AF_UNIX` datagram socket, bound to a path or to an abstract
name, exactly what systemd hands over in NOTIFY_SOCKET. Waiting is done on the socket
with a timeout; liveness is judged on explicit times.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hub.app import DRAIN_SECONDS, EXIT_FAILURE, EXIT_OK, STATUS_PUBLISH_SECONDS, DaemonInfo
from hub.cli import EXIT_USAGE
from hub.config import default_state_dir
from hub.notify.discord.session import CLOSE_SECONDS
from hub.notify.webhook import REQUEST_TIMEOUT_SECONDS
from hub.service import (
    PROGRESS_MAX_AGE_SECONDS,
    LoopWatchdog,
    Notifier,
    Service,
    is_alive,
    notify_address,
    status_line,
    watchdog_interval_seconds,
)
from hub.status.model import HubStatus
from hub.status.recorder import StatusRecorder
from machines import HealthMachines, Outcome, Policy
from tests.daemon import write_hub_toml
from tests.fakes.target import Target

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "divoom-hub.service"
#: Generous: a loaded CI machine may be slow, and a pass never waits this long.
WAIT_SECONDS = 15.0


class NotifySocket:
    """What systemd listens on: a unix datagram socket, at a path or an abstract name."""

    def __init__(self, sock: socket.socket, env_value: str) -> None:
        self.sock = sock
        self.env_value = env_value  # what NOTIFY_SOCKET says

    @classmethod
    @contextmanager
    def bound(cls, kind: str, tmp_path: Path) -> Iterator[NotifySocket]:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            if kind == "path":
                path = tmp_path / "notify.sock"
                sock.bind(str(path))
                value = str(path)
            else:
                name = f"divoom-hub-test-{os.getpid()}-{tmp_path.name}"
                sock.bind("\0" + name)
                value = "@" + name
            sock.settimeout(WAIT_SECONDS)
            yield cls(sock, value)
        finally:
            sock.close()

    def receive(self) -> dict[str, str]:
        """The next datagram as its `KEY=value` assignments (waits, with a timeout)."""
        return parse_message(self.sock.recv(4096))

    def receive_until(self, key: str) -> list[dict[str, str]]:
        """Every datagram up to and including the first that sets `key`."""
        messages = [self.receive()]
        while key not in messages[-1]:
            messages.append(self.receive())
        return messages

    def pending(self) -> list[dict[str, str]]:
        """What was sent and not yet read; a send is complete when `sendto` returns."""
        messages = []
        self.sock.setblocking(False)
        try:
            while True:
                messages.append(parse_message(self.sock.recv(4096)))
        except BlockingIOError:
            return messages
        finally:
            self.sock.settimeout(WAIT_SECONDS)


def parse_message(data: bytes) -> dict[str, str]:
    lines = data.decode().split("\n")
    assert all("=" in line for line in lines), data
    return dict(line.split("=", 1) for line in lines)


def published(at: float, outcomes: tuple[Outcome, ...] = ()) -> StatusRecorder:
    """A real recorder whose latest publication is at `at`, for machines fed `outcomes`."""
    machines = HealthMachines()
    for name in ("bus", "web"):
        machines.add(name, Policy(failures_before_alert=1), 0.0)
    for outcome in outcomes:
        machines.observe(outcome, outcome.at)
    recorder = StatusRecorder("test-hub", 0.0)
    recorder.publish(at, machines.snapshots(), None, outbox_depth=0)
    return recorder


# --- the protocol -------------------------------------------------------------------

def test_notify_socket_is_a_path_or_an_abstract_name():
    assert notify_address("/run/systemd/notify") == b"/run/systemd/notify"
    assert notify_address("@/org/freedesktop/systemd1/notify/1") == (
        b"\0/org/freedesktop/systemd1/notify/1")
    assert notify_address("relative/notify") is None


@pytest.mark.parametrize("kind", ["path", "abstract"])
def test_a_message_is_one_datagram_of_assignments(kind, tmp_path):
    with NotifySocket.bound(kind, tmp_path) as systemd, \
            Notifier.from_environ({"NOTIFY_SOCKET": systemd.env_value}) as notifier:
        assert notifier.is_enabled
        assert notifier.send("READY=1", "STATUS=running")
        assert systemd.receive() == {"READY": "1", "STATUS": "running"}


def test_without_notify_socket_nothing_is_opened_or_sent():
    with Notifier.from_environ({"WATCHDOG_USEC": "400000"}) as notifier:
        assert not notifier.is_enabled
        assert not notifier.send("READY=1")


def test_a_relative_notify_socket_is_refused_with_a_warning(caplog):
    with Notifier.from_environ({"NOTIFY_SOCKET": "notify.sock"}) as notifier:
        assert not notifier.is_enabled
    assert "NOTIFY_SOCKET" in caplog.text and "absolute path" in caplog.text


def test_a_socket_nobody_listens_on_is_logged_once_and_never_raises(tmp_path, caplog):
    gone = tmp_path / "gone.sock"
    with Notifier.from_environ({"NOTIFY_SOCKET": str(gone)}) as notifier:
        assert not notifier.send("WATCHDOG=1")
        assert not notifier.send("WATCHDOG=1")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "cannot notify the service manager" in warnings[0].message


def test_watchdog_pings_every_half_of_watchdog_usec_for_this_process_only():
    assert watchdog_interval_seconds({"WATCHDOG_USEC": "400000"}, pid=42) == 0.2
    assert watchdog_interval_seconds({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "42"},
                                     pid=42) == 30.0
    assert watchdog_interval_seconds({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "7"},
                                     pid=42) is None  # meant for another process
    assert watchdog_interval_seconds({}, pid=42) is None
    assert watchdog_interval_seconds({"WATCHDOG_USEC": "0"}, pid=42) is None
    assert watchdog_interval_seconds({"WATCHDOG_USEC": "soon"}, pid=42) is None


# --- the rule: ping only while the loop proves itself alive -----------------------

def test_the_loop_is_alive_while_its_last_publication_is_recent():
    assert is_alive(progress_at=100.0, now=101.0)
    assert is_alive(progress_at=100.0, now=100.0 + PROGRESS_MAX_AGE_SECONDS)
    assert not is_alive(progress_at=100.0, now=100.0 + PROGRESS_MAX_AGE_SECONDS + 0.5)
    assert not is_alive(progress_at=100.0, now=200.0, max_age_seconds=60.0)
    # The wall clock stepped back: the check itself ran on the loop, so it is alive.
    assert is_alive(progress_at=100.0, now=40.0)


def test_publication_every_second_is_well_inside_the_liveness_bound():
    # If the status were published less often, a healthy hub would stop pinging.
    assert STATUS_PUBLISH_SECONDS * 5 <= PROGRESS_MAX_AGE_SECONDS


def test_status_line_counts_components_by_state():
    failing = Outcome("web", ok=False, at=5.0, error_type="http_503")
    status = published(10.0, (failing,)).latest
    assert status_line(status) == "2 components: 1 healthy, 1 alerting · outbox 0 queued"
    empty = HubStatus("test-hub", 0.0, 0.0, (), None, 3)
    assert status_line(empty) == "no components · outbox 3 queued"


def test_watchdog_pings_while_status_is_published_and_stops_when_publication_is_stuck(
        tmp_path, caplog):
    recorder = published(100.0)
    now = [100.5]
    with NotifySocket.bound("path", tmp_path) as systemd, \
            Notifier.from_environ({"NOTIFY_SOCKET": systemd.env_value}) as notifier:
        watchdog = LoopWatchdog(notifier, lambda: recorder.latest, lambda: now[0])

        assert watchdog.beat()
        assert systemd.pending() == [{"WATCHDOG": "1",
                                      "STATUS": "2 components: 2 healthy · outbox 0 queued"}]
        now[0] = 105.0
        assert watchdog.beat()
        assert systemd.pending() == [{"WATCHDOG": "1"}]  # the status line did not change

        # The publisher is stuck at 100 while time goes on: no ping, the status says why.
        for moment in (110.5, 111.5, 140.0):
            now[0] = moment
            assert not watchdog.beat()
        stalled = systemd.pending()
        assert stalled and all("WATCHDOG" not in message for message in stalled)
        assert stalled[0] == {"STATUS": "stalled: no status published for 10 s"}
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and "no status published" in errors[0].message

        # Publication resumes: so do the pings.
        recorder.publish(140.0, (), None, outbox_depth=0)
        assert watchdog.beat()
        assert systemd.pending() == [{"WATCHDOG": "1",
                                      "STATUS": "no components · outbox 0 queued"}]


def info_for(status: StatusRecorder, clock: Callable[[], float], tmp_path: Path) -> DaemonInfo:
    return DaemonInfo(status_url="http://127.0.0.1:8787", frame_path=tmp_path / "frame.png",
                      status=lambda: status.latest, clock=clock)


def test_the_pinger_on_the_loop_sends_no_ping_while_publication_is_stuck(tmp_path):
    """The whole Service on a real loop, its publisher stuck while its clock goes on.

    Each check reads the clock once and it advances a second per reading, so each check
    shows a new stalled age in STATUS: proof that the checks ran, and none pinged.
    """
    async def scenario(systemd: NotifySocket) -> list[dict[str, str]]:
        loop = asyncio.get_running_loop()
        systemd.sock.setblocking(False)
        stop = asyncio.Event()
        # 2 ms watchdog: the pinger rechecks every millisecond, so many checks happen.
        environ = {"NOTIFY_SOCKET": systemd.env_value, "WATCHDOG_USEC": "2000"}
        received: list[dict[str, str]] = []
        async with Service.from_environ(environ, stop) as service:
            clock = itertools.count(160.0)
            service.ready(info_for(published(100.0), lambda: next(clock), tmp_path))
            async with asyncio.timeout(WAIT_SECONDS):
                while len(received) < 5:
                    received.append(parse_message(await loop.sock_recv(systemd.sock, 4096)))
            stop.set()
        received.extend(systemd.pending())
        return received

    with NotifySocket.bound("abstract", tmp_path) as systemd:
        received = asyncio.run(scenario(systemd))
    assert received[0] == {"READY": "1", "STATUS": "running · status page http://127.0.0.1:8787"}
    assert received[1:5] == [{"STATUS": f"stalled: no status published for {age} s"}
                             for age in (60, 61, 62, 63)]
    assert all("WATCHDOG" not in message for message in received)
    assert received[-1]["STOPPING"] == "1"


def test_without_notify_socket_the_service_starts_nothing(tmp_path):
    async def scenario() -> None:
        stop = asyncio.Event()
        async with Service.from_environ({"WATCHDOG_USEC": "2000"}, stop) as service:
            service.ready(info_for(published(100.0), lambda: 100.0, tmp_path))
            assert [t for t in asyncio.all_tasks() if t.get_name() == "service-watchdog"] == []

    asyncio.run(scenario())


# --- `divoom-hub run` as systemd runs it ------------------------------------------

def hub_environment(notify_socket: str) -> dict[str, str]:
    env = {**os.environ, "NOTIFY_SOCKET": notify_socket, "WATCHDOG_USEC": "400000"}
    for name in ("DISCORD_WEBHOOK_URL", "DISCORD_BOT_TOKEN", "DISCORD_MONITOR_CHANNEL_ID",
                 "DISCORD_CHANNEL_ID", "WATCHDOG_PID", "HUB_CONFIG"):
        env.pop(name, None)
    return env


@pytest.mark.parametrize("kind", ["path", "abstract"])
def test_run_notifies_ready_pings_the_watchdog_and_stops_cleanly_on_sigterm(kind, tmp_path):
    with Target().running() as target, NotifySocket.bound(kind, tmp_path) as systemd:
        config = write_hub_toml(tmp_path, target.url, timeout_seconds=1)
        with subprocess.Popen([sys.executable, "-m", "hub", "run", "-c", str(config)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=hub_environment(systemd.env_value), cwd=tmp_path) as proc:
            try:
                ready = systemd.receive()
                pings = [systemd.receive_until("WATCHDOG") for _ in range(3)]
            finally:
                proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
            stopping = systemd.receive_until("STOPPING")
            after = systemd.pending()
    assert ready["READY"] == "1", ready
    assert ready["STATUS"].startswith("running · status page http://127.0.0.1:")
    assert all(messages[-1]["WATCHDOG"] == "1" for messages in pings)
    assert "2 components: 2 healthy" in " ".join(m.get("STATUS", "")
                                                 for messages in pings for m in messages)
    assert stopping[-1]["STOPPING"] == "1"
    assert after == []  # nothing after STOPPING, no ping in particular
    assert proc.returncode == EXIT_OK, err
    assert "STOPPED" in out and "stop requested" in out


def test_a_hub_that_cannot_start_exits_2_and_never_says_ready(tmp_path):
    config = tmp_path / "hub.toml"
    # A heartbeat needs the status server, which this config turns off: a StartupError.
    config.write_text('[hub]\nhttp_listen = ""\nstate_dir = "state"\n\n'
                      '[[monitor]]\nkind = "heartbeat"\nname = "door"\nperiod_seconds = 60\n'
                      'grace_seconds = 10\n',
                      encoding="utf-8")
    with NotifySocket.bound("path", tmp_path) as systemd:
        done = subprocess.run([sys.executable, "-m", "hub", "run", "-c", str(config)],
                              capture_output=True, text=True, timeout=60, cwd=tmp_path,
                              env=hub_environment(systemd.env_value))
        sent = systemd.pending()
    assert done.returncode == EXIT_USAGE, done.stderr
    assert "http_listen" in done.stderr
    assert all("READY" not in message for message in sent)


# --- the unit file ------------------------------------------------------------------

def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """systemd's INI dialect: sections, `Key=value` (a key may repeat), `#`/`;` comments."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None and key.strip().isidentifier(), (
            f"{UNIT.name}:{number}: not a Key=value line in a section: {raw!r}")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(section: dict[str, list[str]], key: str) -> str:
    values = section.get(key, [])
    assert len(values) == 1, f"{key}: expected one value, got {values}"
    return values[0]


def seconds(value: str) -> float:
    """A systemd time span as used in the unit: `60`, `60s`, `2min`."""
    for suffix, factor in (("min", 60.0), ("s", 1.0)):
        if value.endswith(suffix):
            return float(value.removesuffix(suffix)) * factor
    return float(value)


def test_the_unit_runs_the_hub_as_a_notify_service_with_a_watchdog():
    unit = parse_unit(UNIT.read_text(encoding="utf-8"))
    assert set(unit) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    assert one(service, "Type") == "notify"
    assert one(service, "ExecStart") == "/opt/divoom-hub/.venv/bin/divoom-hub run"
    assert one(service, "Restart") == "on-failure"
    assert seconds(one(service, "RestartSec")) > 0
    # The pinger runs at half of this; a stuck publication must stop it before systemd waits
    # much longer than the outage it is meant to catch.
    assert PROGRESS_MAX_AGE_SECONDS < seconds(one(service, "WatchdogSec")) <= 300
    # A configuration error is not cured by restarting; a pipeline failure may be.
    assert one(service, "RestartPreventExitStatus") == str(EXIT_USAGE)
    assert EXIT_FAILURE not in (EXIT_OK, EXIT_USAGE)
    assert one(service, "User") == "divoom-hub"
    assert "DynamicUser" not in service
    assert one(unit["Install"], "WantedBy") == "multi-user.target"


def test_the_unit_keeps_state_in_var_lib_and_reads_its_config_from_etc(monkeypatch):
    service = parse_unit(UNIT.read_text(encoding="utf-8"))["Service"]
    environment = dict(value.split("=", 1) for value in service["Environment"])
    assert environment["HUB_CONFIG"] == "/etc/divoom-hub/hub.toml"
    state_directory = one(service, "StateDirectory")
    assert state_directory == "divoom-hub"
    # The hub's default state_dir under this environment is the directory systemd creates.
    monkeypatch.setenv("XDG_STATE_HOME", environment["XDG_STATE_HOME"])
    assert default_state_dir() == Path("/var/lib") / state_directory


def test_the_unit_is_hardened_and_gives_the_stop_time_to_drain():
    service = parse_unit(UNIT.read_text(encoding="utf-8"))["Service"]
    for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                       ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                       ("PrivateDevices", "yes")):
        assert one(service, key) == value, key
    # The stopped notice and the queue get DRAIN_SECONDS, the Discord close CLOSE_SECONDS,
    # after a webhook request already in flight.
    needed = DRAIN_SECONDS + CLOSE_SECONDS + REQUEST_TIMEOUT_SECONDS
    assert seconds(one(service, "TimeoutStopSec")) > needed


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed")
def test_systemd_accepts_the_unit(tmp_path):
    # `verify` insists that ExecStart exists: point it at this checkout's command.
    command = Path(sys.executable).parent / "divoom-hub"
    assert command.exists()
    copy = tmp_path / "divoom-hub.service"
    copy.write_text(UNIT.read_text(encoding="utf-8").replace(
        "/opt/divoom-hub/.venv/bin/divoom-hub", str(command)), encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "divoom-hub.service" not in done.stderr, done.stderr  # no warning about it
