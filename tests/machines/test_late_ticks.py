"""Ticks that come late (a hub that was not running) fire once, never in a burst."""

from __future__ import annotations

from machines import HealthMachines, HealthState, NoticeKind, Outcome, Policy


def alerting_at_zero(policy: Policy) -> HealthMachines:
    machines = HealthMachines()
    machines.add("bus", policy, now=0)
    machines.observe(Outcome.failure("bus", 0, "timeout"), 0)
    assert machines.state("bus") is HealthState.ALERTING
    return machines


def test_many_missed_reminders_send_one_and_resume_the_schedule_from_now():
    machines = alerting_at_zero(Policy(failures_before_alert=1, remind_after_seconds=100,
                                       remind_backoff=2, remind_max_seconds=1000))
    notices = machines.tick("bus", 10_000)  # reminders were due at 100, 300, 700, 1500, …
    assert [(n.kind, n.reminder) for n in notices] == [(NoticeKind.REMINDER, 1)]
    # the next interval (200 s after reminder 1) counts from the late tick
    assert machines.next_due("bus") == 10_200


def test_a_slightly_late_tick_keeps_the_exact_schedule():
    machines = alerting_at_zero(Policy(failures_before_alert=1, remind_after_seconds=100,
                                       remind_backoff=2, remind_max_seconds=1000))
    machines.tick("bus", 100.25)
    assert machines.next_due("bus") == 300  # 100 + 200: anchored to the due time


def test_late_settle_and_escalation_fire_once_each():
    machines = HealthMachines()
    machines.add("bus", Policy(failures_before_alert=2, failing_for_seconds=50,
                               settle_seconds=10), now=0)
    machines.observe(Outcome.failure("bus", 0, "x"), 0)
    machines.observe(Outcome.failure("bus", 1, "x"), 1)
    notices = machines.tick("bus", 5_000)
    assert [n.kind for n in notices] == [NoticeKind.ALERT]
    assert notices[0].at == 5_000 and notices[0].failing_for_seconds == 5_000
