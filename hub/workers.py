"""Blocking work off the loop, and its result back on the scheduler that owns time.

Sources poll, the display pushes frames and writes previews on worker threads; what they
produce must come back to the one scheduler that owns the machines (DESIGN.md rule 2).
Each of them also needs the same gate: while one call is in flight the next is
skipped, not queued, so a hanging target costs one worker and a backlog never forms.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Generic, TypeVar

from reactivex import abc

T = TypeVar("T")


def hand_back(scheduler: abc.SchedulerBase, action: Callable[[], None]) -> None:
    """Run `action` on `scheduler`, from a worker thread that finished a blocking call.

    A worker may finish after the daemon stopped and its loop closed: then the result has
    nobody left to go to, and is let go instead of raising in the worker.
    """
    with contextlib.suppress(RuntimeError):  # "Event loop is closed"
        scheduler.schedule(lambda _s, _st: action())


class OneAtATime(Generic[T]):
    """Runs a blocking call on `executor`, at most one at a time; its finished future is
    handed to `done` on `scheduler`. Use from the scheduler only."""

    def __init__(self, executor: Executor, scheduler: abc.SchedulerBase) -> None:
        self._executor = executor
        self._scheduler = scheduler
        self.is_busy = False

    def submit(self, work: Callable[[], T], done: Callable[[Future[T]], None]) -> bool:
        """Start `work` unless one is in flight; whether it was started."""
        if self.is_busy:
            return False
        self.is_busy = True
        try:
            future = self._executor.submit(work)
        except RuntimeError:  # the executor is shutting down: so is the daemon
            self.is_busy = False
            return False
        future.add_done_callback(  # on the worker thread
            lambda finished: hand_back(self._scheduler, lambda: self._finish(finished, done)))
        return True

    def _finish(self, future: Future[T], done: Callable[[Future[T]], None]) -> None:
        self.is_busy = False
        done(future)
