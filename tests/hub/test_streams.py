"""The reactive wiring on virtual time: timers exact, timer first, one owner of time."""

from __future__ import annotations

import asyncio
import threading

import pytest
import reactivex
from reactivex import Subject
from reactivex.scheduler.eventloop import AsyncIOScheduler
from reactivex.testing import TestScheduler

from hub.streams import health_notices, to_datetime
from machines import HealthMachines, HealthState, Notice, Outcome, Policy, Snapshot

F = Outcome.failure("bus", 0, "timeout", "read timed out")
S = Outcome.success("bus", 0)
LOOKUP = {"f": F, "s": S}
LETTER = {"alert": "A", "reminder": "R", "recovery": "V"}


def run(marbles: str, policy: Policy, until: float, timespan: float = 10.0,
        machines: HealthMachines | None = None) -> list[tuple[float, str]]:
    """Feed `marbles` (each character is `timespan` seconds) and list (time, kind letter)."""
    scheduler = TestScheduler()
    outcomes = reactivex.hot(marbles, timespan=timespan, lookup=LOOKUP, scheduler=scheduler)
    observer = scheduler.create_observer()
    health_notices(outcomes, machines or HealthMachines(), scheduler,
                   lambda _: policy).subscribe(observer)
    scheduler.advance_to(until)
    return [(m.time, LETTER[m.value.value.kind.value]) for m in observer.messages]


def test_alert_on_third_failure_and_reminders_at_exact_due_times_without_outcomes():
    policy = Policy(remind_after_seconds=100, remind_backoff=2, remind_max_seconds=1000)
    # failures at 10, 30, 50 (alert), then silence: reminders at 150, 350 (+200), 750 (+400)
    assert run("-f-f-f", policy, until=800) == [(50, "A"), (150, "R"), (350, "R"), (750, "R")]


def test_reminder_interval_is_capped_at_remind_max_seconds():
    policy = Policy(failures_before_alert=1, remind_after_seconds=100, remind_backoff=3,
                    remind_max_seconds=250)
    # alert 10; reminders at 110, then +250 (300 capped), +250 (900 capped)
    assert run("-f", policy, until=700) == [(10, "A"), (110, "R"), (360, "R"), (610, "R")]


def test_blip_below_threshold_sends_nothing():
    assert run("-f-f-s-f-f-s-f-f-s", Policy(), until=500) == []


def test_recovery_is_reported_with_exact_downtime():
    policy = Policy(failures_before_alert=2)
    scheduler = TestScheduler()
    outcomes = reactivex.hot("-f-f---s", timespan=10, lookup=LOOKUP, scheduler=scheduler)
    seen: list[Notice] = []
    health_notices(outcomes, HealthMachines(), scheduler, lambda _: policy).subscribe(seen.append)
    scheduler.advance_to(100)
    assert [(n.kind.value, n.at) for n in seen] == [("alert", 30), ("recovery", 70)]
    assert seen[1].downtime_seconds == 60  # first failure at 10


def test_escalation_by_age_fires_before_a_success_at_the_same_instant():
    # Two failures at 10 and 30 meet the count; the age rule (60 s) is met at 70 by
    # time alone. A success also arrives at exactly 70: the timer fires first, so the
    # owner gets the alert and then the recovery, rather than nothing.
    policy = Policy(failures_before_alert=2, failing_for_seconds=60)
    assert run("-f-f---s", policy, until=100) == [(70, "A"), (70, "V")]


def test_settle_timer_returns_recovered_to_healthy_at_exact_time():
    machines = HealthMachines()
    scheduler = TestScheduler()
    outcomes = reactivex.hot("-f-s", timespan=10, lookup=LOOKUP, scheduler=scheduler)
    health_notices(outcomes, machines, scheduler,
                   lambda _: Policy(failures_before_alert=1, settle_seconds=45)).subscribe()
    scheduler.advance_to(74.999)
    assert machines.state("bus") is HealthState.RECOVERED  # recovered at 30
    scheduler.advance_to(75)
    assert machines.state("bus") is HealthState.HEALTHY


def test_stale_component_alerts_without_any_outcome():
    machines = HealthMachines()
    machines.add("heartbeat", Policy(failures_before_alert=2, stale_after_seconds=30), now=0)
    scheduler = TestScheduler()
    seen: list[Notice] = []
    health_notices(reactivex.never(), machines, scheduler).subscribe(seen.append)
    scheduler.advance_to(59)
    assert seen == []
    scheduler.advance_to(60)  # stale at 30 and 60: the second silence alerts
    assert [(n.kind.value, n.at, n.error_type) for n in seen] == [("alert", 60, "stale")]


def test_restored_incident_keeps_its_reminder_schedule():
    machines = HealthMachines()
    machines.restore(Snapshot(component="bus", state=HealthState.REMINDING, since=100,
                              failures=7, first_failure_at=0, next_reminder_at=500,
                              reminders_sent=1, last_seen_at=90), Policy(stale_after_seconds=0))
    scheduler = TestScheduler()
    seen: list[Notice] = []
    health_notices(reactivex.never(), machines, scheduler).subscribe(seen.append)
    scheduler.advance_to(499)
    assert seen == []
    scheduler.advance_to(500)
    assert [(n.kind.value, n.at, n.reminder) for n in seen] == [("reminder", 500, 2)]
    assert seen[0].next_reminder_at == 500 + 900 * 2**2


def test_disposing_cancels_pending_timers():
    scheduler = TestScheduler()
    outcomes = reactivex.hot("-f", timespan=10, lookup=LOOKUP, scheduler=scheduler)
    seen: list[Notice] = []
    subscription = health_notices(outcomes, HealthMachines(), scheduler,
                                  lambda _: Policy(failures_before_alert=1)).subscribe(seen.append)
    scheduler.advance_to(20)
    subscription.dispose()
    scheduler.advance_to(100_000)
    assert [n.kind.value for n in seen] == ["alert"]  # no reminder after dispose


def test_unknown_component_without_policy_is_an_error():
    scheduler = TestScheduler()
    outcomes = reactivex.hot("-f", timespan=10, lookup=LOOKUP, scheduler=scheduler)
    errors: list[Exception] = []
    health_notices(outcomes, HealthMachines(), scheduler).subscribe(on_error=errors.append)
    scheduler.advance_to(20)
    assert len(errors) == 1 and "bus" in str(errors[0])


def test_outcomes_from_worker_threads_are_applied_on_the_scheduler_thread():
    scheduler = TestScheduler()
    machines = HealthMachines()
    feed: Subject[Outcome] = Subject()
    applied_on: list[threading.Thread] = []
    health_notices(feed, machines, scheduler, lambda _: Policy(failures_before_alert=1)) \
        .subscribe(lambda notice: applied_on.append(threading.current_thread()))
    worker = threading.Thread(target=feed.on_next, args=(F,))
    worker.start()
    worker.join(timeout=5)
    assert "bus" not in machines  # nothing touched a machine from the worker thread
    scheduler.advance_by(1)
    assert machines.state("bus") is HealthState.ALERTING
    assert applied_on == [threading.main_thread()]


def test_same_wiring_runs_on_an_asyncio_loop():
    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        scheduler = AsyncIOScheduler(loop)
        feed: Subject[Outcome] = Subject()
        got = asyncio.Event()
        seen: list[str] = []

        def on_notice(notice: Notice) -> None:
            seen.append(notice.kind.value)
            got.set()

        subscription = health_notices(feed, HealthMachines(), scheduler,
                                      lambda _: Policy(failures_before_alert=2)) \
            .subscribe(on_notice)
        feed.on_next(F)
        feed.on_next(F)
        await asyncio.wait_for(got.wait(), timeout=5)
        subscription.dispose()
        return seen

    assert asyncio.run(scenario()) == ["alert"]


@pytest.mark.parametrize("due", [0.1 + 0.7, 1e-6 * 3, 1234567.123456789])
def test_timers_fire_even_when_the_scheduler_rounds_the_due_time(due):
    # Virtual schedulers keep datetimes at microsecond precision; a due time that does
    # not round-trip must still fire (at the due time), never loop or be skipped.
    assert to_datetime(due)  # representable
    machines = HealthMachines()
    machines.add("bus", Policy(failures_before_alert=1, settle_seconds=due), now=0)
    machines.observe(Outcome.failure("bus", 0, "x"), 0)
    machines.observe(Outcome.success("bus", 0), 0)
    scheduler = TestScheduler()
    health_notices(reactivex.never(), machines, scheduler).subscribe()
    scheduler.advance_to(due + 1e-3)
    assert machines.state("bus") is HealthState.HEALTHY


def faulty_machines() -> HealthMachines:
    """`bus` restored with a reminder due in the year 10**292 (a damaged journal, say):
    scheduling its timer raises OverflowError."""
    machines = HealthMachines()
    machines.restore(Snapshot(component="bus", state=HealthState.ALERTING, since=0,
                              failures=3, first_failure_at=0, next_reminder_at=1e300,
                              last_seen_at=0), Policy())
    return machines


def test_an_exception_while_handling_one_component_is_handed_on_and_the_stream_goes_on():
    scheduler = TestScheduler()
    outcomes = reactivex.hot("-s-f-f-f", timespan=10, scheduler=scheduler, lookup={
        "s": Outcome.success("bus", 0), "f": Outcome.failure("weather", 0, "timeout")})
    faults: list[tuple[str, str]] = []
    seen: list[Notice] = []
    errors: list[Exception] = []
    health_notices(outcomes, faulty_machines(), scheduler, lambda _: Policy(),
                   on_fault=lambda where, err: faults.append((where, type(err).__name__))
                   ).subscribe(seen.append, errors.append)
    scheduler.advance_to(100)
    # bus's timer could not be set at start; its recovery still went out (and set the
    # settle timer as usual), and weather alerts as usual.
    assert faults == [("the timer of bus", "OverflowError")]
    assert [(n.kind.value, n.component, n.at) for n in seen] == [
        ("recovery", "bus", 10.0), ("alert", "weather", 70.0)]
    assert errors == []


def test_without_on_fault_the_exception_ends_the_stream_as_an_error():
    scheduler = TestScheduler()
    errors: list[Exception] = []
    outcomes = reactivex.hot("-s", timespan=10, scheduler=scheduler,
                             lookup={"s": Outcome.success("nobody", 0)})
    health_notices(outcomes, HealthMachines(), scheduler).subscribe(on_error=errors.append)
    scheduler.advance_to(100)
    assert [type(e) for e in errors] == [KeyError]


# -- cost: no hop on the owner's thread, one per batch from elsewhere, timers kept ---------

class CountingScheduler(TestScheduler):
    """A `TestScheduler` that counts what is scheduled on it: immediate calls (the hop)
    and absolute ones (the machines' timers; `schedule` goes through `schedule_absolute`
    too, so those are counted apart)."""

    def __init__(self) -> None:
        super().__init__()
        self.immediate = 0
        self.absolute = 0
        self._is_immediate = False

    def schedule(self, action, state=None):  # type: ignore[no-untyped-def]
        self.immediate += 1
        self._is_immediate = True
        try:
            return super().schedule(action, state)
        finally:
            self._is_immediate = False

    def schedule_absolute(self, duetime, action, state=None):  # type: ignore[no-untyped-def]
        self.absolute += not self._is_immediate
        return super().schedule_absolute(duetime, action, state)


def test_an_outcome_on_the_scheduler_thread_is_handled_at_once():
    scheduler = CountingScheduler()
    machines = HealthMachines()
    feed: Subject[Outcome] = Subject()
    seen: list[Notice] = []
    health_notices(feed, machines, scheduler,
                   lambda _: Policy(failures_before_alert=1)).subscribe(seen.append)
    scheduled = scheduler.immediate  # the start-up call that times the machines
    feed.on_next(F)
    assert machines.state("bus") is HealthState.ALERTING and len(seen) == 1
    assert scheduler.immediate == scheduled  # no hop


def test_outcomes_from_another_thread_arriving_together_take_one_scheduled_call():
    scheduler = CountingScheduler()
    machines = HealthMachines()
    feed: Subject[Outcome] = Subject()
    health_notices(feed, machines, scheduler,
                   lambda _: Policy(failures_before_alert=3)).subscribe()
    scheduled = scheduler.immediate

    def burst() -> None:
        for _ in range(3):
            feed.on_next(F)

    worker = threading.Thread(target=burst)
    worker.start()
    worker.join(timeout=5)
    assert "bus" not in machines  # nothing applied on the worker
    assert scheduler.immediate == scheduled + 1
    scheduler.advance_by(1)
    assert machines.state("bus") is HealthState.ALERTING  # all three, in order


def test_a_deadline_pushed_back_by_every_outcome_keeps_its_timer_and_still_fires_on_time():
    scheduler = CountingScheduler()
    feed: Subject[Outcome] = Subject()
    policy = Policy(stale_after_seconds=35, failures_before_alert=1)
    seen: list[tuple[float, str]] = []
    health_notices(feed, HealthMachines(), scheduler, lambda _: policy).subscribe(
        lambda n: seen.append((n.at, n.kind.value)))
    for second in range(10, 110, 10):  # a success every 10 s, the last at 100
        scheduler.advance_to(second)
        feed.on_next(Outcome.success("bus", second))
    scheduler.advance_to(135)
    # Each outcome pushed the staleness deadline 10 s later; the timer was set about once
    # per 35 s instead (it fires early, finds nothing due and re-arms), not ten times ...
    assert scheduler.absolute <= 5  # the fifth: the next deadline, set by the alert
    # ... and staleness still alerts exactly 35 s after the last outcome.
    assert seen == [(135.0, "alert")]
