"""`HealthMachines` against a tiny reference model of DESIGN.md, under random operation.

The reference below is written from the contract's wording alone (plain attributes and
if-statements, exact rational arithmetic); it shares nothing with machines/health.py but
the `Policy` values. Hypothesis applies outcomes, lets time pass (firing every timer at
its due instant, as the owner of time does), restarts the hub from a JSON snapshot, and
restarts it after downtime (timers then fire late, once); after every step the states,
the next deadlines and the notices must agree.
"""

from __future__ import annotations

import json
from fractions import Fraction

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from machines import HealthMachines, Notice, Outcome, Policy, Snapshot

COMPONENTS = ("bus", "weather")
STALE = "stale"

NoticeTuple = tuple[str, str, float, "int | None", "float | None", int, float, str]


class Reference:
    """One component's health machine, as DESIGN.md words it."""

    def __init__(self, name: str, policy: Policy, now: Fraction) -> None:
        self.name = name
        self.policy = policy
        self.state = "healthy"
        self.entered_at = now
        self.incident_failures = 0
        self.first_failure_at: Fraction | None = None
        self.consecutive_successes = 0
        self.last_outcome_at = now
        self.last_error_type = ""
        self.next_reminder_at: Fraction | None = None
        self.reminders = 0
        self.notices: list[NoticeTuple] = []

    # -- rules ----------------------------------------------------------------------------

    def enter(self, state: str, now: Fraction) -> None:
        if state != self.state:
            self.entered_at = now
        self.state = state

    def threshold_met(self, now: Fraction) -> bool:
        return (self.incident_failures >= self.policy.failures_before_alert
                and self.first_failure_at is not None
                and now - self.first_failure_at >= Fraction(self.policy.failing_for_seconds))

    def failure(self, now: Fraction, error_type: str) -> None:
        if self.first_failure_at is None:
            self.first_failure_at = now
        self.incident_failures += 1
        self.consecutive_successes = 0
        self.last_outcome_at = now
        self.last_error_type = error_type
        if self.state in ("healthy", "recovered", "suspect"):
            if self.threshold_met(now):
                self.alert(now)
            else:
                self.enter("suspect", now)

    def success(self, now: Fraction) -> None:
        self.consecutive_successes += 1
        self.last_outcome_at = now
        if self.state == "suspect":  # a blip
            self.enter("healthy", now)
            self.close()
        elif self.state in ("alerting", "reminding") and (
                self.consecutive_successes >= self.policy.successes_before_recovery):
            self.enter("recovered", now)
            assert self.first_failure_at is not None
            self.emit("recovery", now, downtime=now - self.first_failure_at)
            self.close()

    def alert(self, now: Fraction) -> None:
        self.enter("alerting", now)
        after = Fraction(self.policy.remind_after_seconds)
        self.reminders = 0
        self.next_reminder_at = now + after if after > 0 else None
        self.emit("alert", now)

    def remind(self, now: Fraction) -> None:
        assert self.next_reminder_at is not None
        due = self.next_reminder_at
        self.reminders += 1
        # reminder k+1 comes min(remind_after × backoff^k, remind_max) after reminder k
        gap = min(Fraction(self.policy.remind_after_seconds)
                  * Fraction(self.policy.remind_backoff) ** self.reminders,
                  Fraction(self.policy.remind_max_seconds))
        # a late tick (the hub was down) sends one reminder and counts the next from now
        self.next_reminder_at = due + gap if due + gap > now else now + gap
        self.enter("reminding", now)
        self.emit("reminder", now, reminder=self.reminders)

    def close(self) -> None:
        self.incident_failures = 0
        self.first_failure_at = None
        self.next_reminder_at = None
        self.reminders = 0

    def emit(self, kind: str, now: Fraction, reminder: int | None = None,
             downtime: Fraction | None = None) -> None:
        first = self.first_failure_at
        self.notices.append((
            self.name, kind, float(now), reminder,
            None if downtime is None else float(downtime),
            self.incident_failures, float(now - first) if first is not None else 0.0,
            self.last_error_type,
        ))

    # -- time -----------------------------------------------------------------------------

    def own_timer(self) -> Fraction | None:
        if self.state == "suspect" and self.incident_failures >= self.policy.failures_before_alert:
            assert self.first_failure_at is not None
            return self.first_failure_at + Fraction(self.policy.failing_for_seconds)
        if self.state in ("alerting", "reminding"):
            return self.next_reminder_at
        if self.state == "recovered":
            return self.entered_at + Fraction(self.policy.settle_seconds)
        return None

    def stale_timer(self) -> Fraction | None:
        if self.policy.stale_after_seconds == 0:
            return None
        return self.last_outcome_at + Fraction(self.policy.stale_after_seconds)

    def due(self) -> Fraction | None:
        timers = [t for t in (self.own_timer(), self.stale_timer()) if t is not None]
        return min(timers) if timers else None

    def tick(self, now: Fraction) -> None:
        """Fire what is due by `now`, earliest first; the own timer before staleness."""
        while True:
            own, stale = self.own_timer(), self.stale_timer()
            if own is not None and own <= now and (stale is None or own <= stale):
                if self.state == "suspect":
                    self.alert(now)
                elif self.state in ("alerting", "reminding"):
                    self.remind(now)
                else:
                    self.enter("healthy", now)
                    self.close()
            elif stale is not None and stale <= now:
                self.failure(now, STALE)
            else:
                return


def as_tuple(notice: Notice) -> NoticeTuple:
    return (notice.component, notice.kind.value, notice.at, notice.reminder,
            notice.downtime_seconds, notice.failures, notice.failing_for_seconds,
            notice.error_type)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    remind_after = draw(st.sampled_from([0, 30, 60, 250]))
    return Policy(
        failures_before_alert=draw(st.integers(1, 4)),
        failing_for_seconds=draw(st.sampled_from([0, 0, 10, 45, 120])),
        successes_before_recovery=draw(st.integers(1, 3)),
        remind_after_seconds=remind_after,
        # powers of these are exact binary fractions: the machine's floats stay exact
        remind_backoff=draw(st.sampled_from([1, 1.5, 2, 3])),
        remind_max_seconds=remind_after + draw(st.sampled_from([0, 40, 500])),
        settle_seconds=draw(st.sampled_from([0, 20, 300])),
        stale_after_seconds=draw(st.sampled_from([0, 0, 25, 100])),
    )


#: seconds in quarter steps, so every sum of times is an exact float
durations = st.one_of(st.integers(0, 40), st.integers(0, 2400)).map(lambda q: Fraction(q, 4))


class HealthMachinesComparison(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = Fraction(0)
        self.machines = HealthMachines()
        self.reference: dict[str, Reference] = {}
        self.notices: list[NoticeTuple] = []

    @initialize(first=policies(), second=policies())
    def watch(self, first: Policy, second: Policy) -> None:
        for name, policy in zip(COMPONENTS, (first, second), strict=True):
            self.machines.add(name, policy, now=0)
            self.reference[name] = Reference(name, policy, self.now)

    @rule(component=st.sampled_from(COMPONENTS), ok=st.booleans(),
          error_type=st.sampled_from(["timeout", "http_503"]))
    def outcome(self, component: str, ok: bool, error_type: str) -> None:
        at = float(self.now)
        outcome = (Outcome.success(component, at) if ok
                   else Outcome.failure(component, at, error_type, "detail"))
        self.notices += map(as_tuple, self.machines.observe(outcome, at))
        model = self.reference[component]
        model.tick(self.now)  # nothing is due: time only passes through `advance`
        if ok:
            model.success(self.now)
        else:
            model.failure(self.now, error_type)

    @rule(duration=durations)
    def advance(self, duration: Fraction) -> None:
        """Let time pass, firing each timer at its due instant (earliest first)."""
        until = self.now + duration
        while True:
            dues = [(d, name) for name, model in self.reference.items()
                    if (d := model.due()) is not None and d <= until]
            if not dues:
                break
            due, name = min(dues)
            self.now = due
            self.notices += map(as_tuple, self.machines.tick(name, float(due)))
            self.reference[name].tick(due)
        self.now = until

    @rule()
    def restart(self) -> None:
        """The hub restarts at once from its journal."""
        self.machines = self.restored()

    @rule(downtime=durations)
    def restart_after_downtime(self, downtime: Fraction) -> None:
        """The hub was down; on start every overdue timer fires once, late."""
        self.machines = self.restored()
        self.now += downtime
        for name in COMPONENTS:
            self.notices += map(as_tuple, self.machines.tick(name, float(self.now)))
            self.reference[name].tick(self.now)

    def restored(self) -> HealthMachines:
        fresh = HealthMachines()
        for snapshot in self.machines.snapshots():
            stored = Snapshot.from_dict(json.loads(json.dumps(snapshot.to_dict())))
            fresh.restore(stored, self.machines.policy(snapshot.component))
        return fresh

    @invariant()
    def states_agree(self) -> None:
        for name, model in self.reference.items():
            assert self.machines.state(name).value == model.state

    @invariant()
    def deadlines_agree(self) -> None:
        for name, model in self.reference.items():
            due = model.due()
            assert self.machines.next_due(name) == (None if due is None else float(due))

    @invariant()
    def notices_agree(self) -> None:
        expected = [n for model in self.reference.values() for n in model.notices]
        # across components the order at one instant is free; per component it is not
        for name in COMPONENTS:
            assert ([n for n in self.notices if n[0] == name]
                    == [n for n in expected if n[0] == name])


TestHealthMachinesAgainstReference = HealthMachinesComparison.TestCase
# Half the profile's examples (each is up to `stateful_step_count` steps), to keep the
# suite under a minute.
TestHealthMachinesAgainstReference.settings = settings(
    max_examples=max(1, settings().max_examples // 2))
