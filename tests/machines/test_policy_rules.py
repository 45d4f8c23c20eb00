"""Flapping and dependencies in the notification policy, rule by rule (DESIGN.md,
"Flapping", "Dependencies" and "Precise rules").

Time is virtual: `drive_policy` fires every timer at its due instant. The machines alert
on the first failure and remind every 100 s; flapping counts 3 sent alerts in 1000 s, so
each history reads like its timeline.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from machines import HealthState, Notice, NoticeKind, Outcome, Policy
from machines.dependencies import ancestors, find_cycle, parents_first
from machines.notification import NotificationPolicy, NotificationSnapshot, NotificationState
from tests.machines.drive_policy import Action, PolicyRun, drive_policy

FAST = Policy(failures_before_alert=1, remind_after_seconds=100, remind_backoff=1,
              remind_max_seconds=100, settle_seconds=0, flap_alerts=3,
              flap_window_seconds=1000)
COMPONENTS = ("router", "bus", "weather")
#: bus and weather need the router (as in hub.example.toml).
RULES = {"router": FAST, "bus": replace(FAST, depends_on=("router",)),
         "weather": replace(FAST, depends_on=("router",))}


def fail(at: float, component: str = "bus") -> Outcome:
    return Outcome.failure(component, at, "timeout", f"timeout at {at:g}")


def ok(at: float, component: str = "bus") -> Outcome:
    return Outcome.success(component, at)


def run(*inputs: Outcome | Action, until: float | None = None,
        rules: dict[str, Policy] | None = None, **options) -> PolicyRun:
    chosen = rules if rules is not None else {c: FAST for c in COMPONENTS}
    last = max((i.at for i in inputs), default=0.0)
    return drive_policy(chosen.__getitem__, inputs, until if until is not None else last,
                        COMPONENTS, **options)


def lines(notices: list[Notice]) -> list[tuple]:
    """(kind, component, at, incident, held or folded_into) of each notice."""
    return [(n.kind.value, n.component, n.at, n.incident,
             n.held.value if n.held else n.folded_into) for n in notices]


def flaps(*extra: Outcome | Action) -> tuple[Outcome | Action, ...]:
    """bus fails and recovers three times in 50 s: the third alert is the flapping one."""
    return (fail(0), ok(10), fail(20), ok(30), fail(40), *extra)


# -- flapping ---------------------------------------------------------------------------

def test_the_alert_that_would_be_the_third_sent_in_the_window_is_a_flapping_notice():
    done = run(*flaps(ok(50)), until=1049)
    assert lines(done.decided) == [
        ("alert", "bus", 0, "bus#1", None), ("recovery", "bus", 10, "bus#1", None),
        ("alert", "bus", 20, "bus#2", None), ("recovery", "bus", 30, "bus#2", None),
        ("flapping", "bus", 40, "bus#3", None), ("alert", "bus", 40, "bus#3", "flapping"),
        ("recovery", "bus", 50, "bus#3", "flapping")]


def test_an_episode_settles_a_window_after_the_last_alert_or_recovery_saying_how_it_is():
    done = run(*flaps(ok(50), fail(300), ok(390)), until=1390)
    settled = done.decided[-1]
    assert lines(done.decided[-3:]) == [
        ("alert", "bus", 300, "bus#4", "flapping"), ("recovery", "bus", 390, "bus#4", "flapping"),
        ("settled", "bus", 1390, None, None)]
    assert settled.state is HealthState.RECOVERED and settled.silenced_since == 40


def test_settled_while_failing_stands_in_for_the_alert_and_its_recovery_is_sent():
    done = run(*flaps(ok(1200)), until=1200)
    assert lines(done.decided[4:]) == [
        ("flapping", "bus", 40, "bus#3", None), ("alert", "bus", 40, "bus#3", "flapping"),
        *[("reminder", "bus", t, "bus#3", "flapping") for t in range(140, 1040, 100)],
        ("settled", "bus", 1040, "bus#3", None),  # the reminder due at 1040 comes after
        ("reminder", "bus", 1040, "bus#3", None), ("reminder", "bus", 1140, "bus#3", None),
        ("recovery", "bus", 1200, "bus#3", None)]
    settled = next(n for n in done.decided if n.kind.value == "settled")
    assert settled.state is HealthState.REMINDING and settled.failing_for_seconds == 1000


def test_the_settled_alert_counts_towards_the_next_episode():
    # sent alerts: 0, 20, the settled at 1040, then 1100 -> 1200 would be the third again?
    # No: 0 and 20 left the window long ago; 1040 and 1100 are two; 1200 is the third.
    done = run(*flaps(ok(1050), fail(1100), ok(1110), fail(1200)), until=1200)
    assert lines(done.decided[-5:]) == [
        ("recovery", "bus", 1050, "bus#3", None), ("alert", "bus", 1100, "bus#4", None),
        ("recovery", "bus", 1110, "bus#4", None),
        ("flapping", "bus", 1200, "bus#5", None), ("alert", "bus", 1200, "bus#5", "flapping")]


def test_held_alerts_do_not_count_and_a_late_alert_does():
    muted = Action(0, "mute", "bus", 15)
    # the alert at 0 is held by the mute, sent late at 15: that is one sent alert
    done = run(muted, *flaps(), until=40)
    assert lines(done.decided) == [
        ("alert", "bus", 0, "bus#1", "mute"), ("recovery", "bus", 10, "bus#1", "mute"),
        ("alert", "bus", 20, "bus#2", None), ("recovery", "bus", 30, "bus#2", None),
        ("alert", "bus", 40, "bus#3", None)]
    late = run(Action(0, "mute", "bus", 5), fail(0), ok(10), fail(20), until=20)
    assert lines(late.decided) == [
        ("alert", "bus", 0, "bus#1", "mute"), ("alert", "bus", 5, "bus#1", None),
        ("recovery", "bus", 10, "bus#1", None), ("alert", "bus", 20, "bus#2", None)]


def test_a_silence_comes_before_flapping_and_flapping_and_settled_are_never_held():
    done = run(*flaps(Action(45, "mute", "bus", 3600), ok(50)), until=1050)
    assert lines(done.decided[4:]) == [
        ("flapping", "bus", 40, "bus#3", None), ("alert", "bus", 40, "bus#3", "flapping"),
        ("recovery", "bus", 50, "bus#3", "mute"), ("settled", "bus", 1050, None, None)]


def test_flap_alerts_zero_turns_flapping_off():
    off = {c: replace(FAST, flap_alerts=0) for c in COMPONENTS}
    done = run(*flaps(), rules=off)
    assert [n.kind.value for n in done.decided] == ["alert", "recovery"] * 2 + ["alert"]
    assert all(n.is_sent for n in done.decided)


def test_the_kill_switch_holds_flapping_and_settled_too():
    done = run(*flaps(ok(50)), until=1050, notifications=False)
    assert [(n.kind.value, n.held.value if n.held else None) for n in done.decided[4:]] == [
        ("flapping", "notifications_off"), ("alert", "flapping"), ("recovery", "flapping"),
        ("settled", "notifications_off")]


def test_the_settle_is_a_timer_the_scheduler_sees():
    policy = NotificationPolicy(components=["bus"], policy_for=lambda _: FAST)
    done = run(*flaps())
    assert done.decided[-1].held is not None
    for notice in done.emitted:
        policy.observe(notice, notice.at)
    assert policy.next_due() == 1040
    assert [n.kind.value for n in policy.tick(1039.5)] == []
    assert [n.kind.value for n in policy.tick(1040)] == ["settled"]
    assert policy.next_due() is None and policy.state("bus") is NotificationState.OPEN_SENT


def test_an_episode_survives_a_restart():
    whole = run(*flaps(ok(50), fail(300)), until=1400)
    for step in range(whole.steps + 1):
        assert run(*flaps(ok(50), fail(300)), until=1400, restarts=[step]).decided \
            == whole.decided, step


# -- dependencies -----------------------------------------------------------------------

def test_a_childs_alert_reminders_and_recovery_fold_into_the_parents_sent_incident():
    done = run(fail(0, "router"), fail(10), fail(20, "weather"), ok(150), ok(190, "router"),
               ok(195, "weather"), rules=RULES)
    assert lines(done.decided) == [
        ("alert", "router", 0, "router#1", None),
        ("alert", "bus", 10, "bus#1", "router#1"),
        ("alert", "weather", 20, "weather#1", "router#1"),
        ("reminder", "router", 100, "router#1", None),
        ("reminder", "bus", 110, "bus#1", "router#1"),
        ("reminder", "weather", 120, "weather#1", "router#1"),
        ("recovery", "bus", 150, "bus#1", "router#1"),
        ("recovery", "router", 190, "router#1", None),
        ("alert", "weather", 190, "weather#1", None),  # still failing when the router is back
        ("recovery", "weather", 195, "weather#1", None)]
    reminder, recovery = done.decided[3], done.decided[7]
    assert reminder.folded == ("bus", "weather")  # "bus and weather are failing with it"
    assert recovery.folded == ("bus",)  # "bus came back with it"


def test_an_alert_already_sent_is_never_folded_later():
    done = run(fail(0), fail(10, "router"), ok(150, "router"), ok(160), rules=RULES)
    assert [n.folded_into for n in done.decided] == [None] * len(done.decided)
    assert lines(done.decided)[-1] == ("recovery", "bus", 160, "bus#1", None)


def test_a_held_parent_alert_folds_nothing_and_a_parents_late_alert_folds_the_children():
    everything = Action(0, "mute", "*", 50)
    done = run(everything, fail(10, "router"), fail(20), until=125, rules=RULES)
    # At 50 the mute ends for both: the router's alert goes out first, so bus's is
    # folded into it instead of sent (parents before children at one instant).
    assert lines(done.decided) == [
        ("alert", "router", 10, "router#1", "mute"), ("alert", "bus", 20, "bus#1", "mute"),
        ("alert", "router", 50, "router#1", None),
        ("reminder", "router", 110, "router#1", None),
        ("reminder", "bus", 120, "bus#1", "router#1")]
    assert done.decided[3].folded == ("bus",)


def test_folding_wins_over_silences_and_flapping():
    done = run(fail(0, "router"), Action(5, "mute", "bus", 3600), fail(10), until=10,
               rules=RULES)
    assert lines(done.decided)[-1] == ("alert", "bus", 10, "bus#1", "router#1")


def test_a_grandchild_folds_into_the_nearest_sent_ancestor():
    rules = {"router": FAST, "bus": replace(FAST, depends_on=("router",)),
             "weather": replace(FAST, depends_on=("bus",))}
    done = run(fail(0, "router"), fail(10), fail(20, "weather"), until=20, rules=rules)
    assert [n.folded_into for n in done.decided] == [None, "router#1", "router#1"]


def test_folding_survives_a_restart():
    inputs = (fail(0, "router"), fail(10), ok(150), fail(160), ok(200, "router"))
    whole = run(*inputs, until=300, rules=RULES)
    for step in range(whole.steps + 1):
        assert run(*inputs, until=300, rules=RULES, restarts=[step]).decided \
            == whole.decided, step


def test_a_snapshot_keeps_flapping_and_folding_through_json():
    policy = NotificationPolicy(components=COMPONENTS, policy_for=RULES.__getitem__)
    done = run(fail(0, "router"), fail(10), *flaps()[1:], rules=RULES, until=40)
    for notice in done.emitted:
        policy.observe(notice, notice.at)
    stored = json.loads(json.dumps(policy.snapshot().to_dict()))
    again = NotificationPolicy.restore(NotificationSnapshot.from_dict(stored),
                                       policy_for=RULES.__getitem__)
    assert again.snapshot() == policy.snapshot()


# -- the graph --------------------------------------------------------------------------

def test_find_cycle_names_the_path_that_closes_it():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ("a", "b", "c", "a")
    assert find_cycle({"a": ["a"]}) == ("a", "a")
    assert find_cycle({"bus": ["router"], "weather": ["router"], "router": []}) is None


@pytest.mark.parametrize("chain", [10, 5000])
def test_graph_walks_take_long_chains(chain):
    graph = {f"c{i}": [f"c{i + 1}"] for i in range(chain)}
    assert find_cycle(graph) is None
    assert ancestors("c0", lambda c: graph.get(c, []))[-1] == f"c{chain}"
    order = parents_first(reversed(list(graph)), lambda c: graph.get(c, []))
    assert order[0] == f"c{chain - 1}" and order[-1] == "c0"


def test_components_added_one_by_one_keep_parents_first():
    rules = {"bus": replace(FAST, depends_on=("router",)), "router": FAST, "nas": FAST}
    policy = NotificationPolicy(policy_for=rules.__getitem__)
    for component in ("nas", "bus", "router"):
        policy.add(component)
        policy.tick(0)  # orders the gates known so far
    notices = [Notice(kind=NoticeKind.ALERT, component=c, at=1,
                      state=HealthState.ALERTING) for c in ("bus", "router")]
    # bus's alert came first: sent, and never folded later
    assert [(n.component, n.folded_into) for n in policy.observe(notices[0], 1)] \
        == [("bus", None)]
    policy.observe(notices[1], 1)
    assert policy.fold_target("bus") == "router#1"


def test_a_snapshot_from_before_flapping_and_dependencies_still_restores():
    old = {"gates": [{"component": "bus", "state": "open_sent", "opened": 2,
                      "incident": "bus#2", "latest": None, "held_since": None,
                      "held_reason": None, "acked_by": None, "ack_reason": ""}],
           "mutes": [], "at": 10.0}
    policy = NotificationPolicy.restore(NotificationSnapshot.from_dict(old))
    assert policy.incident("bus") == "bus#2" and policy.next_due() is None
