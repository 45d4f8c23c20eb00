"""The notification policy at work, after the health machines, on the scheduler that owns time.

`PolicyRunner` is the one wiring of the pure policy (machines/notification.py); the daemon
and `divoom-hub replay` both use it, so what replay prints is what the hub does:

* each notice is decided at the scheduler's `now` (never earlier than the last decision);
* the `[[maintenance]]` occurrences are computed as time goes: those that can cover `now`
  began at most 7 days before (the longest window), and the policy looks no further than
  their ends, so a history or an uptime of any span costs only the days it touches;
* the policy's own timer (a silence ending while it holds an alert) is scheduled at exactly
  its instant and moved after every decision, like the machines' timers in hub/streams.py;
* every decision, sent and held notices in order, goes to `decided`.

Operator actions (`ack`, `mute`, `unmute`) raise `Refused` with the reason to give.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import tzinfo
from typing import Any

from reactivex import abc
from reactivex.disposable import SerialDisposable

from hub.maintenance import LONGEST_WINDOW_SECONDS, MaintenanceWindow, occurrences
from hub.streams import to_datetime, to_seconds
from machines import Notice, NotificationPolicy

#: How far ahead maintenance occurrences are computed at a time: a day keeps the list
#: short, and the policy never looks past the end of a window that has begun.
WINDOWS_AHEAD_SECONDS = 86_400.0


class PolicyRunner:
    """`policy` on `scheduler`, fed notices and operator actions; see the module docstring."""

    def __init__(self, policy: NotificationPolicy, scheduler: abc.SchedulerBase,
                 decided: Callable[[list[Notice]], None], *,
                 maintenance: Iterable[MaintenanceWindow] = (),
                 zone: tzinfo | None = None) -> None:
        self.policy = policy
        self._scheduler = scheduler
        self._decided = decided
        self._maintenance = tuple(maintenance)
        self._zone = zone
        self._windows_until = -math.inf
        self._last = -math.inf
        self._timer = SerialDisposable()

    def now(self) -> float:
        """The scheduler's time, never earlier than a decision already made."""
        self._last = max(self._last, to_seconds(self._scheduler.now))
        return self._last

    def at(self, now: float) -> NotificationPolicy:
        """The policy, knowing every maintenance occurrence that can matter from `now` on."""
        if now > self._windows_until and self._maintenance:
            self._windows_until = now + WINDOWS_AHEAD_SECONDS
            self.policy.set_windows(occurrences(
                self._maintenance, now - LONGEST_WINDOW_SECONDS, self._windows_until,
                self._zone))
        return self.policy

    def start(self) -> None:
        """Decide what is due at once (a silence that ended while the hub was down) and
        set the timer; call once, on the scheduler."""
        now = self.now()
        self._decide(self.at(now).tick(now))

    def observe(self, notice: Notice) -> None:
        now = self.now()
        self._decide(self.at(now).observe(notice, now))

    # Each action returns what it decided (a held alert sent when its silence ended).

    def ack(self, target: str, by: str, reason: str = "") -> list[Notice]:
        now = self.now()
        return self._decide(self.at(now).ack(target, now, by, reason))

    def mute(self, target: str, for_seconds: float, by: str = "",
             reason: str = "") -> list[Notice]:
        now = self.now()
        return self._decide(self.at(now).mute(target, now, for_seconds, by, reason))

    def unmute(self, target: str) -> list[Notice]:
        now = self.now()
        return self._decide(self.at(now).unmute(target, now))

    def dispose(self) -> None:
        self._timer.dispose()

    def _decide(self, notices: list[Notice]) -> list[Notice]:
        """Hand on what was decided, then time the policy's next due instant (a maintenance
        window that begins later needs no timer: a notice or an action meets it)."""
        self._decided(notices)
        due = self.policy.next_due()
        if due is None:
            self._timer.disposable = None
            return notices

        def fire(_: abc.SchedulerBase, __: Any = None) -> None:
            now = self.now()
            self._decide(self.at(max(now, due)).tick(max(now, due)))

        self._timer.disposable = self._scheduler.schedule_absolute(to_datetime(due), fire)
        return notices
