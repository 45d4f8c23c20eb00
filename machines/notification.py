"""The notification policy: which of the health machines' notices reach a person.

The health machines tell the truth about each component; this second pure layer after
them decides, for each alert, reminder and recovery, *send* or *hold* (with the reason),
and stamps the incident id `<component>#<n>` on it. It follows DESIGN.md ("Incidents,
silences and smarter alerting"):

* Each alert opens the next incident of its component; n counts every alert, sent or
  held, and never repeats (the count is part of the snapshot, so restarts keep it).
* An alert is held while a mute or a maintenance window covers its component; its
  reminders and its recovery are held with it. When the silence ends while the incident
  is still open, the alert is sent at that instant, saying what silenced it since when.
* An ack holds the incident's later reminders only; its recovery names who acked. An ack
  with no open incident is refused (`Refused`, with the reply to give).
* A sent alert's recovery is always sent; a held alert's recovery never is.
* The kill switch (`notifications=False`) is the last filter: the policy decides as if
  notifications were on and marks each notice it would send held `notifications_off`.
* At one instant, silence expiries come first: every entry point first ticks to `now`.

Like the health machine, the table below is data: it drives the machines that run and
the diagram (machines/diagram.py). One `transitions.Machine` serves every component; it
is not locked, since all calls come from the one scheduler that owns time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from transitions import EventData, Machine

from machines.notice import HeldReason, Notice, NoticeKind
from machines.silences import ALL, MAX_MUTE_SECONDS, Mute, Silences, Window


class NotificationState(Enum):
    QUIET = "quiet"  # no open incident
    OPEN_SENT = "open_sent"  # an incident is open and its alert was sent
    OPEN_HELD = "open_held"  # an incident is open and its alert is held by a silence


Q, S, H = NotificationState.QUIET, NotificationState.OPEN_SENT, NotificationState.OPEN_HELD

#: What the health machines tell the policy; other kinds pass through (kill switch only).
INCIDENT_KINDS = (NoticeKind.ALERT, NoticeKind.REMINDER, NoticeKind.RECOVERY)

STATES: list[dict[str, Any]] = [{"name": Q}, {"name": S}, {"name": H}]

#: The transition table. For one trigger and source, rows are tried in order and the
#: first whose guards hold is taken; `after` is the decision (`send` or `hold`). Every
#: trigger is defined in every state so that no notice is ever dropped. A reminder or
#: recovery while quiet belongs to an incident opened before the policy saw it (a hub
#: upgraded mid-incident): it is adopted as sent, the safe side for a monitor.
TRANSITIONS: list[dict[str, Any]] = [
    # alert: opens the next incident (numbered by `record`, before the guards)
    {"trigger": "alert", "source": [Q, S, H], "dest": H, "conditions": "is_silenced",
     "after": "hold"},
    {"trigger": "alert", "source": [Q, S, H], "dest": S, "after": "send"},
    # reminder
    {"trigger": "reminder", "source": H, "dest": None, "after": "hold"},
    {"trigger": "reminder", "source": [S, Q], "dest": S, "conditions": "is_reminder_silenced",
     "after": "hold"},
    {"trigger": "reminder", "source": [S, Q], "dest": S, "after": "send"},
    # recovery: closes the incident, sent exactly when its alert was
    {"trigger": "recovery", "source": H, "dest": Q, "after": ["hold", "close"]},
    {"trigger": "recovery", "source": [S, Q], "dest": Q, "after": ["send", "close"]},
    # tick: a silence ended while the alert was held
    {"trigger": "tick", "source": H, "dest": S, "unless": "is_silenced",
     "after": "send_held_alert"},
    {"trigger": "tick", "source": [Q, S, H], "dest": None},
    # ack: only while an incident is open
    {"trigger": "ack", "source": [S, H], "dest": None, "after": "acknowledge"},
    {"trigger": "ack", "source": Q, "dest": None, "after": "refuse_ack"},
]


def new_machine() -> Machine:
    return Machine(model=[], states=STATES, transitions=TRANSITIONS, initial=Q,
                   send_event=True, auto_transitions=False, prepare_event="record")


class Refused(ValueError):
    """An operator's action the policy does not take; the message is the reply to give."""


@dataclass(frozen=True, slots=True)
class GateSnapshot:
    """One component's notification state as plain data (see `NotificationSnapshot`)."""

    component: str
    state: NotificationState = Q
    #: incidents opened so far: the n of the latest `<component>#<n>`
    opened: int = 0
    incident: str | None = None
    #: the open incident's latest alert or reminder, as its machine emitted it
    latest: Notice | None = None
    held_since: float | None = None
    held_reason: HeldReason | None = None
    acked_by: str | None = None
    ack_reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "state": self.state.value,
            "opened": self.opened,
            "incident": self.incident,
            "latest": self.latest.to_dict() if self.latest is not None else None,
            "held_since": self.held_since,
            "held_reason": self.held_reason.value if self.held_reason is not None else None,
            "acked_by": self.acked_by,
            "ack_reason": self.ack_reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateSnapshot:
        values = dict(data)
        values["state"] = NotificationState(values.get("state", Q.value))
        latest = values.get("latest")
        values["latest"] = Notice.from_dict(latest) if latest is not None else None
        reason = values.get("held_reason")
        values["held_reason"] = HeldReason(reason) if reason is not None else None
        return cls(**values)


@dataclass(frozen=True, slots=True)
class NotificationSnapshot:
    """Everything that defines the policy's future except its config (windows, kill
    switch): `NotificationPolicy.restore(s.from_dict(s.to_dict()), …)` decides exactly as
    the original would have."""

    gates: tuple[GateSnapshot, ...] = ()
    mutes: tuple[Mute, ...] = ()
    #: the latest instant the policy was told of
    at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"gates": [g.to_dict() for g in self.gates],
                "mutes": [m.to_dict() for m in self.mutes], "at": self.at}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NotificationSnapshot:
        return cls(gates=tuple(GateSnapshot.from_dict(g) for g in data.get("gates", ())),
                   mutes=tuple(Mute.from_dict(m) for m in data.get("mutes", ())),
                   at=data.get("at"))


class Gate:
    """The `transitions` model of one component's notifications: its incident count,
    the open incident, what holds it, and who acked it.

    Guards and callbacks receive the trigger's `EventData`; `event.kwargs` holds `now`,
    and `notice` (alert, reminder, recovery) or `by` and `reason` (ack).
    """

    state: NotificationState  # set by transitions
    trigger: Callable[..., bool]  # added by transitions

    def __init__(self, component: str, silences: Silences) -> None:
        self.component = component
        self.silences = silences
        self.opened = 0
        self.incident: str | None = None
        self.latest: Notice | None = None
        self.held_since: float | None = None
        self.held_reason: HeldReason | None = None
        self.acked_by: str | None = None
        self.ack_reason = ""
        self.pending: list[Notice] = []

    # -- bookkeeping (prepare_event: once per event, before guards) -------------------

    def record(self, event: EventData) -> None:
        name = event.event.name
        if name == "alert" or (name in ("reminder", "recovery") and self.incident is None):
            self.opened += 1
            self.incident = f"{self.component}#{self.opened}"
            self.held_since = self.held_reason = self.acked_by = None
            self.ack_reason = ""
        if name in ("alert", "reminder"):
            self.latest = event.kwargs["notice"]

    # -- guards ----------------------------------------------------------------------

    def is_silenced(self, event: EventData) -> bool:
        """a mute or a maintenance window covers the component now"""
        return self.silences.reason(self.component, event.kwargs["now"]) is not None

    def is_reminder_silenced(self, event: EventData) -> bool:
        """the incident is acked, or a mute or a maintenance window covers the component"""
        return self.acked_by is not None or self.is_silenced(event)

    # -- decisions -------------------------------------------------------------------

    def send(self, event: EventData) -> None:
        """the notice goes out"""
        self.pending.append(self._stamped(event.kwargs["notice"]))

    def hold(self, event: EventData) -> None:
        """the notice is recorded with the first reason of ack, mute, maintenance"""
        notice: Notice = event.kwargs["notice"]
        reason = self._reason(notice.kind, event.kwargs["now"])
        if notice.kind is NoticeKind.ALERT:
            self.held_since, self.held_reason = notice.at, reason
        self.pending.append(replace(self._stamped(notice), held=reason))

    def send_held_alert(self, event: EventData) -> None:
        """the held alert goes out now, saying what silenced it since when"""
        now: float = event.kwargs["now"]
        latest = self.latest
        if latest is None:  # an invariant of the table: only an alert enters open_held
            raise RuntimeError(f"{self.component}: an alert held without its notice")
        first = latest.first_failure_at
        failing_for = (now - first if first is not None
                       else latest.failing_for_seconds + (now - latest.at))
        late = replace(latest, kind=NoticeKind.ALERT, at=now, reminder=None,
                       failing_for_seconds=failing_for, silenced=self.held_reason,
                       silenced_since=self.held_since)
        self.held_since = self.held_reason = None
        self.pending.append(self._stamped(late))

    def close(self, event: EventData) -> None:
        """the incident is over; the next alert opens the next one"""
        self.incident = self.latest = self.held_since = self.held_reason = None
        self.acked_by, self.ack_reason = None, ""

    def acknowledge(self, event: EventData) -> None:
        """later reminders of the incident are held; its recovery names who acked"""
        self.acked_by, self.ack_reason = event.kwargs["by"], event.kwargs["reason"]

    def refuse_ack(self, event: EventData) -> None:
        """refused: nothing to acknowledge"""
        raise Refused(f"{self.component} has no open incident to acknowledge")

    def _stamped(self, notice: Notice) -> Notice:
        if self.acked_by is None:
            return replace(notice, incident=self.incident)
        return replace(notice, incident=self.incident, acked_by=self.acked_by,
                       ack_reason=self.ack_reason)

    def _reason(self, kind: NoticeKind, now: float) -> HeldReason:
        """Why a notice is held: ack (reminders only), then mute, then maintenance; a
        notice of a held alert with none of them in force is held with its alert."""
        if kind is NoticeKind.REMINDER and self.acked_by is not None:
            return HeldReason.ACK
        reason = self.silences.reason(self.component, now) or self.held_reason
        if reason is None:
            raise RuntimeError(f"{self.component}: a {kind} held for no reason")
        return reason

    # -- plain data ------------------------------------------------------------------

    def snapshot(self) -> GateSnapshot:
        return GateSnapshot(
            component=self.component, state=self.state, opened=self.opened,
            incident=self.incident, latest=self.latest, held_since=self.held_since,
            held_reason=self.held_reason, acked_by=self.acked_by, ack_reason=self.ack_reason)

    @classmethod
    def from_snapshot(cls, snapshot: GateSnapshot, silences: Silences) -> Gate:
        gate = cls(snapshot.component, silences)
        gate.opened = snapshot.opened
        gate.incident = snapshot.incident
        gate.latest = snapshot.latest
        gate.held_since = snapshot.held_since
        gate.held_reason = snapshot.held_reason
        gate.acked_by = snapshot.acked_by
        gate.ack_reason = snapshot.ack_reason
        return gate


class NotificationPolicy:
    """The notification gates of every component, their silences and the kill switch.

    Every entry point takes `now` (never earlier than the previous call's), first sends
    any held alert whose silence ended by then, and returns every notice it decided, in
    order: sent ones with `held` None, held ones with their reason. Not thread-safe by
    design: call it only from the scheduler that owns time.
    """

    def __init__(self, *, notifications: bool = True, windows: Iterable[Window] = (),
                 components: Iterable[str] = ()) -> None:
        self.notifications = notifications
        self.silences = Silences(windows)
        self._machine = new_machine()
        self._gates: dict[str, Gate] = {}
        self._now = -math.inf
        for component in components:
            self.add(component)

    @classmethod
    def restore(cls, snapshot: NotificationSnapshot, *, notifications: bool = True,
                windows: Iterable[Window] = (),
                components: Iterable[str] = ()) -> NotificationPolicy:
        """The policy a snapshot describes, with today's config (kill switch, windows)."""
        policy = cls(notifications=notifications, windows=windows)
        policy.silences = Silences(windows, snapshot.mutes)
        if snapshot.at is not None:
            policy._now = snapshot.at
        for gate in snapshot.gates:
            policy._attach(Gate.from_snapshot(gate, policy.silences), gate.state)
        for component in components:
            policy.add(component)
        return policy

    def __contains__(self, component: object) -> bool:
        return component in self._gates

    def __iter__(self) -> Iterator[str]:
        return iter(self._gates)

    def add(self, component: str) -> None:
        """Know `component` (no-op if known): actions may name it from now on."""
        if component not in self._gates:
            self._attach(Gate(component, self.silences), Q)

    def _attach(self, gate: Gate, state: NotificationState) -> None:
        self._machine.add_model(gate, initial=state)
        self._gates[gate.component] = gate

    def state(self, component: str) -> NotificationState:
        return self._gates[component].state

    def incident(self, component: str) -> str | None:
        """The open incident of `component`, if any."""
        return self._gates[component].incident

    def snapshot(self) -> NotificationSnapshot:
        at = self._now if self._now != -math.inf else None
        return NotificationSnapshot(gates=tuple(g.snapshot() for g in self._gates.values()),
                                    mutes=self.silences.mutes(), at=at)

    def set_windows(self, windows: Iterable[Window]) -> None:
        """Replace the maintenance occurrences (the owner extends them as days pass)."""
        self.silences.set_windows(windows)

    # -- time ------------------------------------------------------------------------

    def next_due(self) -> float | None:
        """When `tick` would next do something: the end of a silence holding an alert."""
        ends = [end for gate in self._gates.values() if gate.state is H
                if (end := self.silences.next_end(gate.component, self._now)) is not None]
        return min(ends) if ends else None

    def tick(self, now: float) -> list[Notice]:
        """Send, at `now`, each held alert whose silences have all ended."""
        self._now = max(self._now, now)
        self.silences.prune(now)
        notices: list[Notice] = []
        for gate in self._gates.values():
            if gate.state is H:
                notices.extend(self._fire(gate, "tick", now))
        return notices

    # -- the health machines' notices ------------------------------------------------

    def observe(self, notice: Notice, now: float) -> list[Notice]:
        """Decide on `notice`; lifecycle kinds only meet the kill switch."""
        notices = self.tick(now)
        if notice.kind not in INCIDENT_KINDS:
            return [*notices, self._switched(notice)]
        self.add(notice.component)
        return notices + self._fire(self._gates[notice.component], notice.kind.value, now,
                                    notice=notice)

    # -- operators -------------------------------------------------------------------

    def ack(self, target: str, now: float, by: str, reason: str = "") -> list[Notice]:
        """Acknowledge the open incident of `target` (a component, `<component>#<n>` or
        `*` for every open one). Raises `Refused` when there is none."""
        notices = self.tick(now)
        if target == ALL:
            gates = [g for g in self._gates.values() if g.incident is not None]
            if not gates:
                raise Refused("no component has an open incident to acknowledge")
        else:
            gates = [self._gate_for_ack(target)]
        for gate in gates:
            notices += self._fire(gate, "ack", now, by=by, reason=reason)
        return notices

    def mute(self, target: str, now: float, for_seconds: float, by: str = "",
             reason: str = "") -> list[Notice]:
        """Mute `target` (a component or `*`) over `[now, now + for_seconds)`, replacing
        the end of any mute before. Raises `Refused` for an unknown component or a
        duration outside (0, 7 days]."""
        notices = self.tick(now)
        self._check_target(target)
        if isinstance(for_seconds, bool) or not 0 < for_seconds <= MAX_MUTE_SECONDS:
            raise Refused(f"a mute lasts more than 0 s and at most 7 days "
                          f"({MAX_MUTE_SECONDS} s), not {for_seconds!r} s")
        self.silences.mute(Mute(target, now, now + for_seconds, by, reason))
        return notices

    def unmute(self, target: str, now: float) -> list[Notice]:
        """Lift the mute on `target` (`*`: every mute); held alerts go out at `now`.
        Raises `Refused` when it was not muted."""
        notices = self.tick(now)
        self._check_target(target)
        if not self.silences.unmute(target, now):
            raise Refused("nothing is muted" if target == ALL else f"{target} is not muted")
        return notices + self.tick(now)

    def _check_target(self, target: str) -> None:
        if target != ALL and target not in self._gates:
            raise self._unknown(target)

    def _unknown(self, target: str) -> Refused:
        return Refused(f"no component is named {target!r} (known: "
                       f"{', '.join(self._gates) or 'none yet'}, or * for all)")

    def _gate_for_ack(self, target: str) -> Gate:
        if target in self._gates:
            return self._gates[target]
        component, sep, _ = target.rpartition("#")
        gate = self._gates.get(component) if sep else None
        if gate is None:
            raise self._unknown(target)
        if gate.incident != target:
            now_open = f" ({gate.incident} is)" if gate.incident is not None else ""
            raise Refused(f"{target} is not open{now_open}")
        return gate

    # -- plumbing --------------------------------------------------------------------

    def _fire(self, gate: Gate, event: str, now: float, **data: Any) -> list[Notice]:
        self._now = max(self._now, now)
        try:
            gate.trigger(event, now=now, **data)
        finally:
            notices, gate.pending = gate.pending, []
        return [self._switched(n) for n in notices]

    def _switched(self, notice: Notice) -> Notice:
        """The kill switch, the last filter: what would be sent is held instead."""
        if self.notifications or not notice.is_sent:
            return notice
        return replace(notice, held=HeldReason.NOTIFICATIONS_OFF)
