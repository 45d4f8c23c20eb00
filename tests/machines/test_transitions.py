"""The health machine, one transition at a time (DESIGN.md, "The health machine").

Each test drives one `HealthMachines` with explicit `now`s, the way the owner of time
does: outcomes through `observe`, timers through `tick` at their due instant.
"""

from __future__ import annotations

import json
import math

import pytest

from machines import (
    HealthMachines,
    HealthState,
    Notice,
    NoticeKind,
    Outcome,
    Policy,
    PolicyError,
    Snapshot,
    UnknownComponentError,
)
from machines.policy import MAX_BACKOFF, MAX_COUNT, MAX_SECONDS

H, S, A, R, V = (HealthState.HEALTHY, HealthState.SUSPECT, HealthState.ALERTING,
                 HealthState.REMINDING, HealthState.RECOVERED)
QUIET = {"remind_after_seconds": 0, "settle_seconds": 300}


def watch(now: float = 0.0, **policy: float) -> HealthMachines:
    machines = HealthMachines()
    machines.add("bus", Policy(**policy), now=now)
    return machines


def fail(machines: HealthMachines, at: float, error_type: str = "timeout",
         detail: str = "read timed out") -> list[Notice]:
    return machines.observe(Outcome.failure("bus", at, error_type, detail), at)


def ok(machines: HealthMachines, at: float) -> list[Notice]:
    return machines.observe(Outcome.success("bus", at), at)


def kinds(notices: list[Notice]) -> list[tuple[str, float]]:
    return [(n.kind.value, n.at) for n in notices]


def alerting(**policy: float) -> HealthMachines:
    """A machine that alerted at 0 on its only failure."""
    machines = watch(**{"failures_before_alert": 1, **policy})
    assert kinds(fail(machines, 0)) == [("alert", 0)]
    return machines


# -- failure ------------------------------------------------------------------------------

def test_first_failure_makes_healthy_suspect_and_sends_nothing():
    machines = watch(failures_before_alert=3)
    assert fail(machines, 10) == []
    assert machines.state("bus") is S
    snapshot = machines.snapshot("bus")
    assert (snapshot.failures, snapshot.first_failure_at, snapshot.since) == (1, 10, 10)


def test_straight_to_alerting_when_one_failure_is_enough_and_failing_for_is_zero():
    machines = watch(failures_before_alert=1, failing_for_seconds=0)
    notices = fail(machines, 10)
    assert machines.state("bus") is A
    assert kinds(notices) == [("alert", 10)]
    assert notices[0].failures == 1 and notices[0].failing_for_seconds == 0


def test_one_failure_is_enough_but_failing_for_still_debounces_through_suspect():
    machines = watch(failures_before_alert=1, failing_for_seconds=30)
    assert fail(machines, 10) == []
    assert machines.state("bus") is S
    assert machines.next_due("bus") == 40


def test_suspect_alerts_on_the_failure_that_reaches_the_count():
    machines = watch(failures_before_alert=3)
    assert fail(machines, 0) == [] and fail(machines, 5) == []
    assert machines.state("bus") is S
    notices = fail(machines, 9, "http_503", "service unavailable")
    assert machines.state("bus") is A
    assert kinds(notices) == [("alert", 9)]
    alert = notices[0]
    assert (alert.failures, alert.failing_for_seconds, alert.first_failure_at) == (3, 9, 0)
    assert (alert.error_type, alert.error_detail) == ("http_503", "service unavailable")
    assert alert.state is A


def test_suspect_stays_suspect_while_the_count_is_met_but_the_first_failure_is_too_young():
    machines = watch(failures_before_alert=2, failing_for_seconds=60)
    fail(machines, 0)
    assert fail(machines, 10) == [] and fail(machines, 59) == []
    assert machines.state("bus") is S
    assert kinds(fail(machines, 60)) == [("alert", 60)]  # exactly as old as required


def test_failures_while_alerting_or_reminding_send_nothing_more():
    machines = alerting(remind_after_seconds=100)
    assert fail(machines, 50) == []
    assert machines.state("bus") is A
    assert kinds(machines.tick("bus", 100)) == [("reminder", 100)]
    assert fail(machines, 150) == []
    assert machines.state("bus") is R
    assert machines.snapshot("bus").failures == 3


# -- success ------------------------------------------------------------------------------

def test_blip_shorter_than_threshold_sends_nothing():
    machines = watch(failures_before_alert=3)
    fail(machines, 0)
    fail(machines, 1)
    assert ok(machines, 2) == []
    assert machines.state("bus") is H
    # the blip is forgotten: the next incident counts from its own first failure
    assert fail(machines, 3) == [] and fail(machines, 4) == []
    assert kinds(fail(machines, 5)) == [("alert", 5)]


def test_blip_shorter_than_failing_for_sends_nothing_even_with_many_failures():
    machines = watch(failures_before_alert=2, failing_for_seconds=100)
    for at in range(0, 99, 3):
        assert fail(machines, at) == []
    assert ok(machines, 99) == []
    assert machines.state("bus") is H
    assert machines.next_due("bus") is None


def test_success_while_healthy_changes_nothing():
    machines = watch()
    assert ok(machines, 10) == []
    assert machines.state("bus") is H
    assert machines.snapshot("bus").since == 0
    assert machines.snapshot("bus").last_success_at == 10


def test_success_recovers_an_alerting_component_with_exact_downtime():
    machines = watch(failures_before_alert=2)
    fail(machines, 100)
    fail(machines, 130)
    notices = ok(machines, 400)
    assert machines.state("bus") is V
    assert kinds(notices) == [("recovery", 400)]
    recovery = notices[0]
    assert recovery.downtime_seconds == 300  # from the first failure, not the alert
    assert recovery.state is V and recovery.failures == 2


def test_success_recovers_a_reminding_component_and_stops_the_reminders():
    machines = alerting(remind_after_seconds=100, settle_seconds=50)
    machines.tick("bus", 100)
    assert machines.state("bus") is R
    assert kinds(ok(machines, 150)) == [("recovery", 150)]
    assert machines.next_due("bus") == 200  # the settle timer, no reminder (was due at 300)
    assert kinds(machines.tick("bus", 200)) == []
    assert machines.state("bus") is H


def test_recovery_needs_successes_before_recovery_in_a_row():
    machines = alerting(successes_before_recovery=3)
    assert ok(machines, 10) == [] and ok(machines, 11) == []
    assert machines.state("bus") is A
    assert kinds(ok(machines, 12)) == [("recovery", 12)]


def test_failure_resets_success_count_during_recovery():
    machines = alerting(successes_before_recovery=2, remind_after_seconds=0)
    ok(machines, 10)
    fail(machines, 11)  # the one success so far no longer counts
    assert ok(machines, 12) == []
    assert machines.state("bus") is A
    notices = ok(machines, 13)
    assert kinds(notices) == [("recovery", 13)]
    assert notices[0].downtime_seconds == 13


def test_success_in_recovered_does_not_postpone_settling():
    machines = alerting(settle_seconds=100)
    ok(machines, 10)
    assert ok(machines, 60) == []
    assert machines.state("bus") is V
    assert machines.next_due("bus") == 110


# -- tick ---------------------------------------------------------------------------------

def test_suspect_escalates_by_time_alone_when_failing_for_is_reached():
    machines = watch(failures_before_alert=2, failing_for_seconds=60)
    fail(machines, 10)
    fail(machines, 20)
    assert machines.next_due("bus") == 70
    assert machines.tick("bus", 69) == []
    assert machines.state("bus") is S
    notices = machines.tick("bus", 70)
    assert kinds(notices) == [("alert", 70)]
    assert notices[0].failing_for_seconds == 60 and notices[0].failures == 2
    assert machines.state("bus") is A


def test_suspect_below_the_count_never_escalates_by_time():
    machines = watch(failures_before_alert=3, failing_for_seconds=60)
    fail(machines, 0)
    fail(machines, 1)
    assert machines.next_due("bus") is None
    assert machines.tick("bus", 10_000) == []
    assert machines.state("bus") is S


def test_first_reminder_is_due_remind_after_seconds_after_the_alert():
    machines = watch(failures_before_alert=2, remind_after_seconds=900)
    fail(machines, 0)
    fail(machines, 30, "http_502", "bad gateway")
    assert machines.next_due("bus") == 930
    assert machines.tick("bus", 929.5) == []
    fail(machines, 500, "connect", "connection refused")
    notices = machines.tick("bus", 930)
    assert kinds(notices) == [("reminder", 930)]
    reminder = notices[0]
    assert reminder.reminder == 1 and reminder.state is R
    assert reminder.failing_for_seconds == 930  # since the first failure
    assert (reminder.error_type, reminder.error_detail) == ("connect", "connection refused")
    assert machines.state("bus") is R


def test_reminders_are_numbered_and_spaced_by_the_backoff_up_to_the_cap():
    machines = alerting(remind_after_seconds=100, remind_backoff=3, remind_max_seconds=1000)
    seen: list[tuple[int | None, float]] = []
    while len(seen) < 5:
        due = machines.next_due("bus")
        assert due is not None
        seen.extend((n.reminder, n.at) for n in machines.tick("bus", due))
    # gaps: 100, 300, 900, then capped at 1000
    assert seen == [(1, 100), (2, 400), (3, 1300), (4, 2300), (5, 3300)]


def test_backoff_of_one_reminds_at_a_steady_interval():
    machines = alerting(remind_after_seconds=60, remind_backoff=1, remind_max_seconds=60)
    times = []
    for _ in range(4):
        due = machines.next_due("bus")
        assert due is not None
        times += [n.at for n in machines.tick("bus", due)]
    assert times == [60, 120, 180, 240]


def test_remind_after_seconds_zero_never_reminds():
    machines = alerting(remind_after_seconds=0, remind_max_seconds=0)
    assert machines.next_due("bus") is None
    assert machines.tick("bus", 10**9) == []
    assert machines.state("bus") is A


def test_recovered_settles_to_healthy_after_settle_seconds():
    machines = alerting(settle_seconds=300)
    ok(machines, 100)
    assert machines.state("bus") is V
    assert machines.next_due("bus") == 400
    assert machines.tick("bus", 399) == []
    assert machines.state("bus") is V
    assert machines.tick("bus", 400) == []  # settling is silent
    assert machines.state("bus") is H
    assert machines.snapshot("bus").since == 400
    assert machines.next_due("bus") is None


def test_settle_seconds_zero_settles_at_the_recovery_instant():
    machines = alerting(settle_seconds=0)
    ok(machines, 100)
    assert machines.next_due("bus") == 100
    machines.tick("bus", 100)
    assert machines.state("bus") is H


@pytest.mark.parametrize("state", [H, S, A, V])
def test_tick_before_anything_is_due_changes_nothing(state):
    machines = watch(failures_before_alert=2, failing_for_seconds=50,
                     remind_after_seconds=100, settle_seconds=100)
    steps = {H: [], S: [(fail, 0)], A: [(fail, 0), (fail, 60)],
             V: [(fail, 0), (fail, 60), (ok, 70)]}
    for step, at in steps[state]:
        step(machines, at)
    assert machines.state("bus") is state
    before = machines.snapshot("bus")
    assert machines.tick("bus", 71) == []
    assert machines.snapshot("bus") == before


# -- entry behaviours ---------------------------------------------------------------------

def test_failure_in_recovered_starts_a_new_debounced_incident():
    machines = watch(failures_before_alert=2, settle_seconds=300)
    fail(machines, 0)
    fail(machines, 10)
    ok(machines, 20)
    assert machines.state("bus") is V
    assert fail(machines, 30) == []  # one failure is not enough again
    assert machines.state("bus") is S
    snapshot = machines.snapshot("bus")
    assert (snapshot.failures, snapshot.first_failure_at, snapshot.reminders_sent) == (1, 30, 0)
    notices = fail(machines, 45)
    assert kinds(notices) == [("alert", 45)]
    assert notices[0].failing_for_seconds == 15  # the new incident's age
    assert kinds(ok(machines, 50)) == [("recovery", 50)]
    assert machines.snapshot("bus").reminders_sent == 0


def test_failure_in_recovered_alerts_at_once_when_one_failure_is_enough():
    machines = alerting(settle_seconds=300)
    ok(machines, 10)
    notices = fail(machines, 20)
    assert kinds(notices) == [("alert", 20)]
    assert notices[0].first_failure_at == 20 and notices[0].failures == 1


def test_new_incident_after_settling_has_fresh_counters_and_reminder_numbers():
    machines = alerting(remind_after_seconds=10, settle_seconds=5)
    machines.tick("bus", 10)
    ok(machines, 12)
    machines.tick("bus", 17)
    assert machines.state("bus") is H
    assert machines.snapshot("bus") == Snapshot(
        component="bus", state=H, since=17, successes=1, last_success_at=12, last_seen_at=12,
        last_error_type="timeout", last_error="read timed out")
    fail(machines, 100)
    reminders = machines.tick("bus", 110)
    assert [(n.reminder, n.failing_for_seconds) for n in reminders] == [(1, 10)]


def test_since_moves_only_when_the_state_changes():
    machines = watch(failures_before_alert=3)
    fail(machines, 5)
    fail(machines, 8)
    assert machines.snapshot("bus").since == 5
    fail(machines, 9)
    assert machines.snapshot("bus").since == 9


def test_alert_notice_says_when_the_first_reminder_is_due():
    machines = watch(failures_before_alert=1, remind_after_seconds=900)
    ok(machines, 3)
    (alert,) = fail(machines, 10)
    assert alert.next_reminder_at == 910
    assert alert.last_success_at == 3


# -- staleness ----------------------------------------------------------------------------

def test_silence_longer_than_stale_after_seconds_is_a_stale_failure():
    machines = watch(failures_before_alert=1, stale_after_seconds=60)
    ok(machines, 10)
    assert machines.next_due("bus") == 70
    assert machines.tick("bus", 69) == []
    notices = machines.tick("bus", 70)
    assert kinds(notices) == [("alert", 70)]
    assert notices[0].error_type == "stale"
    assert notices[0].error_detail == "no outcome for 60 s"


def test_each_further_silence_counts_as_one_more_failure():
    machines = watch(failures_before_alert=3, stale_after_seconds=30)
    assert machines.tick("bus", 30) == [] and machines.tick("bus", 60) == []
    assert machines.state("bus") is S
    assert kinds(machines.tick("bus", 90)) == [("alert", 90)]


@pytest.mark.parametrize("outcome_ok", [True, False])
def test_any_outcome_restarts_the_stale_timer(outcome_ok):
    machines = watch(failures_before_alert=5, stale_after_seconds=60)
    (ok if outcome_ok else fail)(machines, 50)
    assert machines.next_due("bus") == 110


def test_stale_after_seconds_zero_never_counts_silence():
    machines = watch(stale_after_seconds=0)
    assert machines.next_due("bus") is None
    assert machines.tick("bus", 10**9) == []
    assert machines.state("bus") is H


# -- timers before outcomes ---------------------------------------------------------------

def test_timer_fires_before_an_outcome_at_the_same_instant():
    # the age rule is met at 60 by time alone; a success at exactly 60 comes after it
    machines = watch(failures_before_alert=2, failing_for_seconds=60)
    fail(machines, 0)
    fail(machines, 1)
    notices = ok(machines, 60)
    assert kinds(notices) == [("alert", 60), ("recovery", 60)]
    assert notices[1].downtime_seconds == 60


def test_reminder_due_at_the_recovery_instant_is_sent_before_the_recovery():
    machines = alerting(remind_after_seconds=100)
    notices = ok(machines, 100)
    assert [(n.kind.value, n.at, n.reminder) for n in notices] == [
        ("reminder", 100, 1), ("recovery", 100, None)]


def test_settle_due_at_a_failure_instant_settles_first():
    machines = watch(failures_before_alert=2, settle_seconds=50)
    fail(machines, 0)
    fail(machines, 1)
    ok(machines, 10)
    assert fail(machines, 60) == []
    assert machines.state("bus") is S  # healthy at 60, then the failure made it suspect
    assert machines.snapshot("bus").first_failure_at == 60


def test_machine_timer_fires_before_staleness_due_at_the_same_instant():
    machines = watch(failures_before_alert=2, failing_for_seconds=50, stale_after_seconds=50)
    fail(machines, 0)
    fail(machines, 0)
    # escalation (0 + 50) and staleness (last seen 0 + 50) are both due at 50
    notices = machines.tick("bus", 50)
    assert kinds(notices) == [("alert", 50)]
    assert notices[0].failures == 2 and notices[0].error_type == "timeout"
    assert machines.snapshot("bus").failures == 3  # then the silence counted
    assert machines.snapshot("bus").last_error_type == "stale"


def test_observe_fires_every_overdue_timer_in_order_before_the_outcome():
    machines = alerting(remind_after_seconds=10, remind_backoff=1, remind_max_seconds=10,
                        settle_seconds=5)
    notices = ok(machines, 10)
    assert [n.kind for n in notices] == [NoticeKind.REMINDER, NoticeKind.RECOVERY]


# -- the collection -----------------------------------------------------------------------

def test_components_are_independent():
    machines = HealthMachines()
    machines.add("bus", Policy(failures_before_alert=1), now=0)
    machines.add("weather", Policy(failures_before_alert=2), now=0)
    assert kinds(machines.observe(Outcome.failure("weather", 1, "timeout"), 1)) == []
    assert kinds(machines.observe(Outcome.failure("bus", 2, "timeout"), 2)) == [("alert", 2)]
    assert machines.state("weather") is S
    assert list(machines) == ["bus", "weather"] and len(machines) == 2


def test_unknown_component_is_a_named_error():
    machines = watch()
    with pytest.raises(UnknownComponentError, match="weather"):
        machines.observe(Outcome.success("weather", 1), 1)
    with pytest.raises(UnknownComponentError):
        machines.tick("weather", 1)


def test_adding_a_component_twice_is_refused():
    machines = watch()
    with pytest.raises(ValueError, match="'bus' is already watched"):
        machines.add("bus", Policy(), now=1)


def test_removed_component_is_forgotten():
    machines = watch()
    machines.remove("bus")
    assert "bus" not in machines
    machines.add("bus", Policy(), now=5)  # and can be watched again
    assert machines.snapshot("bus").since == 5


def test_snapshot_survives_json_and_restores_the_same_machine():
    machines = alerting(remind_after_seconds=100)
    machines.tick("bus", 100)
    fail(machines, 120, "http_503", "unavailable")
    snapshot = machines.snapshot("bus")
    text = json.dumps(snapshot.to_dict())
    restored_snapshot = Snapshot.from_dict(json.loads(text))
    assert restored_snapshot == snapshot
    restored = HealthMachines()
    restored.restore(restored_snapshot, machines.policy("bus"))
    assert restored.snapshot("bus") == snapshot
    assert restored.state("bus") is R
    assert restored.next_due("bus") == machines.next_due("bus") == 300
    assert kinds(restored.tick("bus", 300)) == kinds(machines.tick("bus", 300))


def test_restoring_does_not_emit_anything_or_run_entry_callbacks():
    restored = HealthMachines()
    restored.restore(Snapshot(component="bus", state=A, since=5, failures=3,
                              first_failure_at=0, next_reminder_at=905), Policy())
    assert restored.snapshot("bus").next_reminder_at == 905  # not rescheduled from now
    assert restored.tick("bus", 904) == []


# -- policy validation --------------------------------------------------------------------

@pytest.mark.parametrize(("key", "value"), [
    ("failures_before_alert", 0),
    ("failures_before_alert", -1),
    ("failures_before_alert", 2.5),
    ("failures_before_alert", True),
    ("failures_before_alert", "3"),
    ("successes_before_recovery", 0),
    ("successes_before_recovery", 1.0),
    ("failing_for_seconds", -1),
    ("failing_for_seconds", math.nan),
    ("failing_for_seconds", "60"),
    ("remind_after_seconds", -0.5),
    ("remind_after_seconds", math.inf),
    ("remind_backoff", 0.99),
    ("remind_backoff", 0),
    ("remind_backoff", False),
    ("remind_max_seconds", -1),
    ("settle_seconds", -300),
    ("settle_seconds", None),
    ("stale_after_seconds", -1),
    ("stale_after_seconds", math.inf),
])
def test_invalid_policy_value_is_rejected_naming_the_key(key, value):
    with pytest.raises(PolicyError) as caught:
        Policy(**{key: value})
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{key}: expected")


@pytest.mark.parametrize(("key", "value", "message"), [
    ("stale_after_seconds", 1e12, "from 0 to 2592000 (30 days), got 1000000000000.0"),
    ("remind_after_seconds", 2_592_001, "from 0 to 2592000 (30 days), got 2592001"),
    ("settle_seconds", 10**400, "from 0 to 2592000 (30 days), got a number of 401 digits"),
    ("failing_for_seconds", 1e300, "from 0 to 2592000 (30 days), got 1e+300"),
    ("remind_max_seconds", 2_592_000.5, "from 0 to 2592000 (30 days), got 2592000.5"),
    ("failures_before_alert", 1001, "a whole number from 1 to 1000, got 1001"),
    ("successes_before_recovery", 10**400, "from 1 to 1000, got a number of 401 digits"),
    ("remind_backoff", 10.5, "and at most 10, got 10.5"),
])
def test_policy_values_beyond_their_bounds_are_rejected_naming_the_key(key, value, message):
    # A deadline a year out of the calendar froze the component ("year 33715 is out of
    # range"), and an integer of 400 digits overflowed math.isfinite.
    with pytest.raises(PolicyError) as caught:
        Policy(**{key: value})
    assert caught.value.key == key
    assert message in str(caught.value)


def test_the_bounds_themselves_are_valid():
    policy = Policy(failures_before_alert=MAX_COUNT, successes_before_recovery=MAX_COUNT,
                    failing_for_seconds=MAX_SECONDS, remind_after_seconds=MAX_SECONDS,
                    remind_backoff=MAX_BACKOFF, remind_max_seconds=MAX_SECONDS,
                    settle_seconds=MAX_SECONDS, stale_after_seconds=MAX_SECONDS)
    assert (MAX_SECONDS, MAX_COUNT, MAX_BACKOFF) == (30 * 24 * 3600, 1000, 10)
    assert policy.reminder_interval_seconds(50) == MAX_SECONDS


def test_remind_max_below_remind_after_is_rejected_naming_remind_max_seconds():
    with pytest.raises(PolicyError) as caught:
        Policy(remind_after_seconds=600, remind_max_seconds=599)
    assert caught.value.key == "remind_max_seconds"
    assert "remind_after_seconds (600)" in str(caught.value)


def test_remind_max_may_be_anything_when_reminders_are_off():
    assert Policy(remind_after_seconds=0, remind_max_seconds=0).remind_max_seconds == 0


def test_boundary_values_are_valid_and_numbers_are_stored_as_floats():
    policy = Policy(failures_before_alert=1, failing_for_seconds=0, successes_before_recovery=1,
                    remind_after_seconds=60, remind_backoff=1, remind_max_seconds=60,
                    settle_seconds=0, stale_after_seconds=0)
    assert policy.remind_backoff == 1.0 and isinstance(policy.remind_backoff, float)
    assert isinstance(policy.settle_seconds, float)


def test_unknown_override_key_is_rejected_naming_it():
    with pytest.raises(PolicyError) as caught:
        Policy().with_overrides({"retries": 3})
    assert caught.value.key == "retries"
    assert "unknown policy key" in str(caught.value)


def test_overrides_are_validated_like_a_new_policy():
    with pytest.raises(PolicyError) as caught:
        Policy(remind_after_seconds=100).with_overrides({"remind_max_seconds": 50})
    assert caught.value.key == "remind_max_seconds"


def test_reminder_interval_caps_even_when_the_backoff_overflows():
    policy = Policy(remind_after_seconds=1, remind_backoff=10, remind_max_seconds=3600)
    assert [policy.reminder_interval_seconds(k) for k in range(4)] == [1, 10, 100, 1000]
    assert policy.reminder_interval_seconds(4) == 3600
    assert policy.reminder_interval_seconds(400) == 3600  # 10**400 overflows a float


@pytest.mark.parametrize("key", ["remind_after_seconds", "stale_after_seconds"])
def test_repeating_interval_too_short_for_epoch_timestamps_is_rejected(key):
    # 1e-8 s added to an epoch timestamp (1.7e9) rounds to nothing: the machine would be
    # due again at the same instant forever, and the owner of time would spin.
    with pytest.raises(PolicyError) as caught:
        Policy(**{key: 1e-8})
    assert caught.value.key == key
    assert "expected 0 (off) or at least 0.001" in str(caught.value)
    assert getattr(Policy(**{key: 0.001}), key) == 0.001  # the smallest allowed
