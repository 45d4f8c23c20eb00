"""Polling a blocking source off the scheduler thread, one poll at a time.

`poll_outcomes` ticks on the scheduler (at once, then every `every_seconds`), runs the
blocking poll on an executor, and hands the `Outcome` back on the scheduler. A poll still
in flight is not started again: a hanging target costs one worker, delays nothing else,
and shows up as missing outcomes (`stale_after_seconds`) rather than a pile of threads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

import reactivex
from reactivex import Observable, abc

from hub.streams import hand_back, to_seconds
from machines import Outcome

log = logging.getLogger(__name__)


def poll_outcomes(component: str, poll: Callable[[], Outcome], every_seconds: float,
                  scheduler: abc.SchedulerBase, executor: Executor) -> Observable[Outcome]:
    """Outcomes of `poll`, emitted on `scheduler` (which must accept calls from threads)."""

    def subscribe(observer: abc.ObserverBase[Outcome],
                  _: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        in_flight = False

        def finished(future: Future[Outcome]) -> None:  # on a worker thread
            outcome = _result(component, future, to_seconds(scheduler.now))
            hand_back(scheduler, lambda: deliver(outcome))

        def deliver(outcome: Outcome) -> None:  # back on the scheduler
            nonlocal in_flight
            in_flight = False
            observer.on_next(outcome)

        def tick(_: Any) -> None:
            nonlocal in_flight
            if in_flight:
                return
            in_flight = True
            try:
                executor.submit(poll).add_done_callback(finished)
            except RuntimeError:  # the executor is shutting down: so are we
                in_flight = False

        return reactivex.timer(0.0, every_seconds, scheduler=scheduler).subscribe(
            tick, scheduler=scheduler)

    return reactivex.create(subscribe)


def _result(component: str, future: Future[Outcome], now: float) -> Outcome:
    """The poll's outcome; a poll that raised (a bug: sources never raise) is a failure."""
    if future.cancelled():
        return Outcome.failure(component, now, "cancelled", "poll cancelled at shutdown")
    error = future.exception()
    if error is None:
        return future.result()
    log.error("poll of %s raised; sources must return a failed Outcome instead", component,
              exc_info=error)
    return Outcome.failure(component, now, "crash", f"{type(error).__name__} in the poller")
