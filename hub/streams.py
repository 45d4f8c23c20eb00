"""Reactive wiring: outcomes in, notices out, on one scheduler that owns time.

`health_notices` is the only place machines are updated. It runs unchanged on a real
scheduler (the daemon's asyncio loop) and on a virtual one (`TestScheduler`,
`HistoricalScheduler`: the tests and `divoom-hub replay`):

* outcomes may arrive from any thread; they are moved onto the scheduler first, those
  that arrive together in one scheduled call (`OwnerHop`); one that arrives on the
  scheduler's own thread with nothing before it is handled at once, without a hop;
* each machine's next deadline (`HealthMachines.next_due`) is scheduled at exactly that
  instant, and rescheduled when a change brings it sooner, so reminders and escalations
  fire on time with no polling tick; a timer whose deadline moved later stays, fires,
  finds nothing due and re-arms (one timer per period, not one per outcome);
* an outcome is applied after any timer due at or before its instant (timer first);
* with `on_fault`, an exception while handling one outcome or timer is handed to it and
  the stream goes on with the next: one bad moment never stops the monitoring (the daemon
  turns faults into failures of its own component, `hub`). Without it (replay, tests) the
  exception ends the stream as an error, so it cannot go unnoticed there either.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import reactivex
from reactivex import Observable, abc
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


class OwnerHop:
    """Hands items to `handle` on the scheduler's thread, in arrival order, each batch of
    items that arrived together in one scheduled call.

    `reactivex`'s `observe_on` schedules every item on its own; on a busy hub outcomes
    arrive in bursts (pollers finishing together) or already on the scheduler's thread
    (sources that emit there), where a hop buys nothing but cost. An item that arrives on
    the owner's thread while nothing is queued or being handled, and `may_run_now()`
    allows (no timer of ours is due first), is handled at once; any other is queued and
    the queue drained by one scheduled call.
    """

    def __init__(self, scheduler: abc.SchedulerBase, handle: Callable[[Any], None],
                 may_run_now: Callable[[], bool] = lambda: True) -> None:
        self._scheduler = scheduler
        self._handle = handle
        self._may_run_now = may_run_now
        self._owner = threading.get_ident()  # the thread that runs the scheduler
        self._queue: deque[Any] = deque()
        self._lock = threading.Lock()
        self._is_scheduled = False
        self._is_draining = False
        self.pending: abc.DisposableBase | None = None

    def put(self, item: Any) -> None:
        if threading.get_ident() == self._owner and not self._is_draining \
                and not self._is_scheduled and not self._queue and self._may_run_now():
            self._queue.append(item)
            self._drain()
            return
        with self._lock:
            self._queue.append(item)
            if self._is_scheduled:
                return
            self._is_scheduled = True
        self.pending = self._scheduler.schedule(self._scheduled_drain)

    def _scheduled_drain(self, _: abc.SchedulerBase, __: Any = None) -> None:
        with self._lock:
            self._is_scheduled = False
        self._drain()

    def _drain(self) -> None:
        if self._is_draining:  # an item handed in while one is handled waits its turn
            return
        self._is_draining = True
        try:
            while self._queue:
                self._handle(self._queue.popleft())
        finally:
            self._is_draining = False


def health_notices(
    outcomes: Observable[Outcome],
    machines: HealthMachines,
    scheduler: abc.SchedulerBase,
    policy_for: Callable[[str], Policy] | None = None,
    on_fault: Callable[[str, Exception], None] | None = None,
    parents_first: Callable[[Iterable[str]], list[str]] | None = None,
) -> Observable[Notice]:
    """Feed `outcomes` to `machines` on `scheduler` and emit the notices they produce.

    Components already in `machines` are timed from subscription on (staleness,
    restored incidents). An outcome for an unknown component adds a machine with
    `policy_for(component)` if given, and is an error otherwise. `on_fault(where, error)`
    is told of an exception raised while handling one outcome or timer (see above).
    `parents_first` orders components by their `depends_on` (machines/dependencies.py):
    timers due at the same instant fire in that order (DESIGN.md, "Precise rules"), so a
    parent's alert is decided before its children's; without it, in scheduling order.
    """

    def subscribe(observer: abc.ObserverBase[Notice],
                  _: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        clock = MonotonicClock(scheduler)
        # Each component's timer and its instant; `dues` is a heap of (instant, order set,
        # component): timers of one instant come off it in the order they were set.
        # that may hold instants no longer scheduled (checked against `timers`).
        timers: dict[str, tuple[float, abc.DisposableBase]] = {}
        dues: list[tuple[float, int, str]] = []
        set_order = itertools.count()

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
            due = machines.next_due(component)
            previous = timers.get(component)
            if previous is not None:
                if due is None or previous[0] <= due:
                    # The timer stands: firing no later than the deadline, it ticks
                    # (a no-op when nothing is due yet) and re-arms at the new one. A
                    # deadline pushed back by every outcome (staleness) so costs one
                    # timer per period instead of one per outcome.
                    return
                del timers[component]
                previous[1].dispose()
            if due is None:
                return

            def fire(_: abc.SchedulerBase, __: Any = None) -> None:
                timers.pop(component, None)
                together = [component]
                if parents_first is not None:
                    # Every other timer due at this very instant fires now, in order.
                    together += due_at(due)
                    if len(together) > 1:
                        together = parents_first(together)
                for name in together:
                    tick(name, due)

            timers[component] = (due, scheduler.schedule_absolute(to_datetime(due), fire))
            heapq.heappush(dues, (due, next(set_order), component))

        def due_at(instant: float) -> list[str]:
            """Take the timers still set for `instant` off the schedule (the heap holds them
            at its top, behind stale entries); their components."""
            found: list[str] = []
            earlier: list[tuple[float, int, str]] = []  # set, not fired yet: they stay
            while dues and dues[0][0] <= instant:
                entry = heapq.heappop(dues)
                at, _, name = entry
                timer = timers.get(name)
                if timer is None or timer[0] != at:
                    continue  # fired, moved or cancelled
                if at < instant:
                    earlier.append(entry)
                    continue
                del timers[name]
                timer[1].dispose()
                found.append(name)
            for entry in earlier:
                heapq.heappush(dues, entry)
            return found

        def tick(component: str, due: float) -> None:
            if guarded("the timer", component,
                       lambda: emit(machines.tick(component, clock.now(at_least=due)))):
                return  # not rescheduled at the same instant: the next outcome does it
            guarded("the timer", component, lambda: reschedule(component))

        def is_no_timer_due() -> bool:
            """Whether no timer of ours is due by now (it must fire before an outcome)."""
            while dues and timers.get(dues[0][2], (None,))[0] != dues[0][0]:
                heapq.heappop(dues)  # fired, moved or cancelled
            return not dues or dues[0][0] > to_seconds(scheduler.now)

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
            for _, timer in timers.values():
                timer.dispose()
            timers.clear()
            dues.clear()
            if hop.pending is not None:
                hop.pending.dispose()

        def on_item(item: Outcome | _End) -> None:
            if isinstance(item, _End):
                item.deliver(observer)
            else:
                on_outcome(item)

        hop = OwnerHop(scheduler, on_item, is_no_timer_due)
        started = scheduler.schedule(start)
        subscription = outcomes.subscribe(
            hop.put, lambda error: hop.put(_End(error)), lambda: hop.put(_End(None)),
            scheduler=scheduler)
        return CompositeDisposable(started, subscription, Disposable(cancel_timers))

    return reactivex.create(subscribe)


class _End:
    """The source's completion or error, passed through the hop behind the outcomes that
    came before it."""

    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def deliver(self, observer: abc.ObserverBase[Notice]) -> None:
        if self.error is None:
            observer.on_completed()
        else:
            observer.on_error(self.error)
