"""Polling on virtual time: one poll in flight at most, outcomes back on the scheduler."""

from __future__ import annotations

import threading
from concurrent.futures import Executor, Future, ThreadPoolExecutor

from reactivex.testing import TestScheduler

from hub.poller import poll_outcomes
from machines import Outcome


class HeldExecutor(Executor):
    """Runs submitted polls only when the test says so (a hanging target, on demand)."""

    def __init__(self) -> None:
        self.held: list[tuple[Future, object]] = []

    def submit(self, fn, /, *args, **kwargs):
        future: Future = Future()
        self.held.append((future, fn))
        return future

    def release_all(self) -> None:
        held, self.held = self.held, []
        for future, fn in held:
            try:
                future.set_result(fn())
            except Exception as err:  # noqa: BLE001 - hand the poll's error to its future
                future.set_exception(err)


def ok_poll() -> Outcome:
    return Outcome.success("api", 0)


def test_polls_at_once_then_every_interval():
    scheduler, executor, seen = TestScheduler(), HeldExecutor(), []
    poll_outcomes("api", ok_poll, 30, scheduler, executor).subscribe(seen.append)
    for until in (0.001, 30, 60):
        scheduler.advance_to(until)
        executor.release_all()
    scheduler.advance_to(60.5)
    assert len(seen) == 3


def test_a_poll_in_flight_is_not_started_again():
    scheduler, executor, seen = TestScheduler(), HeldExecutor(), []
    poll_outcomes("api", ok_poll, 10, scheduler, executor).subscribe(seen.append)
    scheduler.advance_to(100)  # the first poll hangs through ten ticks
    assert len(executor.held) == 1 and seen == []
    executor.release_all()
    scheduler.advance_to(100.5)
    assert len(seen) == 1
    scheduler.advance_to(110)
    assert len(executor.held) == 1  # polling resumed on the next tick


def test_a_poll_that_raises_becomes_a_failed_outcome():
    def broken() -> Outcome:
        raise ZeroDivisionError("bug")

    scheduler, executor, seen = TestScheduler(), HeldExecutor(), []
    poll_outcomes("api", broken, 10, scheduler, executor).subscribe(seen.append)
    scheduler.advance_to(0.001)
    executor.release_all()
    scheduler.advance_to(1)
    assert [(o.ok, o.error_type, o.component) for o in seen] == [(False, "crash", "api")]


def test_outcomes_are_delivered_on_the_scheduler_not_the_worker_thread():
    scheduler, seen_on = TestScheduler(), []
    done = threading.Event()

    def poll() -> Outcome:
        done.set()
        return ok_poll()

    with ThreadPoolExecutor(max_workers=1) as executor:
        poll_outcomes("api", poll, 10, scheduler, executor).subscribe(
            lambda _: seen_on.append(threading.current_thread()))
        scheduler.advance_to(0.001)
        assert done.wait(timeout=5)
    scheduler.advance_to(1)  # the worker scheduled delivery; the scheduler runs it here
    assert seen_on == [threading.main_thread()]
