"""Flapping and dependencies in the notification policy, over generated health histories
mixed with acks, mutes, unmutes, maintenance windows and restarts, in virtual time
(DESIGN.md, "Flapping", "Dependencies", "Precise rules").

The invariants are checked on every generated run; the flapping rule itself is checked
against a small model written from the contract's words (`FlapModel`) where nothing else
holds notices, so the two are independent. Instants are generated as in
tests/machines/test_notification_properties.py: outcomes and timers on quarter seconds,
actions an eighth off, windows a sixteenth off. Example counts come from the Hypothesis
profile (tests/conftest.py).
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from machines import HeldReason, Notice, NoticeKind, Outcome, Policy
from machines.silences import ALL, Window
from tests.machines.drive import HALF, gaps, policies
from tests.machines.drive_policy import Action, Case, Input, PolicyRun

COMPONENTS = ("router", "bus", "weather")
#: Dependency shapes: none, a star behind the router, and a chain router <- bus <- weather.
GRAPHS = (
    {},
    {"bus": ("router",), "weather": ("router",)},
    {"bus": ("router",), "weather": ("bus",)},
)
WHOLE_BACKOFFS = (1, 2, 3)
MUTE_SECONDS = (30, 200, 900, 3600)
ACTION_OFFSET = 0.125
WINDOW_OFFSET = 0.0625
POLICY_MADE = (NoticeKind.FLAPPING, NoticeKind.SETTLED)


@st.composite
def flap_keys(draw: st.DrawFn) -> dict[str, object]:
    """The notification keys, and machines quick to alert: a history flaps often."""
    return {"flap_alerts": draw(st.sampled_from([0, 2, 3, 3, 4])),
            "flap_window_seconds": float(draw(st.sampled_from([300, 1000, 1000, 3600]))),
            "failures_before_alert": draw(st.integers(1, 2)),
            "failing_for_seconds": draw(st.sampled_from([0, 0, 0, 30])),
            "settle_seconds": draw(st.sampled_from([0, 60, 300]))}


@st.composite
def cases(draw: st.DrawFn, actions: bool = True, graphs: tuple[dict, ...] = GRAPHS,
          components: tuple[str, ...] = COMPONENTS) -> Case:
    graph = draw(st.sampled_from(graphs))
    chosen = {c: replace(draw(policies(backoffs=WHOLE_BACKOFFS)), **draw(flap_keys()),
                         depends_on=graph.get(c, ()))
              for c in COMPONENTS}
    inputs: list[Input] = []
    at = 1.0
    kinds = ["ok", "fail", "fail", "ok", "fail"] + (["action"] if actions else [])
    for _ in range(draw(st.integers(8, 60))):
        # short gaps: components must fail and recover often enough to flap
        at += draw(st.one_of(st.integers(0, 120).map(lambda q: q / 4), gaps))
        kind = draw(st.sampled_from(kinds))
        if kind == "action":
            what = draw(st.sampled_from(["ack", "mute", "mute", "unmute"]))
            target = draw(st.sampled_from([*components, ALL]))
            inputs.append(Action(at + ACTION_OFFSET, what, target,
                                 float(draw(st.sampled_from(MUTE_SECONDS)))))
            at += 0.25
        else:
            component = draw(st.sampled_from(components))
            inputs.append(Outcome.success(component, at) if kind == "ok"
                          else Outcome.failure(component, at, "timeout"))
    windows = []
    if actions:
        for _ in range(draw(st.integers(0, 2))):
            start = draw(st.integers(0, int(at) * 4)) / 4 + WINDOW_OFFSET
            applies = draw(st.sampled_from([frozenset({ALL}), *(frozenset({c})
                                                              for c in components)]))
            windows.append(Window(start, start + draw(st.integers(1, 3600)), applies))
    until = at + draw(st.sampled_from([0, 1200, 4000, 20_000]))
    return Case(chosen, inputs, windows, until, COMPONENTS)


def bare(notice: Notice) -> Notice:
    """A decided notice without what the policy stamped on it."""
    return replace(notice, incident=None, held=None, folded_into=None, folded=(),
                   acked_by=None, ack_reason="")


def machine_notices(run: PolicyRun) -> list[tuple[Notice, Notice]]:
    """Each notice of the machines with what the policy decided for it; asserts that the
    rest of what the policy decided is its own (flapping, settled, alerts sent late)."""
    matched: list[tuple[Notice, Notice]] = []
    pending = list(run.emitted)
    for decided in run.decided:
        if pending and bare(decided) == pending[0]:
            matched.append((pending.pop(0), decided))
        else:
            assert decided.kind in (*POLICY_MADE, NoticeKind.ALERT), decided
            assert decided.is_sent or decided.held is HeldReason.NOTIFICATIONS_OFF, decided
    assert pending == [], "every notice of the machines is decided"
    return matched


def stands_for_alert(notice: Notice) -> bool:
    """A sent notice that opens what its incident's recovery must close."""
    return notice.kind is NoticeKind.ALERT or (notice.kind is NoticeKind.SETTLED
                                               and notice.incident is not None)


# -- invariants, everything mixed --------------------------------------------------------

@HALF
@given(case=cases())
def test_nothing_is_lost_and_every_sent_alert_gets_its_sent_recovery(case):
    run = case.run()
    machine_notices(run)
    sent_alerts: set[str] = set()
    for notice in run.decided:
        if notice.kind in POLICY_MADE:
            assert notice.is_sent, "flapping and settled are never held or folded"
        if stands_for_alert(notice) and notice.is_sent:
            assert notice.incident not in sent_alerts, "an incident is alerted once"
            assert notice.incident is not None
            sent_alerts.add(notice.incident)
        if notice.kind is NoticeKind.RECOVERY:
            assert notice.is_sent == (notice.incident in sent_alerts), notice
        if notice.kind is NoticeKind.REMINDER and notice.is_sent:
            assert notice.incident in sent_alerts, "no reminder of an alert not sent"


@HALF
@given(case=cases())
def test_each_episode_is_one_flapping_then_one_settled_a_window_after_its_last_event(case):
    run = case.run()
    for component in COMPONENTS:
        window = case.policy(component).flap_window_seconds
        mine = [n for n in run.decided if n.component == component]
        marks = [n for n in mine if n.kind in POLICY_MADE]
        kinds = [n.kind for n in marks]
        assert kinds == [NoticeKind.FLAPPING, NoticeKind.SETTLED] * (len(kinds) // 2) \
            + [NoticeKind.FLAPPING] * (len(kinds) % 2)
        if case.policy(component).flap_alerts == 0:
            assert kinds == []
        events = [emitted.at for emitted, _ in machine_notices(run)
                  if emitted.component == component
                  and emitted.kind in (NoticeKind.ALERT, NoticeKind.RECOVERY)]
        # An episode may start at a machine's alert or when a silence or a parent's
        # incident that held the alert ends; it ends a window after the later of its start
        # and the machine's last alert or recovery (settles come first at an instant).
        ends = [settled.at for settled in marks[1::2]] + [float("inf")]
        for flapping, end in zip(marks[::2], ends, strict=False):
            last = max([flapping.at, *(at for at in events if flapping.at <= at < end)])
            if end == float("inf"):  # still going: it cannot have been due yet
                assert last + window > case.until, flapping
            else:
                assert end == last + window, flapping


@HALF
@given(case=cases())
def test_a_notice_is_folded_only_into_a_parents_incident_sent_and_still_open(case):
    run = case.run()
    opened: dict[str, int] = {}  # incident -> index of its sent alert (or settled)
    closed: dict[str, int] = {}
    for index, notice in enumerate(run.decided):
        if stands_for_alert(notice) and notice.is_sent and notice.incident:
            opened.setdefault(notice.incident, index)
        if notice.kind is NoticeKind.RECOVERY and notice.incident:
            closed[notice.incident] = index
    for index, notice in enumerate(run.decided):
        if notice.folded_into is None:
            continue
        parent = notice.folded_into.rpartition("#")[0]
        graph_parents = set()
        frontier = [notice.component]
        while frontier:
            node = frontier.pop()
            for p in case.policy(node).depends_on:
                if p not in graph_parents:
                    graph_parents.add(p)
                    frontier.append(p)
        assert parent in graph_parents
        assert opened[notice.folded_into] < index < closed.get(notice.folded_into, 10**9)
    for notice in run.decided:
        if notice.kind is NoticeKind.ALERT and notice.is_sent:
            later = [n for n in run.decided if n.incident == notice.incident
                     and n.folded_into is not None and n.at > notice.at]
            assert later == [], "an alert already sent is never folded later"


@HALF
@given(case=cases(), data=st.data())
def test_restarts_change_nothing(case, data):
    whole = case.run()
    restarts = data.draw(st.lists(st.integers(0, whole.steps), max_size=3), label="restarts")
    assert case.run(restarts=restarts).decided == whole.decided


@HALF
@given(case=cases())
def test_the_kill_switch_holds_what_would_be_sent_and_decides_nothing_else(case):
    on, off = case.run(), case.run(notifications=False)
    assert off.decided == [n if not n.is_sent else replace(n, held=HeldReason.NOTIFICATIONS_OFF)
                           for n in on.decided]


# -- the flapping rule against a model of the contract's words --------------------------

class FlapModel:
    """DESIGN.md's flapping rule for one component, with nothing else holding notices:
    (kind, at, sent) of each notice the policy decides, from the machine's notices."""

    def __init__(self, policy: Policy) -> None:
        self.alerts, self.window = policy.flap_alerts, policy.flap_window_seconds
        self.sent_at: list[float] = []
        self.until: float | None = None  # the episode's settle time
        self.failing = False
        self.alert_sent = False
        self.out: list[tuple[str, float, bool]] = []

    def settle_before(self, at: float) -> None:
        if self.until is not None and self.until <= at:
            self.out.append(("settled", self.until, True))
            if self.failing:
                self.sent_at.append(self.until)
                self.alert_sent = True
            self.until = None

    def take(self, notice: Notice) -> None:
        self.settle_before(notice.at)
        kind, at = notice.kind.value, notice.at
        if kind == "alert":
            self.failing = True
            recent = [t for t in self.sent_at if at - self.window < t <= at]
            if self.until is not None:
                self.until = max(self.until, at + self.window)
                self.alert_sent = False
            elif self.alerts and len(recent) + 1 >= self.alerts:
                self.out.append(("flapping", at, True))
                self.until, self.alert_sent = at + self.window, False
            else:
                self.sent_at.append(at)
                self.alert_sent = True
            self.out.append(("alert", at, self.alert_sent))
        elif kind == "reminder":
            self.out.append(("reminder", at, self.alert_sent and self.until is None))
        elif kind == "recovery":
            if self.until is not None:
                self.until = max(self.until, at + self.window)
            self.out.append(("recovery", at, self.alert_sent))
            self.failing = self.alert_sent = False


@HALF
@given(case=cases(actions=False, graphs=({},), components=("bus",)))
def test_flapping_decides_as_the_contract_says(case):
    run = case.run()
    model = FlapModel(case.policy("bus"))
    for notice in run.emitted:
        model.take(notice)
    model.settle_before(case.until)
    assert [(n.kind.value, n.at, n.is_sent) for n in run.decided] == model.out
