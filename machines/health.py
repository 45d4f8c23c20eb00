"""The health machine: healthy → suspect → alerting → reminding → recovered.

The states and transitions below are data, and that data is the single source for the
machine that runs (`HealthMachines`) and for the diagram maintainers read
(`machines.diagram`). Semantics are the contract in DESIGN.md:

* Every trigger carries `now`; nothing here reads a clock, sleeps or starts a timer.
  Deadlines (the escalation of a suspect, the next reminder, the end of settling, the
  moment silence becomes staleness) are stored as data; the owner of time asks
  `next_due()` and calls `tick(now)` at that instant.
* Counters are updated once per event, before any guard is evaluated
  (`Incident.record`, the machine's `prepare_event`), so guards only read.
* Transition callbacks do no I/O: they append frozen `Notice`s, which the caller drains.

One `transitions.Machine` serves every component through `add_model` (see
docs/performance.md for the measurement behind that choice). It is not locked: all
updates happen on the single scheduler that owns time (DESIGN.md, rule 2).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from transitions import EventData, Machine

from machines.notice import Notice, NoticeKind
from machines.outcome import Outcome
from machines.policy import Policy
from machines.states import HealthState

H, S, A, R, V = (HealthState.HEALTHY, HealthState.SUSPECT, HealthState.ALERTING,
                 HealthState.REMINDING, HealthState.RECOVERED)

#: States with their entry callbacks. `mark_since` runs first so callbacks see the new `since`.
STATES: list[dict[str, Any]] = [
    {"name": H, "on_enter": ["mark_since", "close_incident"]},
    {"name": S, "on_enter": ["mark_since"]},
    {"name": A, "on_enter": ["mark_since", "emit_alert"]},
    {"name": R, "on_enter": ["mark_since", "emit_reminder"]},
    {"name": V, "on_enter": ["mark_since", "emit_recovery"]},
]

#: The transition table. For one trigger and source, rows are tried in order and the
#: first whose guards hold is taken; rows with `dest: None` are internal (the counters
#: were updated, the state stays). Every trigger is defined in every state so that an
#: event is never silently dropped.
TRANSITIONS: list[dict[str, Any]] = [
    # failure
    {"trigger": "failure", "source": [H, V, S], "dest": A, "conditions": "threshold_met"},
    {"trigger": "failure", "source": [H, V, S], "dest": A, "conditions": "error_rate_met"},
    {"trigger": "failure", "source": [H, V], "dest": S},
    {"trigger": "failure", "source": [S, A, R], "dest": None},
    # success
    {"trigger": "success", "source": S, "dest": H},
    {"trigger": "success", "source": [A, R], "dest": V,
     "conditions": ["recovery_met", "error_rate_cleared"]},
    {"trigger": "success", "source": [H, A, R, V], "dest": None},
    # tick: time alone moves a machine
    {"trigger": "tick", "source": S, "dest": A, "conditions": "threshold_met"},
    {"trigger": "tick", "source": [A, R], "dest": R, "conditions": "reminder_due"},
    {"trigger": "tick", "source": V, "dest": H, "conditions": "settled"},
    {"trigger": "tick", "source": [H, S, A, R, V], "dest": None},
]


def new_machine(**kwargs: Any) -> Machine:
    """A `Machine` (or subclass via `machine_cls`) over the table, with no models yet."""
    machine_cls = kwargs.pop("machine_cls", Machine)
    machine: Machine = machine_cls(
        model=[],
        states=STATES,
        transitions=TRANSITIONS,
        initial=H,
        send_event=True,
        auto_transitions=False,
        prepare_event="record",
        **kwargs,
    )
    return machine


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything that defines a machine's future, as plain data.

    `Snapshot.from_dict(s.to_dict())` restores a machine that emits exactly the notices
    the original would have, except for the error rate, whose window of outcomes is not
    kept (see `Incident`): only whether the open incident was opened by it. The policy is
    not part of it: it comes from the config.
    """

    component: str
    state: HealthState
    since: float
    failures: int = 0
    successes: int = 0
    first_failure_at: float | None = None
    last_success_at: float | None = None
    last_seen_at: float = 0.0
    last_error_type: str = ""
    last_error: str = ""
    next_reminder_at: float | None = None
    reminders_sent: int = 0
    #: The open incident was alerted while the error rate held: it recovers only once the
    #: share is below the threshold. The window itself is not kept (see `Incident`).
    rate_opened: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "state": self.state.value,
            "since": self.since,
            "failures": self.failures,
            "successes": self.successes,
            "first_failure_at": self.first_failure_at,
            "last_success_at": self.last_success_at,
            "last_seen_at": self.last_seen_at,
            "last_error_type": self.last_error_type,
            "last_error": self.last_error,
            "next_reminder_at": self.next_reminder_at,
            "reminders_sent": self.reminders_sent,
            "rate_opened": self.rate_opened,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Snapshot:
        values = dict(data)
        values["state"] = HealthState(values["state"])
        return cls(**values)


class Incident:
    """The `transitions` model of one component: its counters, guards and callbacks.

    Guards and callbacks receive the `EventData` of the trigger; `event.kwargs` holds
    `now` and, for success/failure, the `outcome`.

    With the error rate on, `window` holds the outcomes of `(now − W, now]` as
    (at, failed) pairs, oldest first, so memory is what the window sees (900 s at one
    outcome a second: 900 pairs); with it off nothing is kept. The window is not in the
    snapshot: it changes with every outcome, and journaling it would rewrite every
    component's window on every beat of the SD card for outcomes that are minutes old.
    A restored machine starts with an empty window that is `window_partial` until it
    holds `error_rate_min_outcomes` outcomes: until then an incident the rate opened
    does not recover on the share alone (a lone success after a restart is not a
    share), and the rate alerts from what it has seen since, which is the rule anyway.
    """

    state: HealthState  # set by transitions
    trigger: Callable[..., bool]  # added by transitions: trigger("failure", now=..., outcome=...)

    def __init__(self, component: str, policy: Policy, now: float) -> None:
        self.component = component
        self.policy = policy
        self.since = now
        self.failures = 0
        self.successes = 0
        self.first_failure_at: float | None = None
        self.last_success_at: float | None = None
        self.last_seen_at = now
        self.last_error_type = ""
        self.last_error = ""
        self.next_reminder_at: float | None = None
        self.reminders_sent = 0
        self.window: deque[tuple[float, bool]] = deque()
        self.window_failed = 0
        self.window_partial = False
        self.rate_opened = False
        self.pending: list[Notice] = []

    # -- bookkeeping (prepare_event: once per event, before guards) -------------------

    def record(self, event: EventData) -> None:
        now: float = event.kwargs["now"]
        name = event.event.name
        if name == "failure":
            outcome: Outcome = event.kwargs["outcome"]
            if self.first_failure_at is None:
                self.first_failure_at = now
            self.failures += 1
            self.successes = 0
            self.last_seen_at = now
            self.last_error_type = outcome.error_type
            self.last_error = outcome.detail
            if self.policy.is_error_rate_on:
                self._count(now, failed=True)
        elif name == "success":
            self.successes += 1
            self.last_success_at = now
            self.last_seen_at = now
            if self.policy.is_error_rate_on:
                self._count(now, failed=False)

    def _count(self, now: float, *, failed: bool) -> None:
        self.window.append((now, failed))
        self.window_failed += failed
        self._forget_before(now)
        if self.window_partial and len(self.window) >= self.policy.error_rate_min_outcomes:
            self.window_partial = False

    def _forget_before(self, now: float) -> None:
        """Drop the outcomes that left the window `(now − W, now]`."""
        edge = now - self.policy.error_rate_window_seconds
        window = self.window
        while window and window[0][0] <= edge:
            self.window_failed -= window.popleft()[1]

    def _rate_holds(self, now: float) -> bool:
        """The window holds enough outcomes and the failing share reaches the threshold."""
        if not self.policy.is_error_rate_on:
            return False
        self._forget_before(now)
        total = len(self.window)
        return (total >= self.policy.error_rate_min_outcomes
                and self.window_failed / total >= self.policy.error_rate_threshold)

    # -- guards ----------------------------------------------------------------------

    def threshold_met(self, event: EventData) -> bool:
        """failures ≥ failures_before_alert and now − first failure ≥ failing_for_seconds"""
        now: float = event.kwargs["now"]
        return (
            self.first_failure_at is not None
            and self.failures >= self.policy.failures_before_alert
            # The same sum as `machine_due`, so a timer firing at its due instant always
            # finds its guard true (`now - first >= for` can differ by rounding).
            and now >= self.first_failure_at + self.policy.failing_for_seconds
        )

    def error_rate_met(self, event: EventData) -> bool:
        """error_rate_threshold > 0, the window (now − W, now] holds ≥ error_rate_min_outcomes
        outcomes and a share ≥ error_rate_threshold of them failed (this failure counted)"""
        return self._rate_holds(event.kwargs["now"])

    def recovery_met(self, event: EventData) -> bool:
        """consecutive successes ≥ successes_before_recovery"""
        return self.successes >= self.policy.successes_before_recovery

    def error_rate_cleared(self, event: EventData) -> bool:
        """the incident was not alerted while the error rate held, or the failing share in
        the window (this success counted) is below error_rate_threshold"""
        if not self.rate_opened or not self.policy.is_error_rate_on:
            return True
        self._forget_before(event.kwargs["now"])
        total = len(self.window)
        if self.window_partial and total < self.policy.error_rate_min_outcomes:
            return False
        return self.window_failed / total < self.policy.error_rate_threshold

    def reminder_due(self, event: EventData) -> bool:
        """now ≥ next_reminder_at (after remind_after_seconds, then × backoff, capped)"""
        now: float = event.kwargs["now"]
        return self.next_reminder_at is not None and now >= self.next_reminder_at

    def settled(self, event: EventData) -> bool:
        """now − recovered since ≥ settle_seconds"""
        now: float = event.kwargs["now"]
        return now >= self.since + self.policy.settle_seconds

    # -- entry callbacks -------------------------------------------------------------

    def mark_since(self, event: EventData) -> None:
        transition = event.transition
        if transition is not None and transition.source != transition.dest:
            self.since = event.kwargs["now"]

    def close_incident(self, event: EventData) -> None:
        self.rate_opened = False
        self.failures = 0
        self.first_failure_at = None
        self.next_reminder_at = None
        self.reminders_sent = 0

    def emit_alert(self, event: EventData) -> None:
        now: float = event.kwargs["now"]
        self.reminders_sent = 0
        remind_after = self.policy.remind_after_seconds
        self.next_reminder_at = now + remind_after if remind_after > 0 else None
        self.rate_opened = self._rate_holds(now)
        self._emit(NoticeKind.ALERT, now)

    def emit_reminder(self, event: EventData) -> None:
        now: float = event.kwargs["now"]
        due = self.next_reminder_at if self.next_reminder_at is not None else now
        self.reminders_sent += 1
        following = due + self.policy.reminder_interval_seconds(self.reminders_sent)
        # A tick that comes later than a whole interval (the hub was not running) sends
        # one reminder, not a burst of every one that was missed.
        self.next_reminder_at = following if following > now else now + (following - due)
        self._emit(NoticeKind.REMINDER, now, reminder=self.reminders_sent)

    def emit_recovery(self, event: EventData) -> None:
        now: float = event.kwargs["now"]
        first = self.first_failure_at if self.first_failure_at is not None else now
        self.next_reminder_at = None
        self._emit(NoticeKind.RECOVERY, now, downtime_seconds=now - first)
        self.failures = 0
        self.first_failure_at = None
        self.reminders_sent = 0
        self.rate_opened = False

    def _emit(self, kind: NoticeKind, now: float, **extra: Any) -> None:
        first = self.first_failure_at
        if self.rate_opened:  # the figures behind "7 of 12 checks failed in 15 min"
            self._forget_before(now)
            extra.update(window_failed=self.window_failed, window_outcomes=len(self.window),
                         window_seconds=self.policy.error_rate_window_seconds)
        self.pending.append(Notice(
            kind=kind,
            component=self.component,
            at=now,
            state=self.state,
            failures=self.failures,
            failing_for_seconds=now - first if first is not None else 0.0,
            error_type=self.last_error_type,
            error_detail=self.last_error,
            first_failure_at=first,
            last_success_at=self.last_success_at,
            next_reminder_at=self.next_reminder_at,
            **extra,
        ))

    # -- deadlines -------------------------------------------------------------------

    def machine_due(self) -> float | None:
        """When time alone would next move this machine (escalate, remind, settle)."""
        state, policy = self.state, self.policy
        if state is S:
            if self.first_failure_at is not None and self.failures >= policy.failures_before_alert:
                return self.first_failure_at + policy.failing_for_seconds
            return None
        if state in (A, R):
            return self.next_reminder_at
        if state is V:
            return self.since + policy.settle_seconds
        return None

    def stale_due(self) -> float | None:
        """When silence would count as a failure (`stale_after_seconds`)."""
        if self.policy.stale_after_seconds <= 0:
            return None
        return self.last_seen_at + self.policy.stale_after_seconds

    def snapshot(self) -> Snapshot:
        return Snapshot(
            component=self.component, state=self.state, since=self.since,
            failures=self.failures, successes=self.successes,
            first_failure_at=self.first_failure_at, last_success_at=self.last_success_at,
            last_seen_at=self.last_seen_at, last_error_type=self.last_error_type,
            last_error=self.last_error, next_reminder_at=self.next_reminder_at,
            reminders_sent=self.reminders_sent, rate_opened=self.rate_opened,
        )

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot, policy: Policy) -> Incident:
        incident = cls(snapshot.component, policy, snapshot.since)
        incident.failures = snapshot.failures
        incident.successes = snapshot.successes
        incident.first_failure_at = snapshot.first_failure_at
        incident.last_success_at = snapshot.last_success_at
        incident.last_seen_at = snapshot.last_seen_at
        incident.last_error_type = snapshot.last_error_type
        incident.last_error = snapshot.last_error
        incident.next_reminder_at = snapshot.next_reminder_at
        incident.reminders_sent = snapshot.reminders_sent
        incident.rate_opened = snapshot.rate_opened
        incident.window_partial = True
        return incident


@dataclass(frozen=True, slots=True)
class Transition:
    """A machine moved (or emitted a notice without moving) at `at`, as `HealthMachines`
    reports it to its `on_transition` (the journal's history rows)."""

    component: str
    from_state: HealthState
    to_state: HealthState
    at: float
    notices: tuple[Notice, ...] = ()


class UnknownComponentError(KeyError):
    """An outcome or tick named a component that was never added."""


class HealthMachines:
    """The health machines of every component, sharing one `transitions.Machine`.

    Every method that can move a machine returns the notices it emitted, in order, and
    tells `on_transition` of every move (or notice) as it happens, with the state before.
    Not thread-safe by design: call it only from the scheduler that owns time.
    """

    def __init__(self, on_transition: Callable[[Transition], None] | None = None) -> None:
        self._machine = new_machine()
        self._incidents: dict[str, Incident] = {}
        self._on_transition = on_transition

    def __contains__(self, component: object) -> bool:
        return component in self._incidents

    def __iter__(self) -> Iterator[str]:
        return iter(self._incidents)

    def __len__(self) -> int:
        return len(self._incidents)

    def add(self, component: str, policy: Policy, now: float) -> None:
        """Start watching `component`: healthy since `now`."""
        self._attach(Incident(component, policy, now), H)

    def restore(self, snapshot: Snapshot, policy: Policy) -> None:
        """Resume a machine from a snapshot, e.g. after a restart."""
        self._attach(Incident.from_snapshot(snapshot, policy), snapshot.state)

    def remove(self, component: str) -> None:
        self._machine.remove_model(self._get(component))
        del self._incidents[component]

    def _attach(self, incident: Incident, state: HealthState) -> None:
        if incident.component in self._incidents:
            raise ValueError(f"component {incident.component!r} is already watched")
        self._machine.add_model(incident, initial=state)
        self._incidents[incident.component] = incident

    def _get(self, component: str) -> Incident:
        try:
            return self._incidents[component]
        except KeyError:
            raise UnknownComponentError(component) from None

    def state(self, component: str) -> HealthState:
        return self._get(component).state

    def policy(self, component: str) -> Policy:
        return self._get(component).policy

    def snapshot(self, component: str) -> Snapshot:
        return self._get(component).snapshot()

    def snapshots(self) -> list[Snapshot]:
        return [incident.snapshot() for incident in self._incidents.values()]

    def next_due(self, component: str) -> float | None:
        """The earliest instant at which `tick` would do something for `component`."""
        incident = self._get(component)
        dues = [d for d in (incident.machine_due(), incident.stale_due()) if d is not None]
        return min(dues) if dues else None

    def observe(self, outcome: Outcome, now: float) -> list[Notice]:
        """Apply an outcome at `now`, after any timer due at or before `now` (timer first)."""
        notices = self.tick(outcome.component, now)
        incident = self._get(outcome.component)
        return notices + self._fire(incident, "success" if outcome.ok else "failure", now,
                                    outcome=outcome)

    def tick(self, component: str, now: float) -> list[Notice]:
        """Fire every timer of `component` due at or before `now`, earliest first.

        When the machine's own timer and staleness are due at the same instant, the
        machine's timer fires first.
        """
        incident = self._get(component)
        notices: list[Notice] = []
        while True:
            machine_due, stale_due = incident.machine_due(), incident.stale_due()
            if machine_due is not None and machine_due <= now and (
                    stale_due is None or machine_due <= stale_due):
                notices.extend(self._fire(incident, "tick", now))
                if incident.machine_due() == machine_due:  # an invariant of the table
                    raise RuntimeError(f"{component}: timer due at {machine_due} did not fire")
            elif stale_due is not None and stale_due <= now:
                silent_for = now - incident.last_seen_at
                notices.extend(self._fire(incident, "failure", now, outcome=Outcome.failure(
                    component, now, "stale", f"no outcome for {silent_for:g} s")))
            else:
                break
        return notices

    def _fire(self, incident: Incident, event: str, now: float, **data: Any) -> list[Notice]:
        """Trigger `event`; the notices it emitted, its move told to `on_transition`."""
        before = incident.state
        incident.trigger(event, now=now, **data)
        notices = _drain(incident)
        if self._on_transition is not None and (incident.state is not before or notices):
            self._on_transition(Transition(incident.component, before, incident.state, now,
                                           tuple(notices)))
        return notices


def _drain(incident: Incident) -> list[Notice]:
    notices, incident.pending = incident.pending, []
    return notices

