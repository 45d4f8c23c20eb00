"""Running under systemd: readiness, status, stopping and the watchdog, over $NOTIFY_SOCKET.

The notify protocol is one datagram of `KEY=value` lines sent to the unix socket named by
`NOTIFY_SOCKET` (a path, or an abstract name written with a leading `@`), so it needs no
library. What `divoom-hub run` says, and when:

    READY=1      `run_daemon` has everything running (its `on_ready`)
    STATUS=…     one line for `systemctl status`: components by state, outbox depth
    WATCHDOG=1   every WATCHDOG_USEC / 2, only while the loop proves itself alive
    STOPPING=1   the stop began (a signal, or the pipeline failed)

"Alive" is judged on the daemon's own asyncio loop, from the loop's own progress: the owner
of the machines publishes its `HubStatus` every second, and the pinger, a task on the same
loop, pings only when that publication is recent (`is_alive`). A loop that hangs runs
neither, so the pings stop and systemd restarts the hub; a pinging thread would have kept
pinging. A loop that runs while the hub no longer does its job (outcomes stuck before the
machines, a poller that stopped, an outbox that does not drain: `hub.status.liveness.stalls`)
stops the pings too. Without NOTIFY_SOCKET every call here is a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from hub.status.liveness import stalls
from hub.status.model import HubStatus
from hub.trouble import Trouble
from machines import HealthState

if TYPE_CHECKING:
    from hub.app import DaemonInfo

log = logging.getLogger(__name__)

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"
#: A publication older than this means the loop runs but the scheduler makes no progress.
#: It is published every second; ten missed in a row is a hang, not a busy Pi.
PROGRESS_MAX_AGE_SECONDS = 10.0
#: After a check that found no recent progress, look again this soon: the publication is
#: stamped with the wall clock, and a clock step (NTP on a Pi without a clock battery) can
#: make one fresh publication look old.
RECHECK_SECONDS = 1.0
#: Without a watchdog, how often the STATUS line is refreshed.
STATUS_EVERY_SECONDS = 10.0


def notify_address(value: str) -> bytes | None:
    """`NOTIFY_SOCKET` as a socket address: `@name` is abstract, else an absolute path."""
    if value.startswith("@"):
        return b"\0" + os.fsencode(value[1:])
    if value.startswith("/"):
        return os.fsencode(value)
    return None


def watchdog_interval_seconds(environ: Mapping[str, str], pid: int) -> float | None:
    """Half of `WATCHDOG_USEC` when the watchdog is on for process `pid`, else None."""
    text = environ.get("WATCHDOG_USEC", "")
    owner = environ.get("WATCHDOG_PID", "")
    if not text or (owner and owner != str(pid)):  # off, or meant for another process
        return None
    try:
        usec = int(text)
    except ValueError:
        log.warning("WATCHDOG_USEC=%r is not a number of microseconds; not pinging", text)
        return None
    return usec / 2_000_000 if usec > 0 else None


def is_alive(progress_at: float, now: float,
             max_age_seconds: float = PROGRESS_MAX_AGE_SECONDS) -> bool:
    """Whether the loop proved itself alive: it made progress at `progress_at`, recently.

    Progress "in the future" (the clock stepped back) counts: the check itself ran on the
    loop, and the next publication is stamped with the new time.
    """
    return now - progress_at <= max_age_seconds


def status_line(status: HubStatus) -> str:
    """`3 components: 2 healthy, 1 alerting · outbox 0 queued`, for `systemctl status`."""
    counts = Counter(snapshot.state for snapshot in status.machines)
    states = ", ".join(f"{counts[state]} {state.value}" for state in HealthState
                       if counts[state])
    total = len(status.machines)
    watched = (f"{total} component{'' if total == 1 else 's'}: {states}" if total
               else "no components")
    return f"{watched} · outbox {status.outbox_depth} queued"


class Notifier:
    """Sends notify messages to one socket; without an address, sends nothing."""

    def __init__(self, address: bytes | None) -> None:
        self._address = address
        self._socket: socket.socket | None = None
        self._sending = Trouble(log, "notifying the service manager")
        if address is not None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            # A service manager that stops reading must never block the daemon's loop.
            self._socket.setblocking(False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Notifier:
        value = environ.get(NOTIFY_SOCKET_ENV, "")
        address = notify_address(value) if value else None
        if value and address is None:
            log.warning("%s=%r is neither an absolute path nor an @name; not notifying",
                        NOTIFY_SOCKET_ENV, value)
        return cls(address)

    @property
    def is_enabled(self) -> bool:
        return self._socket is not None

    def send(self, *assignments: str) -> bool:
        """One datagram of `KEY=value` lines; False when disabled, empty or not sent."""
        if self._socket is None or self._address is None or not assignments:
            return False
        try:
            self._socket.sendto("\n".join(assignments).encode(), self._address)
        except OSError as err:
            self._sending.happened("cannot notify the service manager: %s",
                                   err.strerror or err, level=logging.WARNING)
            return False
        self._sending.cleared()
        return True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LoopWatchdog:
    """One check of the loop's liveness, with its ping and status line (a step: testable).

    `status` reads the latest published `HubStatus` and `clock` is the daemon's clock, the
    one that stamps `HubStatus.at`.
    """

    def __init__(self, notifier: Notifier, status: Callable[[], HubStatus],
                 clock: Callable[[], float],
                 max_age_seconds: float = PROGRESS_MAX_AGE_SECONDS) -> None:
        self._notifier = notifier
        self._status = status
        self._clock = clock
        self._max_age_seconds = max_age_seconds
        self._shown: str | None = None
        self._stall = Trouble(log, "the watchdog's check")

    def beat(self) -> bool:
        """Ping the watchdog if the loop made progress recently; returns whether it did."""
        status, now = self._status(), self._clock()
        age = now - status.at
        if not is_alive(status.at, now, self._max_age_seconds):
            reason = f"no status published for {age:.0f} s"
        else:
            reason = "; ".join(stalls(status))
        if not reason:
            self._stall.cleared("the hub does its job again; pinging the watchdog again")
            self._notifier.send("WATCHDOG=1", *self._status_update(status_line(status)))
            return True
        self._stall.happened("%s: the watchdog is no longer pinged and systemd will restart "
                             "the hub", reason)
        self._notifier.send(*self._status_update(f"stalled: {reason}"))
        return False

    def refresh(self) -> None:
        """Update the status line only (when systemd runs no watchdog)."""
        self._notifier.send(*self._status_update(status_line(self._status())))

    def _status_update(self, line: str) -> tuple[str, ...]:
        if line == self._shown:
            return ()
        self._shown = line
        return (f"STATUS={line}",)


class Service:
    """What `divoom-hub run` tells systemd over its life; a no-op without NOTIFY_SOCKET.

    Use as `async with Service.from_environ(os.environ, stop) as service:` around
    `run_daemon(…, stop, on_ready=service.ready)`.
    """

    def __init__(self, notifier: Notifier, stop: asyncio.Event,
                 watchdog_interval_seconds: float | None) -> None:
        self._notifier = notifier
        self._stop = stop
        self._interval = watchdog_interval_seconds
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], stop: asyncio.Event,
                     pid: int | None = None) -> Service:
        pid = os.getpid() if pid is None else pid
        return cls(Notifier.from_environ(environ), stop, watchdog_interval_seconds(environ, pid))

    def ready(self, info: DaemonInfo) -> None:
        """`run_daemon`'s `on_ready` (on the loop): READY=1, then watch until `stop`."""
        if not self._notifier.is_enabled:
            return
        watchdog = LoopWatchdog(self._notifier, info.status, info.clock)
        page = f" · status page {info.status_url}" if info.status_url else ""
        self._notifier.send("READY=1", f"STATUS=running{page}")
        self._task = asyncio.get_running_loop().create_task(self._watch(watchdog),
                                                            name="service-watchdog")

    async def _watch(self, watchdog: LoopWatchdog) -> None:
        """The pinger: a task on the daemon's loop, so a hung loop cannot ping."""
        while not self._stop.is_set():
            if self._interval is None:
                watchdog.refresh()
                delay = STATUS_EVERY_SECONDS
            else:
                delay = self._interval if watchdog.beat() else min(self._interval,
                                                                   RECHECK_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=delay)
        self._notifier.send("STOPPING=1",
                            "STATUS=stopping: sending the stopped notice, draining the outbox")

    async def close(self) -> None:
        """Wait for STOPPING=1 to be sent (or cancel the pinger if the daemon crashed)."""
        task, self._task = self._task, None
        if task is not None:
            if not self._stop.is_set():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._notifier.close()

    async def __aenter__(self) -> Service:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
