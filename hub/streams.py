"""Reactive wiring: outcomes in, notices out, on one scheduler that owns time.

`health_notices` is the only place machines are updated. It runs unchanged on a real
scheduler (the daemon's asyncio loop) and on a virtual one (`TestScheduler`,
`HistoricalScheduler`: the tests and `divoom-hub replay`):

* outcomes may arrive from any thread; they are moved onto the scheduler first;
* each machine's next deadline (`HealthMachines.next_due`) is scheduled at exactly that
  instant, and rescheduled after every change, so reminders and escalations fire on
  time with no polling tick;
* an outcome is applied after any timer due at or before its instant (timer first);
* with `on_fault`, an exception while handling one outcome or timer is handed to it and
  the stream goes on with the next: one bad moment never stops the monitoring (the daemon
  turns faults into failures of its own component, `hub`). Without it (replay, tests) the
  exception ends the stream as an error, so it cannot go unnoticed there either.
"""

from __future__ import annotations

import functools
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
    on_fault: Callable[[str, Exception], None] | None = None,
) -> Observable[Notice]:
    """Feed `outcomes` to `machines` on `scheduler` and emit the notices they produce.

    Components already in `machines` are timed from subscription on (staleness,
    restored incidents). An outcome for an unknown component adds a machine with
    `policy_for(component)` if given, and is an error otherwise. `on_fault(where, error)`
    is told of an exception raised while handling one outcome or timer (see above).
    """

    def subscribe(observer: abc.ObserverBase[Notice],
                  _: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        clock = MonotonicClock(scheduler)
        timers: dict[str, abc.DisposableBase] = {}

        def emit(notices: list[Notice]) -> None:
            for notice in notices:
                observer.on_next(notice)

        def guarded(what: str, component: str, action: Callable[[], None]) -> bool:
            """Run `action`; True if it raised (and the fault, said as "`what` of
            `component`", was handed on). Nothing is formatted unless it raised: this runs
            for every outcome."""
            if on_fault is None:
                action()
                return False
            try:
                action()
            except Exception as err:  # noqa: BLE001 - the stream's one supervisor
                on_fault(f"{what} of {component}", err)
                return True
            return False

        def reschedule(component: str) -> None:
            previous = timers.pop(component, None)
            if previous is not None:
                previous.dispose()
            due = machines.next_due(component)
            if due is None:
                return

            def fire(_: abc.SchedulerBase, __: Any = None) -> None:
                timers.pop(component, None)
                if guarded("the timer", component,
                           lambda: emit(machines.tick(component, clock.now(at_least=due)))):
                    return  # not rescheduled at the same instant: the next outcome does it
                guarded("the timer", component, lambda: reschedule(component))

            timers[component] = scheduler.schedule_absolute(to_datetime(due), fire)

        def handle(outcome: Outcome) -> None:
            now = clock.now()
            component = outcome.component
            if component not in machines:
                if policy_for is None:
                    raise KeyError(f"outcome for unknown component {component!r}")
                machines.add(component, policy_for(component), now)
            emit(machines.observe(outcome, now))
            reschedule(component)

        def on_outcome(outcome: Outcome) -> None:
            try:
                guarded("an outcome", outcome.component, lambda: handle(outcome))
            except Exception as err:  # noqa: BLE001 - without on_fault: the stream's error
                observer.on_error(err)

        def start(_: abc.SchedulerBase, __: Any = None) -> None:
            for component in list(machines):
                guarded("the timer", component, functools.partial(reschedule, component))

        def cancel_timers() -> None:
            for timer in timers.values():
                timer.dispose()
            timers.clear()

        started = scheduler.schedule(start)
        subscription = outcomes.pipe(ops.observe_on(scheduler)).subscribe(
            on_outcome, observer.on_error, observer.on_completed, scheduler=scheduler)
        return CompositeDisposable(started, subscription, Disposable(cancel_timers))

    return reactivex.create(subscribe)
