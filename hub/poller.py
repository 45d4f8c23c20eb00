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

import reactivex
from reactivex import Observable, abc

from hub.streams import to_seconds
from hub.workers import OneAtATime
from machines import Outcome

log = logging.getLogger(__name__)


def poll_outcomes(component: str, poll: Callable[[], Outcome], every_seconds: float,
                  scheduler: abc.SchedulerBase, executor: Executor) -> Observable[Outcome]:
    """Outcomes of `poll`, emitted on `scheduler` (which must accept calls from threads)."""

    def subscribe(observer: abc.ObserverBase[Outcome],
                  _: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        polling: OneAtATime[Outcome] = OneAtATime(executor, scheduler)

        def finished(future: Future[Outcome]) -> None:  # back on the scheduler
            observer.on_next(_result(component, future, to_seconds(scheduler.now)))

        def tick(_: int) -> None:  # a poll still in flight is not started again
            polling.submit(poll, finished)

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
