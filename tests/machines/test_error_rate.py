"""The error-rate rule of the health machine (DESIGN.md, "Error rate" and "Precise rules").

A failure also alerts when the window `(t − W, t]` holds at least
`error_rate_min_outcomes` outcomes, the current one counted, and the failing share is at
least the threshold; an incident opened while the rate held recovers only once the share,
the current success counted, is below it. The property compares the machine with a
reference written from those sentences, not from the code.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from machines import HealthMachines, HealthState, NoticeKind, Outcome, Policy, PolicyError, Snapshot

RATE = Policy(failures_before_alert=3, remind_after_seconds=0, error_rate_threshold=0.3,
              error_rate_window_seconds=900, error_rate_min_outcomes=10)


def alternating(count: int, every: float = 60.0, first_fails: bool = True) -> list[Outcome]:
    return [Outcome.failure("pixoo", (i + 1) * every, "timeout", "no answer")
            if (i % 2 == 0) == first_fails else Outcome.success("pixoo", (i + 1) * every)
            for i in range(count)]


def run(policy: Policy, outcomes: list[Outcome]) -> tuple[HealthMachines, list]:
    machines = HealthMachines()
    machines.add("pixoo", policy, 0.0)
    notices = []
    for outcome in outcomes:
        notices += machines.observe(outcome, outcome.at)
    return machines, notices


def test_failing_every_other_check_never_alerts_by_counting():
    _, notices = run(Policy(failures_before_alert=3), alternating(200))
    assert notices == []


def test_failing_every_other_check_alerts_by_error_rate_with_the_figures():
    _, notices = run(RATE, alternating(30))
    alert = notices[0]
    assert alert.kind is NoticeKind.ALERT
    # The 11th outcome (a failure at 660 s) is the first failure with 10 outcomes in the window.
    assert alert.at == 660.0
    assert (alert.window_failed, alert.window_outcomes, alert.window_seconds) == (6, 11, 900.0)
    assert alert.failures == 1  # one consecutive failure: the count alone would not alert
    assert [n.kind for n in notices] == [NoticeKind.ALERT]  # a 50 % share never recovers


def test_too_few_outcomes_in_the_window_do_not_alert():
    # Every 120 s: the 900 s window holds at most 8 outcomes, fewer than the 10 required.
    _, notices = run(RATE, alternating(100, every=120.0))
    assert notices == []


def test_the_window_excludes_its_left_edge():
    # Ten outcomes 100 s apart span 900 s: at the tenth, the first is at exactly t − W,
    # outside (t − W, t], so only nine count.
    policy = Policy(failures_before_alert=100, error_rate_threshold=0.5,
                    error_rate_window_seconds=900, error_rate_min_outcomes=10)
    outcomes = [Outcome.failure("pixoo", 100.0 * (i + 1), "timeout") for i in range(10)]
    machines, notices = run(policy, outcomes)
    assert notices == []
    assert machines.state("pixoo") is HealthState.SUSPECT
    _, notices = run(policy, [*outcomes, Outcome.failure("pixoo", 1050.0, "timeout")])
    assert [n.kind for n in notices] == [NoticeKind.ALERT]


def test_the_rate_alerts_straight_from_healthy_and_from_recovered():
    policy = Policy(failures_before_alert=5, error_rate_threshold=0.5,
                    error_rate_min_outcomes=2, remind_after_seconds=0)
    outcomes = [Outcome.success("pixoo", 10.0), Outcome.failure("pixoo", 20.0, "timeout")]
    machines, notices = run(policy, outcomes)
    assert [n.kind for n in notices] == [NoticeKind.ALERT]
    assert notices[0].state is HealthState.ALERTING
    # A success makes the share 1/3: recovered. The next failure makes it 2/4: alert again.
    assert [n.kind for n in machines.observe(Outcome.success("pixoo", 30.0), 30.0)] == [
        NoticeKind.RECOVERY]
    assert machines.state("pixoo") is HealthState.RECOVERED
    again = machines.observe(Outcome.failure("pixoo", 40.0, "timeout"), 40.0)
    assert [(n.kind, n.window_failed, n.window_outcomes) for n in again] == [
        (NoticeKind.ALERT, 2, 4)]


def test_recovery_of_a_rate_incident_waits_for_the_share_to_fall_below_the_threshold():
    machines, notices = run(RATE, alternating(11))
    assert machines.state("pixoo") is HealthState.ALERTING
    at, recovered = 660.0, []
    while not recovered:
        at += 60.0
        recovered = machines.observe(Outcome.success("pixoo", at), at)
    # 15 outcomes fit the window; fewer than 30 % failed once at most 4 of them did.
    window = [o for o in alternating(11) if o.at > at - 900] + [
        Outcome.success("pixoo", t) for t in range(720, int(at) + 1, 60)]
    failed = sum(not o.ok for o in window)
    assert failed / len(window) < 0.3 <= (failed + 1) / len(window)
    assert recovered[0].kind is NoticeKind.RECOVERY
    assert recovered[0].window_failed == failed


def test_a_counted_incident_recovers_on_successes_alone():
    policy = Policy(failures_before_alert=3, error_rate_threshold=0.9,
                    error_rate_min_outcomes=50)
    outcomes = [Outcome.failure("pixoo", t, "timeout") for t in (1.0, 2.0, 3.0)]
    machines, notices = run(policy, [*outcomes, Outcome.success("pixoo", 4.0)])
    assert [n.kind for n in notices] == [NoticeKind.ALERT, NoticeKind.RECOVERY]
    assert notices[0].window_failed is None  # not an error-rate incident: no figures


def test_a_restored_rate_incident_does_not_recover_on_a_lone_success():
    machines, _ = run(RATE, alternating(11))
    snapshot = Snapshot.from_dict(machines.snapshot("pixoo").to_dict())
    assert snapshot.rate_opened
    restored = HealthMachines()
    restored.restore(snapshot, RATE)
    # The window was not journaled: one success is no share. Ten outcomes make one.
    assert restored.observe(Outcome.success("pixoo", 5000.0), 5000.0) == []
    notices = []
    for i in range(1, 10):
        notices += restored.observe(Outcome.success("pixoo", 5000.0 + i), 5000.0 + i)
    assert [n.kind for n in notices] == [NoticeKind.RECOVERY]
    assert notices[0].at == 5009.0


def test_snapshots_written_before_the_error_rate_still_restore():
    machines, _ = run(Policy(), alternating(3))
    data = machines.snapshot("pixoo").to_dict()
    del data["rate_opened"]
    assert Snapshot.from_dict(data).rate_opened is False


@pytest.mark.parametrize(("key", "value", "words"), [
    ("error_rate_threshold", 1.5, "from 0 (off) to 1"),
    ("error_rate_threshold", -0.1, "from 0 (off) to 1"),
    ("error_rate_threshold", "half", "expected a number"),
    ("error_rate_window_seconds", 0, "30 days"),
    ("error_rate_window_seconds", 40 * 86400, "30 days"),
    ("error_rate_min_outcomes", 0, "whole number from 1 to 1000"),
    ("error_rate_min_outcomes", 2.5, "whole number from 1 to 1000"),
])
def test_bad_error_rate_values_are_refused_naming_the_key(key, value, words):
    with pytest.raises(PolicyError) as err:
        Policy().with_overrides({key: value})
    assert err.value.key == key
    assert words in err.value.message


# -- the property: an independent reference of the rule ----------------------------------

def reference(policy: Policy, outcomes: list[Outcome]) -> list[tuple[str, float]]:
    """Alerts and recoveries the contract's sentences give for a stream in which counting
    never alerts: an alert on a failure whose window (t − W, t] holds enough outcomes with
    a failing share at or over the threshold; then a recovery on the first success whose
    window's share is below it."""
    result: list[tuple[str, float]] = []
    is_open = False
    for i, outcome in enumerate(outcomes):
        t = outcome.at
        window = [o for o in outcomes[:i + 1] if t - policy.error_rate_window_seconds < o.at]
        share = sum(not o.ok for o in window) / len(window)
        if not outcome.ok and not is_open:
            if (len(window) >= policy.error_rate_min_outcomes
                    and share >= policy.error_rate_threshold):
                result.append(("alert", t))
                is_open = True
        elif outcome.ok and is_open and share < policy.error_rate_threshold:
            result.append(("recovery", t))
            is_open = False
    return result


@st.composite
def alternating_streams(draw: st.DrawFn) -> tuple[Policy, list[Outcome]]:
    policy = Policy(
        failures_before_alert=draw(st.integers(2, 4)),  # one failure at a time never counts
        remind_after_seconds=0,
        settle_seconds=draw(st.integers(0, 600)),
        error_rate_threshold=draw(st.sampled_from([0.1, 0.25, 0.3, 0.5, 0.6, 0.75, 1.0])),
        error_rate_window_seconds=draw(st.integers(1, 1800)),
        error_rate_min_outcomes=draw(st.integers(1, 15)),
    )
    gaps = draw(st.lists(st.integers(0, 1200).map(lambda q: q / 4), min_size=1, max_size=80))
    fails = draw(st.booleans())
    outcomes, at = [], 1.0
    for gap in gaps:
        at += gap
        outcomes.append(Outcome.failure("pixoo", at, "timeout") if fails
                        else Outcome.success("pixoo", at))
        fails = not fails
    return policy, outcomes


@given(alternating_streams())
def test_an_alternating_stream_alerts_and_recovers_exactly_as_the_rule_says(stream):
    policy, outcomes = stream
    _, notices = run(policy, outcomes)
    assert [(n.kind.value, n.at) for n in notices] == reference(policy, outcomes)
