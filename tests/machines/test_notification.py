"""The notification policy, rule by rule (DESIGN.md, "Incidents, silences and smarter
alerting"): incident ids, mutes, acks, maintenance windows, the kill switch, restarts.

Time is virtual: `drive_policy` fires every timer at its due instant. The machine under
the policy alerts on the first failure and reminds every 100 s, so each history reads
like its timeline.
"""

from __future__ import annotations

import json
import math

import pytest

from machines import HealthState, Notice, NoticeKind, Outcome, Policy
from machines.notice import HeldReason
from machines.notification import (
    NotificationPolicy,
    NotificationSnapshot,
    NotificationState,
    Refused,
)
from machines.silences import MAX_MUTE_SECONDS, Window
from tests.machines.drive_policy import Action, PolicyRun, drive_policy

#: Alert on the first failure, remind 100 s later and every 100 s after.
FAST = Policy(failures_before_alert=1, remind_after_seconds=100, remind_backoff=1,
              remind_max_seconds=100, settle_seconds=0)
COMPONENTS = ("bus", "weather")


def fail(at: float, component: str = "bus") -> Outcome:
    return Outcome.failure(component, at, "timeout", f"timeout at {at:g}")


def ok(at: float, component: str = "bus") -> Outcome:
    return Outcome.success(component, at)


def mute(at: float, for_seconds: float, target: str = "bus") -> Action:
    return Action(at, "mute", target, for_seconds)


def unmute(at: float, target: str = "bus") -> Action:
    return Action(at, "unmute", target)


def ack(at: float, target: str = "bus", by: str = "alice") -> Action:
    return Action(at, "ack", target, by=by)


def run(*inputs: Outcome | Action, until: float | None = None, **options) -> PolicyRun:
    last = max((i.at for i in inputs), default=0.0)
    return drive_policy(lambda _: FAST, inputs, until if until is not None else last,
                        COMPONENTS, **options)


def lines(notices: list[Notice]) -> list[tuple]:
    """(kind, at, incident, held) of each notice: the timeline a test reads."""
    return [(n.kind.value, n.at, n.incident, n.held.value if n.held else None)
            for n in notices]


# -- incident ids ---------------------------------------------------------------------

def test_an_alert_opens_an_incident_whose_reminders_and_recovery_carry_its_id():
    done = run(fail(0), ok(150), fail(200), ok(210))
    assert lines(done.decided) == [
        ("alert", 0, "bus#1", None), ("reminder", 100, "bus#1", None),
        ("recovery", 150, "bus#1", None),
        ("alert", 200, "bus#2", None), ("recovery", 210, "bus#2", None)]


def test_incident_numbers_are_per_component_and_count_held_alerts_too():
    done = run(mute(0, 50), fail(10), ok(20), fail(30, "weather"), fail(60), ok(70))
    assert lines(done.decided) == [
        ("alert", 10, "bus#1", "mute"), ("recovery", 20, "bus#1", "mute"),
        ("alert", 30, "weather#1", None),
        ("alert", 60, "bus#2", None), ("recovery", 70, "bus#2", None)]


# -- mutes ----------------------------------------------------------------------------

def test_a_mute_holds_the_alert_and_its_reminders_and_sends_the_alert_when_it_ends():
    done = run(mute(0, 250), fail(10), until=400)
    assert lines(done.decided) == [
        ("alert", 10, "bus#1", "mute"), ("reminder", 110, "bus#1", "mute"),
        ("reminder", 210, "bus#1", "mute"),
        ("alert", 250, "bus#1", None),  # the silence ended: sent at that instant
        ("reminder", 310, "bus#1", None)]  # later reminders follow the machine's schedule
    late = done.decided[3]
    assert (late.silenced, late.silenced_since) == (HeldReason.MUTE, 10)
    assert late.failing_for_seconds == 240 and late.state is HealthState.REMINDING
    assert done.decided[4].reminder == 3  # the machine's number


def test_a_held_alert_whose_incident_ended_under_the_mute_is_never_sent():
    done = run(mute(0, 250), fail(10), ok(50), until=1000)
    assert lines(done.decided) == [("alert", 10, "bus#1", "mute"),
                                   ("recovery", 50, "bus#1", "mute")]
    assert done.sent == []


def test_a_mute_covers_its_start_but_not_its_end():
    done = run(mute(10, 40), fail(10), ok(11), fail(50), until=50)
    assert lines(done.decided) == [("alert", 10, "bus#1", "mute"),
                                   ("recovery", 11, "bus#1", "mute"),
                                   ("alert", 50, "bus#2", None)]


def test_a_mute_after_a_sent_alert_holds_its_reminders_but_never_its_recovery():
    done = run(fail(0), mute(50, 1000), ok(250))
    assert lines(done.decided) == [
        ("alert", 0, "bus#1", None), ("reminder", 100, "bus#1", "mute"),
        ("reminder", 200, "bus#1", "mute"), ("recovery", 250, "bus#1", None)]


def test_unmute_sends_the_held_alert_at_that_instant():
    done = run(mute(0, 3600), fail(10), unmute(42), until=42)
    assert lines(done.decided) == [("alert", 10, "bus#1", "mute"), ("alert", 42, "bus#1", None)]


def test_a_new_mute_replaces_the_old_end_time():
    longer_first = run(mute(0, 3600), fail(10), mute(20, 30), until=60)
    assert lines(longer_first.decided)[-1] == ("alert", 50, "bus#1", None)
    shorter_first = run(mute(0, 30), fail(10), mute(20, 100), until=200)
    assert lines(shorter_first.decided)[-1] == ("alert", 120, "bus#1", None)


def test_mute_all_covers_every_component_and_unmute_one_lifts_it_for_that_one_only():
    done = run(mute(0, 1000, "*"), fail(10), fail(10, "weather"), unmute(20, "weather"),
               until=20)
    assert lines(done.decided) == [("alert", 10, "bus#1", "mute"),
                                   ("alert", 10, "weather#1", "mute"),
                                   ("alert", 20, "weather#1", None)]


def test_mute_all_replaces_the_end_of_a_components_own_mute_and_the_other_way_round():
    all_after_own = run(mute(0, 1000), mute(5, 30, "*"), fail(10), until=100)
    assert lines(all_after_own.decided)[-1] == ("alert", 35, "bus#1", None)
    own_after_all = run(mute(0, 1000, "*"), mute(5, 30), fail(10), fail(10, "weather"),
                        until=100)
    assert lines(own_after_all.sent) == [("alert", 35, "bus#1", None)]


def test_unmute_all_lifts_every_mute():
    done = run(mute(0, 1000, "*"), mute(1, 1000), fail(10), fail(10, "weather"),
               unmute(20, "*"), until=20)
    assert lines(done.sent) == [("alert", 20, "bus#1", None), ("alert", 20, "weather#1", None)]


@pytest.mark.parametrize("for_seconds", [0, -1, MAX_MUTE_SECONDS + 1, math.nan, math.inf])
def test_a_mute_outside_seven_days_is_refused(for_seconds):
    done = run(mute(0, for_seconds), fail(10))
    assert [reason for _, reason in done.refused] == [
        f"a mute lasts more than 0 s and at most 7 days (604800 s), not {for_seconds!r} s"]
    assert lines(done.decided) == [("alert", 10, "bus#1", None)]


def test_unmuting_what_is_not_muted_or_naming_no_component_is_refused():
    done = run(unmute(0), unmute(1, "*"), mute(2, 10, "buss"), ack(3, "buss"))
    assert [reason for _, reason in done.refused] == [
        "bus is not muted", "nothing is muted",
        "no component is named 'buss' (known: bus, weather, or * for all)",
        "no component is named 'buss' (known: bus, weather, or * for all)"]


# -- acks -----------------------------------------------------------------------------

def test_an_ack_holds_later_reminders_only_and_its_recovery_names_who_acked():
    done = run(fail(0), ack(150, by="alice"), ok(350))
    assert lines(done.decided) == [
        ("alert", 0, "bus#1", None), ("reminder", 100, "bus#1", None),
        ("reminder", 200, "bus#1", "ack"), ("reminder", 300, "bus#1", "ack"),
        ("recovery", 350, "bus#1", None)]
    assert done.decided[-1].acked_by == "alice"


def test_an_ack_ends_with_its_incident():
    done = run(fail(0), ack(50), ok(60), fail(70), until=170)
    assert lines(done.decided)[-2:] == [("alert", 70, "bus#2", None),
                                        ("reminder", 170, "bus#2", None)]
    assert done.decided[-1].acked_by is None


def test_an_ack_never_holds_an_alert_held_by_a_mute_when_the_mute_ends():
    done = run(mute(0, 150), fail(10), ack(20), until=260)
    assert lines(done.decided) == [
        ("alert", 10, "bus#1", "mute"), ("reminder", 110, "bus#1", "ack"),
        ("alert", 150, "bus#1", None), ("reminder", 210, "bus#1", "ack")]


def test_ack_with_no_open_incident_is_refused_with_a_clear_reason():
    done = run(ack(0), ack(1, "*"), fail(2), ok(3), ack(4, "bus#1"), fail(5), ack(6, "bus#1"))
    assert [reason for _, reason in done.refused] == [
        "bus has no open incident to acknowledge",
        "no component has an open incident to acknowledge",
        "bus#1 is not open", "bus#1 is not open (bus#2 is)"]


def test_ack_by_incident_id_and_ack_all():
    done = run(fail(0), fail(0, "weather"), ack(10, "bus#1"), ack(20, "*"), until=100)
    assert done.refused == []
    assert lines(done.decided)[-2:] == [("reminder", 100, "bus#1", "ack"),
                                        ("reminder", 100, "weather#1", "ack")]


# -- maintenance windows --------------------------------------------------------------

def test_a_maintenance_window_holds_like_a_mute_and_its_end_sends_the_held_alert():
    window = Window(0, 130, frozenset({"bus"}), "nightly backup")
    done = run(fail(10), fail(10, "weather"), until=130, windows=[window])
    assert lines(done.decided) == [
        ("alert", 10, "bus#1", "maintenance"), ("alert", 10, "weather#1", None),
        ("reminder", 110, "bus#1", "maintenance"), ("reminder", 110, "weather#1", None),
        ("alert", 130, "bus#1", None)]
    assert done.decided[-1].silenced is HeldReason.MAINTENANCE


def test_reasons_come_in_order_ack_mute_maintenance():
    window = Window(0, 1000)
    done = run(mute(0, 500), fail(10), ack(20), until=110, windows=[window])
    assert lines(done.decided) == [("alert", 10, "bus#1", "mute"),
                                   ("reminder", 110, "bus#1", "ack")]


def test_when_the_mute_ends_inside_a_window_the_alert_waits_for_the_window():
    done = run(mute(0, 50), fail(10), until=300, windows=[Window(40, 260)])
    assert lines(done.decided) == [
        ("alert", 10, "bus#1", "mute"), ("reminder", 110, "bus#1", "maintenance"),
        ("reminder", 210, "bus#1", "maintenance"), ("alert", 260, "bus#1", None)]


# -- one instant ----------------------------------------------------------------------

def test_a_silence_ending_with_a_reminder_due_sends_the_alert_first():
    done = run(mute(0, 110), fail(10), until=110)
    assert lines(done.decided) == [("alert", 10, "bus#1", "mute"),
                                   ("alert", 110, "bus#1", None),
                                   ("reminder", 110, "bus#1", None)]


def test_an_ack_at_the_instant_of_a_reminder_comes_after_it():
    done = run(fail(0), ack(100), until=200)
    assert lines(done.decided) == [("alert", 0, "bus#1", None), ("reminder", 100, "bus#1", None),
                                   ("reminder", 200, "bus#1", "ack")]


# -- the kill switch ------------------------------------------------------------------

def test_the_kill_switch_records_what_would_be_sent_as_notifications_off():
    done = run(mute(0, 50), fail(10), ok(20), fail(60), ok(70), notifications=False)
    assert lines(done.decided) == [
        ("alert", 10, "bus#1", "mute"), ("recovery", 20, "bus#1", "mute"),
        ("alert", 60, "bus#2", "notifications_off"),
        ("recovery", 70, "bus#2", "notifications_off")]


def test_the_kill_switch_holds_lifecycle_notices_and_lets_them_through_otherwise():
    started = Notice(NoticeKind.STARTED, "hub", 0)
    assert NotificationPolicy().observe(started, 0) == [started]
    assert NotificationPolicy(notifications=False).observe(started, 0)[0].held \
        is HeldReason.NOTIFICATIONS_OFF


# -- restarts -------------------------------------------------------------------------

def test_a_restart_keeps_the_incident_count_the_mute_and_the_held_alert():
    inputs = (mute(0, 250), fail(10), ok(20), fail(30))
    whole = run(*inputs, until=300)
    for step in range(whole.steps + 1):
        assert lines(run(*inputs, until=300, restarts=[step]).decided) == lines(whole.decided)
    assert lines(whole.decided)[-2:] == [("reminder", 230, "bus#2", "mute"),
                                         ("alert", 250, "bus#2", None)]


def test_a_snapshot_goes_through_json_whole():
    policy = NotificationPolicy(components=["bus"])
    policy.mute("*", 0, 100, by="alice", reason="deploy")
    alert = Notice(NoticeKind.ALERT, "bus", 5, state=HealthState.ALERTING, failures=1,
                   first_failure_at=5, error_type="timeout")
    policy.observe(alert, 5)
    policy.ack("bus", 6, "bob", "looking")
    snapshot = policy.snapshot()
    assert NotificationSnapshot.from_dict(json.loads(json.dumps(snapshot.to_dict()))) \
        == snapshot
    restored = NotificationPolicy.restore(snapshot)
    assert restored.state("bus") is NotificationState.OPEN_HELD
    assert restored.next_due() == 100
    assert [(n.kind, n.at, n.incident, n.acked_by) for n in restored.tick(100)] == [
        (NoticeKind.ALERT, 100, "bus#1", "bob")]


def test_a_reminder_for_an_incident_the_policy_never_saw_opens_one_as_sent():
    # a hub upgraded mid-incident: the machine is reminding, the policy starts afresh
    policy = NotificationPolicy(components=["bus"])
    reminder = Notice(NoticeKind.REMINDER, "bus", 100, state=HealthState.REMINDING, reminder=2)
    recovery = Notice(NoticeKind.RECOVERY, "bus", 200, state=HealthState.RECOVERED)
    assert [(n.incident, n.held) for n in policy.observe(reminder, 100)] == [("bus#1", None)]
    assert [(n.incident, n.held) for n in policy.observe(recovery, 200)] == [("bus#1", None)]


# -- Notice -------------------------------------------------------------------------

def test_a_decided_notice_round_trips_and_an_older_row_still_reads():
    notice = Notice(NoticeKind.ALERT, "bus", 5, incident="bus#3", held=HeldReason.MUTE,
                    silenced=HeldReason.MAINTENANCE, silenced_since=1.5, acked_by="alice",
                    ack_reason="on it")
    assert Notice.from_dict(json.loads(json.dumps(notice.to_dict()))) == notice
    older = {"kind": "alert", "component": "bus", "at": 5, "state": "alerting"}
    assert Notice.from_dict(older) == Notice(NoticeKind.ALERT, "bus", 5,
                                             state=HealthState.ALERTING)


def test_a_refusal_is_raised_to_the_caller_with_the_reply_and_changes_nothing():
    policy = NotificationPolicy(components=["bus"])
    with pytest.raises(Refused, match="^bus has no open incident to acknowledge$"):
        policy.ack("bus", 0, "alice")
    assert policy.snapshot().gates[0].acked_by is None
