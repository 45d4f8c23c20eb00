"""Reactive wiring: outcomes in, notices out, on one scheduler that owns time.

`health_notices` is the only place machines are updated. It runs unchanged on a real
scheduler (the daemon's asyncio loop) and on a virtual one (`TestScheduler`,
`HistoricalScheduler`: the tests and `divoom-hub replay`):

* outcomes may arrive from any thread; they are moved onto the scheduler first;
* each machine's next deadline (`HealthMachines.next_due`) is scheduled at exactly that
  instant, and rescheduled after every change, so reminders and escalations fire on
  time with no polling tick;
* an outcome is applied after any timer due at or before its instant (timer first).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import reactivex
from reactivex import Observable, abc
from reactivex import operators as ops
from reactivex.disposable import CompositeDisposable, Disposable

from machines import HealthMachines, Notice, Outcome, Policy

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_seconds(moment: datetime) -> float:
    """Seconds since the epoch of a scheduler's aware `now`."""
    return (moment - EPOCH).total_seconds()


def to_datetime(seconds: float) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


class MonotonicClock:
    """The machines' `now`: the scheduler's clock, never going backwards.

    A wall clock can step back (NTP) and a virtual timer can be scheduled with
    microsecond rounding; machines must never see time reverse.
    """

    def __init__(self, scheduler: abc.SchedulerBase) -> None:
        self._scheduler = scheduler
        self._last = -math.inf

    def now(self, at_least: float = -math.inf) -> float:
        self._last = max(self._last, to_seconds(self._scheduler.now), at_least)
        return self._last


def health_notices(
    outcomes: Observable[Outcome],
    machines: HealthMachines,
    scheduler: abc.SchedulerBase,
    policy_for: Callable[[str], Policy] | None = None,
) -> Observable[Notice]:
    """Feed `outcomes` to `machines` on `scheduler` and emit the notices they produce.

    Components already in `machines` are timed from subscription on (staleness,
    restored incidents). An outcome for an unknown component adds a machine with
    `policy_for(component)` if given, and is an error otherwise.
    """

    def subscribe(observer: abc.ObserverBase[Notice],
                  _: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        clock = MonotonicClock(scheduler)
        timers: dict[str, abc.DisposableBase] = {}

        def emit(notices: list[Notice]) -> None:
            for notice in notices:
                observer.on_next(notice)

        def reschedule(component: str) -> None:
            previous = timers.pop(component, None)
            if previous is not None:
                previous.dispose()
            due = machines.next_due(component)
            if due is None:
                return

            def fire(_: abc.SchedulerBase, __: Any = None) -> None:
                timers.pop(component, None)
                emit(machines.tick(component, clock.now(at_least=due)))
                reschedule(component)

            timers[component] = scheduler.schedule_absolute(to_datetime(due), fire)

        def on_outcome(outcome: Outcome) -> None:
            now = clock.now()
            component = outcome.component
            if component not in machines:
                if policy_for is None:
                    observer.on_error(KeyError(f"outcome for unknown component {component!r}"))
                    return
                machines.add(component, policy_for(component), now)
            emit(machines.observe(outcome, now))
            reschedule(component)

        def start(_: abc.SchedulerBase, __: Any = None) -> None:
            for component in list(machines):
                reschedule(component)

        def cancel_timers() -> None:
            for timer in timers.values():
                timer.dispose()
            timers.clear()

        started = scheduler.schedule(start)
        subscription = outcomes.pipe(ops.observe_on(scheduler)).subscribe(
            on_outcome, observer.on_error, observer.on_completed, scheduler=scheduler)
        return CompositeDisposable(started, subscription, Disposable(cancel_timers))

    return reactivex.create(subscribe)
