"""The declared rules of the health machine, checked on generated histories and policies.

DESIGN.md ("The health machine") is the contract. Time is driven the way its owner
(`hub.streams.health_notices`) drives it: before each outcome, every timer is fired at
its exact due instant (`next_due`), so a timer and an outcome at the same instant run
timer first. `drive` (tests/machines/drive.py, with the generated scenarios) does that
on the pure machines; `drive_wiring` runs the real reactive wiring on a `TestScheduler`,
and one property pins that both agree.

Example counts come from the Hypothesis profile (tests/conftest.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fractions import Fraction

from hypothesis import given, reject
from hypothesis import strategies as st
from reactivex import Subject, abc
from reactivex.testing import TestScheduler

from hub.streams import health_notices
from machines import (
    HealthMachines,
    HealthState,
    Notice,
    NoticeKind,
    Outcome,
    Policy,
    PolicyError,
)
from tests.machines.drive import HALF, Emitted, Scenario, drive, gaps, policies, scenarios

#: Whole backoffs keep every due time on whole microseconds, which the virtual
#: schedulers represent exactly (they keep datetimes).
WHOLE_BACKOFFS = (1, 2, 3)


# -- driving time like the owner does -----------------------------------------------------

def drive_wiring(scenario: Scenario) -> list[Notice]:
    """The real wiring (`health_notices`) on a `TestScheduler`, outcomes at their `at`."""
    scheduler = TestScheduler()
    feed: Subject[Outcome] = Subject()
    notices: list[Notice] = []
    subscription = health_notices(feed, HealthMachines(), scheduler, scenario.policy) \
        .subscribe(notices.append)

    def deliver(_: abc.SchedulerBase, outcome: Outcome | None) -> None:
        assert outcome is not None
        feed.on_next(outcome)

    for outcome in scenario.events:
        scheduler.schedule_absolute(outcome.at, deliver, state=outcome)
    scheduler.advance_to(scenario.until)
    subscription.dispose()
    return notices


# -- reading results ----------------------------------------------------------------------

def of(component: str, emitted: Iterable[Emitted]) -> list[Emitted]:
    return [e for e in emitted if e.notice.component == component]


def incidents(emitted: list[Emitted]) -> list[list[Emitted]]:
    """One component's notices cut into incidents: alert, reminders…, recovery?"""
    cut: list[list[Emitted]] = []
    for item in emitted:
        if item.notice.kind is NoticeKind.ALERT:
            cut.append([])
        cut[-1].append(item)
    return cut


def trailing_failures(seen: tuple[Outcome, ...]) -> list[Outcome]:
    """The failures since the last success."""
    run: list[Outcome] = []
    for outcome in seen:
        run = [] if outcome.ok else [*run, outcome]
    return run


def expected_first_alert(outcomes: list[Outcome], policy: Policy, until: float) -> float | None:
    """When the first alert is due by the rule, read straight off the history.

    Before any alert, a success ends a run of failures. A run alerts at
    T = max(time of its `failures_before_alert`-th failure, first failure + failing_for)
    if T comes no later than the success that ends it (a timer at the success's instant
    fires first), or no later than `until` when nothing ends it.
    """
    run: list[Outcome] = []
    for outcome in [*outcomes, None]:
        if outcome is not None and not outcome.ok:
            run.append(outcome)
            continue
        end = until if outcome is None else outcome.at
        if len(run) >= policy.failures_before_alert:
            due = max(run[policy.failures_before_alert - 1].at,
                      run[0].at + policy.failing_for_seconds)
            if due <= end:
                return due
        run = []
    return None


# -- the properties -----------------------------------------------------------------------

@given(scenarios(stale=False))
def test_no_alert_before_the_threshold_count_and_age(scenario):
    for item in drive(scenario):
        if item.notice.kind is not NoticeKind.ALERT:
            continue
        policy = scenario.policy(item.notice.component)
        run = trailing_failures(item.seen)
        assert len(run) >= policy.failures_before_alert
        assert item.notice.at - run[0].at >= policy.failing_for_seconds


@given(scenarios(stale=False))
def test_first_alert_comes_exactly_when_the_threshold_is_met(scenario):
    emitted = drive(scenario)
    for component in scenario.policies:
        outcomes = [o for o in scenario.events if o.component == component]
        due = expected_first_alert(outcomes, scenario.policy(component), scenario.until)
        notices = [e.notice for e in of(component, emitted)]
        if due is None:
            assert notices == []
        else:
            assert (notices[0].kind, notices[0].at) == (NoticeKind.ALERT, due)


@st.composite
def blips(draw: st.DrawFn) -> Scenario:
    """Runs of failures each ended by a success before the threshold: too few failures,
    or (when there are enough) ended sooner than `failing_for_seconds`."""
    policy = draw(policies(stale=False))
    threshold, age = policy.failures_before_alert, policy.failing_for_seconds
    events: list[Outcome] = []
    at = 1.0
    for _ in range(draw(st.integers(1, 6))):
        most = threshold + 3 if age > 0 else threshold - 1
        count = draw(st.integers(0, most))
        if count >= threshold:
            # the whole run and its ending success within less than failing_for_seconds
            offsets = sorted(draw(st.lists(st.integers(0, int(age * 4) - 1),
                                           min_size=count + 1, max_size=count + 1)))
            start = at
            for offset in offsets[:-1]:
                events.append(Outcome.failure("bus", start + offset / 4, "timeout"))
            at = start + offsets[-1] / 4
        else:
            for _ in range(count):
                at += draw(gaps)
                events.append(Outcome.failure("bus", at, "timeout"))
            at += draw(gaps)
        for _ in range(draw(st.integers(1, 3))):
            events.append(Outcome.success("bus", at))
            at += draw(gaps)
    return Scenario({"bus": policy}, events, events[-1].at)


@given(blips())
def test_blip_shorter_than_the_threshold_sends_nothing(scenario):
    assert drive(scenario) == []


@given(scenarios())
def test_alerts_and_recoveries_alternate_and_no_recovery_comes_without_an_alert(scenario):
    letters = {NoticeKind.ALERT: "A", NoticeKind.REMINDER: "R", NoticeKind.RECOVERY: "V"}
    entered = {NoticeKind.ALERT: HealthState.ALERTING, NoticeKind.REMINDER: HealthState.REMINDING,
               NoticeKind.RECOVERY: HealthState.RECOVERED}
    emitted = drive(scenario)
    for component in scenario.policies:
        word = "".join(letters[e.notice.kind] for e in of(component, emitted))
        assert re.fullmatch(r"(AR*V)*(AR*)?", word), word
    assert all(e.notice.state is entered[e.notice.kind] for e in emitted)


def reminder_times(alert_at: float, policy: Policy, end: float) -> list[float]:
    """Reminder k+1 comes min(remind_after × backoff^k, remind_max) after reminder k
    (reminder 0 being the alert), in exact rational arithmetic, up to `end` inclusive."""
    if policy.remind_after_seconds == 0:
        return []
    after, backoff = Fraction(policy.remind_after_seconds), Fraction(policy.remind_backoff)
    cap = Fraction(policy.remind_max_seconds)
    times: list[float] = []
    at, k = Fraction(alert_at) + after, 0
    while at <= end:
        times.append(float(at))
        k += 1
        at += min(after * backoff**k, cap)
    return times


@given(scenarios())
def test_reminder_spacing_follows_the_backoff_and_the_cap_exactly(scenario):
    emitted = drive(scenario)
    for component in scenario.policies:
        policy = scenario.policy(component)
        for incident in incidents(of(component, emitted)):
            alert, *rest = [e.notice for e in incident]
            recovery = rest.pop() if rest and rest[-1].kind is NoticeKind.RECOVERY else None
            end = recovery.at if recovery is not None else scenario.until
            assert [n.kind for n in rest] == [NoticeKind.REMINDER] * len(rest)
            assert [n.at for n in rest] == reminder_times(alert.at, policy, end)
            assert [n.reminder for n in rest] == list(range(1, len(rest) + 1))


@given(scenarios(stale=False))
def test_recovery_downtime_is_exactly_from_the_first_failure_of_the_incident(scenario):
    emitted = drive(scenario)
    recoveries = 0
    for component in scenario.policies:
        for incident in incidents(of(component, emitted)):
            first = trailing_failures(incident[0].seen)[0]
            for item in incident:
                assert item.notice.first_failure_at == first.at
                assert item.notice.failing_for_seconds == item.notice.at - first.at
            recovery = incident[-1].notice
            if recovery.kind is NoticeKind.RECOVERY:
                recoveries += 1
                assert recovery.downtime_seconds == recovery.at - first.at
                policy = scenario.policy(component)
                assert all(o.ok for o in incident[-1].seen[-policy.successes_before_recovery:])


@given(scenarios(), st.data())
def test_restoring_a_snapshot_at_any_step_yields_the_same_future_notices(scenario, data):
    run = drive(scenario)
    step = data.draw(st.integers(0, run.steps), label="restart after step")
    assert [e.notice for e in drive(scenario, restart_after_step=step)] == [e.notice for e in run]


@HALF
@given(scenarios(backoffs=WHOLE_BACKOFFS))
def test_the_reactive_wiring_emits_what_the_rules_say(scenario):
    # Within a component the order is the contract; across components at one instant
    # the scheduler may interleave them either way.
    through_wiring = drive_wiring(scenario)
    expected = [e.notice for e in drive(scenario)]
    for component in scenario.policies:
        assert ([n for n in through_wiring if n.component == component]
                == [n for n in expected if n.component == component])
    assert [n.at for n in through_wiring] == sorted(n.at for n in through_wiring)


@st.composite
def any_valid_policy(draw: st.DrawFn) -> Policy:
    """Any policy `Policy` accepts, tiny and fractional values included."""
    seconds = st.one_of(st.just(0.0), st.floats(0, 10_000, allow_subnormal=True))
    remind_after = draw(seconds)
    try:
        return Policy(
            failures_before_alert=draw(st.integers(1, 5)),
            failing_for_seconds=draw(seconds),
            successes_before_recovery=draw(st.integers(1, 3)),
            remind_after_seconds=remind_after,
            remind_backoff=draw(st.floats(1, 10)),
            remind_max_seconds=remind_after + draw(seconds),
            settle_seconds=draw(seconds),
            stale_after_seconds=draw(seconds),
        )
    except PolicyError:
        reject()


@given(policy=any_valid_policy(),
       steps=st.lists(st.tuples(st.floats(0, 20_000), st.booleans()), max_size=30))
def test_tick_leaves_nothing_due_at_epoch_scale_times_under_any_valid_policy(policy, steps):
    # The owner of time calls tick(now) and then schedules next_due(): a deadline left at
    # or before `now` would make it spin. Epoch seconds (as in production) leave only
    # ~2e-7 s of float resolution, so tiny intervals must not vanish in the sum.
    now = 1_700_000_000.0
    machines = HealthMachines()
    machines.add("bus", policy, now)
    for gap, ok in steps:
        now += gap
        outcome = Outcome.success("bus", now) if ok else Outcome.failure("bus", now, "timeout")
        machines.observe(outcome, now)
        machines.tick("bus", now)
        due = machines.next_due("bus")
        assert due is None or due > now
