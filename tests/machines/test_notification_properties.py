"""The notification policy's invariants (DESIGN.md, "Incidents, silences and smarter
alerting"), over generated health histories mixed with acks, mutes, unmutes, maintenance
windows and restarts, in virtual time.

Instants are generated apart so that the order at one instant never decides a property by
accident: outcomes and the machines' timers fall on quarter seconds (whole backoffs),
operators' actions and so mute ends an eighth of a second off them, and maintenance
windows begin and end a sixteenth off. Where they do meet (an action at a mute's end),
DESIGN.md's order holds: silence expiries first, then the lines in file order.

Example counts come from the Hypothesis profile (tests/conftest.py).
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from machines import HeldReason, Notice, NoticeKind, Outcome
from machines.silences import ALL, Window
from tests.machines.drive import HALF, gaps, policies
from tests.machines.drive_policy import Action, Case, Input, PolicyRun

COMPONENTS = ("bus", "weather")
WHOLE_BACKOFFS = (1, 2, 3)
#: Mute lengths: shorter and longer than an incident, up to the 7-day limit.
MUTE_SECONDS = (30, 200, 900, 3600, 7 * 24 * 3600)
ACTION_OFFSET = 0.125
WINDOW_OFFSET = 0.0625


@st.composite
def cases(draw: st.DrawFn) -> Case:
    # Flapping off: these pin the silences; flapping and dependencies mixed with them are
    # tests/machines/test_policy_rules_properties.py.
    chosen = {c: replace(draw(policies(backoffs=WHOLE_BACKOFFS)), flap_alerts=0)
              for c in COMPONENTS}
    inputs: list[Input] = []
    at = 1.0
    for _ in range(draw(st.integers(8, 60))):
        at += draw(gaps)
        kind = draw(st.sampled_from(["ok", "fail", "fail", "ok", "fail", "action"]))
        if kind == "action":
            what = draw(st.sampled_from(["ack", "mute", "mute", "unmute"]))
            target = draw(st.sampled_from([*COMPONENTS, ALL]))
            if what == "ack" and draw(st.booleans()):
                target = f"{draw(st.sampled_from(COMPONENTS))}#{draw(st.integers(1, 4))}"
            inputs.append(Action(at + ACTION_OFFSET, what, target,
                                 float(draw(st.sampled_from(MUTE_SECONDS)))))
            at += 0.25  # what follows comes after it: inputs are in time order
        else:
            component = draw(st.sampled_from(COMPONENTS))
            inputs.append(Outcome.success(component, at) if kind == "ok"
                          else Outcome.failure(component, at, "timeout"))
    windows = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(st.integers(0, int(at) * 4)) / 4 + WINDOW_OFFSET
        components = draw(st.sampled_from([frozenset({ALL}), frozenset({"bus"}),
                                           frozenset({"weather"})]))
        windows.append(Window(start, start + draw(st.integers(1, 3600)), components))
    assert [i.at for i in inputs] == sorted(i.at for i in inputs)
    until = at + draw(st.sampled_from([0, 60, 3600, 20_000]))
    return Case(chosen, inputs, windows, until, COMPONENTS)


# -- a reference of what silences a component, from the contract's words ---------------

class Reference:
    """Whether a component is silenced, straight from DESIGN.md: the latest mute or unmute
    that names the component (or `*`) decides its end; windows cover `[start, end)`."""

    def __init__(self, case: Case, refused: list[tuple[Action, str]]) -> None:
        ignored = {id(action) for action, _ in refused}
        self.actions = [i for i in case.inputs if isinstance(i, Action)
                        and i.action in ("mute", "unmute") and id(i) not in ignored]
        self.windows = case.windows

    def silenced(self, component: str, at: float, upto: int | None = None) -> bool:
        """At `at`, after the actions before it (and those up to index `upto`)."""
        end = None
        for index, action in enumerate(self.actions):
            if action.at > at or (action.at == at and (upto is None or index > upto)):
                break
            if action.target in (component, ALL):
                end = action.at + action.for_seconds if action.action == "mute" else action.at
        muted = end is not None and at < end
        return muted or any(w.covers(at) and w.applies_to(component) for w in self.windows)

    def released(self, component: str, after: float) -> float | None:
        """The first instant after `after` at which a silence ends and none covers."""
        points: list[tuple[float, int, int | None]] = []  # (at, expiry 0 / action 1, index)
        for index, action in enumerate(self.actions):
            if action.target in (component, ALL):
                points.append((action.at, 1, index))
                if action.action == "mute":
                    points.append((action.at + action.for_seconds, 0, None))
        points += [(w.end, 0, None) for w in self.windows if w.applies_to(component)]
        for at, _, index in sorted(points, key=lambda p: (p[0], p[1], p[2] or 0)):
            if at > after and not self.silenced(component, at, index):
                return at
        return None


def is_late(notice: Notice) -> bool:
    """An alert sent when the silence that held it ended."""
    return notice.kind is NoticeKind.ALERT and notice.silenced is not None


def pairs(run: PolicyRun) -> list[tuple[Notice, Notice]]:
    """Each notice of the machines with what the policy decided for it."""
    decided = [n for n in run.decided if not is_late(n)]
    assert len(decided) == len(run.emitted)
    return list(zip(run.emitted, decided, strict=True))


# -- properties -------------------------------------------------------------------------

@HALF
@given(case=cases())
def test_every_notice_is_decided_once_in_order_and_held_ones_say_why(case):
    run = case.run()
    for emitted, decided in pairs(run):
        assert replace(decided, incident=None, held=None, acked_by=None, ack_reason="") \
            == emitted
        assert decided.incident is not None and decided.incident.startswith(
            f"{emitted.component}#")
        assert decided.held is None or decided.held in HeldReason
    for late in filter(is_late, run.decided):
        assert late.held is None and late.silenced in (HeldReason.MUTE, HeldReason.MAINTENANCE)


@HALF
@given(case=cases())
def test_a_recovery_is_sent_exactly_when_its_alert_was(case):
    run = case.run()
    sent_alerts: set[str] = set()
    for notice in run.decided:
        assert notice.incident is not None
        if notice.kind is NoticeKind.ALERT and notice.is_sent:
            assert notice.incident not in sent_alerts, "an incident's alert is sent once"
            sent_alerts.add(notice.incident)
        if notice.kind is NoticeKind.RECOVERY:
            assert notice.is_sent == (notice.incident in sent_alerts), notice
        if notice.kind is NoticeKind.REMINDER and notice.incident not in sent_alerts:
            assert not notice.is_sent, "a reminder of an alert not sent is held with it"


@HALF
@given(case=cases())
def test_a_silence_that_ends_with_the_incident_open_sends_the_held_alert_then(case):
    run = case.run()
    reference = Reference(case, run.refused)
    recovered: dict[str, float] = {n.incident: n.at for n in run.decided
                                   if n.kind is NoticeKind.RECOVERY and n.incident}
    late = {n.incident: n.at for n in run.decided if is_late(n)}
    for notice in run.decided:
        if notice.kind is not NoticeKind.ALERT or is_late(notice):
            continue
        assert notice.incident is not None
        silenced = reference.silenced(notice.component, notice.at)
        assert (notice.held is not None) == silenced, notice
        if not silenced:
            continue
        released = reference.released(notice.component, notice.at)
        still_open = released is not None and recovered.get(notice.incident, float("inf")) \
            > released and released <= case.until
        assert late.get(notice.incident) == (released if still_open else None), notice


def open_incident(run: PolicyRun, component: str, at: float) -> str | None:
    """The incident of `component` open at `at`: opened by then, not yet recovered."""
    opened: str | None = None
    for notice in run.decided:
        if notice.at > at:
            break
        if notice.component == component and notice.kind is NoticeKind.ALERT:
            opened = notice.incident
        if notice.component == component and notice.kind is NoticeKind.RECOVERY:
            opened = None
    return opened


@HALF
@given(case=cases())
def test_an_ack_holds_its_incidents_later_reminders_and_its_recovery_names_who_acked(case):
    run = case.run()
    refused = {id(action) for action, _ in run.refused}
    for action in (i for i in case.inputs if isinstance(i, Action) and i.action == "ack"):
        component, _, number = action.target.partition("#")
        targets = COMPONENTS if component == ALL else (component,)
        acked = {c: incident for c in targets
                 if (incident := open_incident(run, c, action.at)) is not None}
        if number and acked.get(component) != action.target:
            acked = {}
        assert (id(action) in refused) == (not acked), action
        for incident in acked.values():
            later = [n for n in run.decided if n.incident == incident and n.at > action.at]
            for notice in later:
                if notice.kind is NoticeKind.REMINDER:
                    assert notice.held is HeldReason.ACK, notice
                if notice.kind is NoticeKind.RECOVERY:
                    assert notice.acked_by is not None, notice


@HALF
@given(case=cases(), data=st.data())
def test_restarts_change_nothing_and_incident_numbers_never_repeat(case, data):
    whole = case.run()
    restarts = data.draw(st.lists(st.integers(0, whole.steps), max_size=3), label="restarts")
    restarted = case.run(restarts=restarts)
    assert restarted.decided == whole.decided
    for component in COMPONENTS:
        opened = [n.incident for n in whole.decided if n.component == component
                  and n.kind is NoticeKind.ALERT and not is_late(n)]
        assert opened == [f"{component}#{k}" for k in range(1, len(opened) + 1)]


@HALF
@given(case=cases())
def test_the_kill_switch_holds_what_would_be_sent_and_decides_nothing_else(case):
    on, off = case.run(), case.run(notifications=False)
    assert off.decided == [n if not n.is_sent else replace(n, held=HeldReason.NOTIFICATIONS_OFF)
                           for n in on.decided]
    assert on.refused == off.refused


@HALF
@given(case=cases())
def test_the_policy_is_deterministic(case):
    assert case.run().decided == case.run().decided
