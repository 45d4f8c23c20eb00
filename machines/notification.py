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
* A recovery is sent exactly when its incident's alert was: on time, late (a silence or
  a parent's incident ended), or stood in for by a `settled` notice.
* Flapping (`flap_alerts`, `flap_window_seconds`): the alert that would be the
  `flap_alerts`-th sent within `(t - W, t]` is held and one **flapping** notice goes out
  instead; the component's alerts, reminders and recoveries are then held until the
  episode ends, W after the later of its start and its machine's last alert or recovery.
  One **settled** notice then says how the component is; while it is failing, that notice
  stands in for the alert (it counts as sent, and its recovery will be sent).
* Dependencies (`depends_on`): while an ancestor has an open incident whose alert was
  sent, a child's alert, reminders and recovery are folded into that incident; a child
  still failing when the ancestor recovers is alerted then. A sent alert is never folded.
  Parents are decided before children at one instant.
* The kill switch (`notifications=False`) is the last filter: the policy decides as if
  notifications were on and marks each notice it would send held `notifications_off`.
* At one instant, silence expiries and flap settles come first: every entry point first
  ticks to `now` (and ticks again after, so children follow what their parents did).

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

from machines.dependencies import ancestors, parents_first
from machines.notice import HeldReason, Notice, NoticeKind
from machines.policy import Policy
from machines.silences import ALL, MAX_MUTE_SECONDS, Mute, Silences, Window
from machines.states import HealthState


class NotificationState(Enum):
    QUIET = "quiet"  # no open incident
    OPEN_SENT = "open_sent"  # an incident is open and its alert was sent
    OPEN_HELD = "open_held"  # an incident is open and its alert is held (silence, flapping)
    OPEN_FOLDED = "open_folded"  # an incident is open and its alert folded into a parent's


Q, S, H, F = (NotificationState.QUIET, NotificationState.OPEN_SENT,
              NotificationState.OPEN_HELD, NotificationState.OPEN_FOLDED)

#: What the health machines tell the policy; other kinds pass through (kill switch only).
INCIDENT_KINDS = (NoticeKind.ALERT, NoticeKind.REMINDER, NoticeKind.RECOVERY)
INCIDENT_NAMES = frozenset(kind.value for kind in INCIDENT_KINDS)

STATES: list[dict[str, Any]] = [{"name": Q}, {"name": S}, {"name": H}, {"name": F}]
#: What keeps a held or folded alert from going out when its tick comes.
_KEPT = ["is_silenced", "is_flapping"]

#: The transition table. For one trigger and source, rows are tried in order and the
#: first whose guards hold is taken; `after` is the decision (`send` or `hold`). Every
#: trigger is defined in every state so that no notice is ever dropped. A reminder or
#: recovery while quiet belongs to an incident opened before the policy saw it (a hub
#: upgraded mid-incident): it is adopted as sent, the safe side for a monitor.
TRANSITIONS: list[dict[str, Any]] = [
    # alert: opens the next incident (numbered by `record`, before the guards); of the
    # reasons not to send it, folding wins, then a silence, then flapping
    {"trigger": "alert", "source": [Q, S, H, F], "dest": F, "conditions": "is_folding",
     "after": "fold"},
    {"trigger": "alert", "source": [Q, S, H, F], "dest": H, "conditions": "is_silenced",
     "after": "hold"},
    {"trigger": "alert", "source": [Q, S, H, F], "dest": H, "conditions": "is_flapping",
     "after": "hold"},
    {"trigger": "alert", "source": [Q, S, H, F], "dest": H, "conditions": "would_flap",
     "after": ["start_flapping", "hold"]},
    {"trigger": "alert", "source": [Q, S, H, F], "dest": S, "after": "send"},
    # reminder: goes where its alert went
    {"trigger": "reminder", "source": H, "dest": None, "after": "hold"},
    {"trigger": "reminder", "source": F, "dest": None, "after": "fold"},
    {"trigger": "reminder", "source": [S, Q], "dest": S, "conditions": "is_reminder_silenced",
     "after": "hold"},
    {"trigger": "reminder", "source": [S, Q], "dest": S, "after": "send"},
    # recovery: closes the incident, sent exactly when its alert was
    {"trigger": "recovery", "source": H, "dest": Q, "after": ["hold", "close"]},
    {"trigger": "recovery", "source": F, "dest": Q, "after": ["fold", "close"]},
    {"trigger": "recovery", "source": [S, Q], "dest": Q, "after": ["send", "close"]},
    # tick: first a flapping episode that ends, then what held or folded an alert ending
    {"trigger": "tick", "source": Q, "dest": None, "conditions": "is_settle_due",
     "after": "settle"},
    {"trigger": "tick", "source": [S, H, F], "dest": S, "conditions": "is_settle_due",
     "after": "settle"},
    {"trigger": "tick", "source": H, "dest": F, "conditions": "is_folding", "unless": _KEPT,
     "after": "fold_held"},
    {"trigger": "tick", "source": H, "dest": None, "conditions": "would_flap",
     "unless": _KEPT, "after": "start_flapping"},
    {"trigger": "tick", "source": H, "dest": S, "unless": _KEPT, "after": "send_held_alert"},
    {"trigger": "tick", "source": F, "dest": None, "conditions": "is_folding",
     "after": "refold"},
    {"trigger": "tick", "source": F, "dest": H, "conditions": "is_silenced",
     "after": "unfold"},
    {"trigger": "tick", "source": F, "dest": H, "conditions": "is_flapping",
     "after": "unfold"},
    {"trigger": "tick", "source": F, "dest": H, "conditions": "would_flap",
     "after": ["start_flapping", "unfold"]},
    {"trigger": "tick", "source": F, "dest": S, "after": "send_held_alert"},
    {"trigger": "tick", "source": [Q, S, H, F], "dest": None},
    # ack: only while an incident is open
    {"trigger": "ack", "source": [S, H, F], "dest": None, "after": "acknowledge"},
    {"trigger": "ack", "source": Q, "dest": None, "after": "refuse_ack"},
]


def new_machine() -> Machine:
    return Machine(model=[], states=STATES, transitions=TRANSITIONS, initial=Q,
                   send_event=True, auto_transitions=False, prepare_event="record")


def _default_policy(component: str) -> Policy:
    return _DEFAULT_POLICY


_DEFAULT_POLICY = Policy()


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
    #: the parent incident the open incident's alert is folded into
    folded_into: str | None = None
    #: the health state told by the component's latest alert, reminder or recovery
    health: HealthState | None = None
    #: when the alerts that count towards flapping were sent (the last window's)
    sent_alerts_at: tuple[float, ...] = ()
    #: the flapping episode: when it began and when it settles (None: not flapping)
    flapping_since: float | None = None
    flap_until: float | None = None
    #: children whose recoveries were folded into the open incident
    came_back: tuple[str, ...] = ()

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
            "folded_into": self.folded_into,
            "health": self.health.value if self.health is not None else None,
            "sent_alerts_at": list(self.sent_alerts_at),
            "flapping_since": self.flapping_since,
            "flap_until": self.flap_until,
            "came_back": list(self.came_back),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateSnapshot:
        values = dict(data)
        values["state"] = NotificationState(values.get("state", Q.value))
        latest = values.get("latest")
        values["latest"] = Notice.from_dict(latest) if latest is not None else None
        reason = values.get("held_reason")
        values["held_reason"] = HeldReason(reason) if reason is not None else None
        # Snapshots written before flapping and dependencies lack their keys: defaults hold.
        health = values.get("health")
        values["health"] = HealthState(health) if health is not None else None
        values["sent_alerts_at"] = tuple(float(t) for t in values.get("sent_alerts_at", ()))
        values["came_back"] = tuple(str(c) for c in values.get("came_back", ()))
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
    the open incident, what holds or folds it, who acked it, and its flapping.

    Guards and callbacks receive the trigger's `EventData`; `event.kwargs` holds `now`,
    and `notice` (alert, reminder, recovery) or `by` and `reason` (ack). What it needs of
    the other components (a parent's open incident) it asks its `owner`.
    """

    state: NotificationState  # set by transitions
    trigger: Callable[..., bool]  # added by transitions

    def __init__(self, component: str, owner: NotificationPolicy) -> None:
        self.component = component
        self.owner = owner
        self.silences = owner.silences
        self.opened = 0
        self.incident: str | None = None
        self.latest: Notice | None = None
        self.held_since: float | None = None
        self.held_reason: HeldReason | None = None
        self.acked_by: str | None = None
        self.ack_reason = ""
        self.folded_into: str | None = None
        self.health: HealthState | None = None
        self.sent_alerts_at: list[float] = []
        self.flapping_since: float | None = None
        self.flap_until: float | None = None
        self.came_back: list[str] = []
        self.pending: list[Notice] = []

    @property
    def rule(self) -> Policy:
        return self.owner.policy_for(self.component)

    # -- bookkeeping (prepare_event: once per event, before guards) -------------------

    def record(self, event: EventData) -> None:
        name = event.event.name
        if name == "alert" or (name in ("reminder", "recovery") and self.incident is None):
            self.opened += 1
            self.incident = f"{self.component}#{self.opened}"
            self.held_since = self.held_reason = self.acked_by = self.folded_into = None
            self.ack_reason = ""
            self.came_back = []
        if name in ("alert", "reminder"):
            self.latest = event.kwargs["notice"]
        if name in INCIDENT_NAMES:
            self.health = event.kwargs["notice"].state
        if name in ("alert", "recovery") and self.flap_until is not None:
            # the episode lasts a window past the machine's last alert or recovery
            self.flap_until = max(self.flap_until,
                                  event.kwargs["now"] + self.rule.flap_window_seconds)

    # -- guards ----------------------------------------------------------------------

    def is_silenced(self, event: EventData) -> bool:
        """a mute or a maintenance window covers the component now"""
        return self.silences.reason(self.component, event.kwargs["now"]) is not None

    def is_reminder_silenced(self, event: EventData) -> bool:
        """the incident is acked, a mute or a maintenance window covers the component, or
        it is flapping"""
        return self.acked_by is not None or self.is_silenced(event) \
            or self.flap_until is not None

    def is_folding(self, event: EventData) -> bool:
        """a component it depends on (transitively) has an open incident whose alert was
        sent"""
        return self.owner.fold_target(self.component) is not None

    def is_flapping(self, event: EventData) -> bool:
        """a flapping episode is in progress"""
        return self.flap_until is not None

    def would_flap(self, event: EventData) -> bool:
        """sending the alert would make `flap_alerts` sent within `flap_window_seconds`"""
        rule = self.rule
        if rule.flap_alerts == 0:
            return False
        return len(self._sent_within(event.kwargs["now"])) + 1 >= rule.flap_alerts

    def is_settle_due(self, event: EventData) -> bool:
        """`flap_window_seconds` passed since the episode began and since its machine's
        last alert or recovery"""
        return self.flap_until is not None and event.kwargs["now"] >= self.flap_until

    # -- decisions -------------------------------------------------------------------

    def send(self, event: EventData) -> None:
        """the notice goes out"""
        notice: Notice = event.kwargs["notice"]
        if notice.kind is NoticeKind.ALERT:
            self._count_sent(event.kwargs["now"])
        self.pending.append(self._stamped(notice))

    def hold(self, event: EventData) -> None:
        """the notice is recorded with the first reason of ack, mute, maintenance,
        flapping"""
        notice: Notice = event.kwargs["notice"]
        reason = self._reason(notice.kind, event.kwargs["now"])
        if notice.kind is NoticeKind.ALERT:
            self.held_since, self.held_reason = notice.at, reason
        self.pending.append(replace(self._stamped(notice), held=reason))

    def fold(self, event: EventData) -> None:
        """the notice is recorded as folded into the parent's incident, whose message
        lists the component"""
        notice: Notice = event.kwargs["notice"]
        if notice.kind is NoticeKind.ALERT:
            self.folded_into = self.owner.fold_target(self.component)
        if notice.kind is NoticeKind.RECOVERY and self.folded_into is not None:
            self.owner.came_back(self.folded_into, self.component)
        self.pending.append(replace(self._stamped(notice), folded_into=self.folded_into))

    def fold_held(self, event: EventData) -> None:
        """what held the alert ended while a parent's sent incident is open: it is
        folded into that incident instead of sent"""
        self.held_since = self.held_reason = None
        self.folded_into = self.owner.fold_target(self.component)

    def refold(self, event: EventData) -> None:
        """the alert stays folded, into the nearest parent incident still open"""
        self.folded_into = self.owner.fold_target(self.component)

    def unfold(self, event: EventData) -> None:
        """the parent recovered while a silence or flapping holds the alert: it is held
        from now on"""
        now: float = event.kwargs["now"]
        self.folded_into = None
        self.held_since, self.held_reason = now, self._reason(NoticeKind.ALERT, now)

    def start_flapping(self, event: EventData) -> None:
        """one flapping notice goes out instead of the alert; the component's alerts,
        reminders and recoveries are held until it settles"""
        now: float = event.kwargs["now"]
        self.flapping_since, self.flap_until = now, now + self.rule.flap_window_seconds
        self.held_reason = HeldReason.FLAPPING
        latest = event.kwargs.get("notice", self.latest)
        if latest is None:  # an invariant of the table: only an alert starts flapping
            raise RuntimeError(f"{self.component}: flapping without an alert")
        self.pending.append(replace(self._stamped(latest), kind=NoticeKind.FLAPPING, at=now,
                                    reminder=None, details=self._flap_details(now)))

    def settle(self, event: EventData) -> None:
        """one settled notice says how the component is now; while it is failing, it
        stands in for the alert (its recovery will be sent)"""
        now: float = event.kwargs["now"]
        since = self.flapping_since
        self.flapping_since = self.flap_until = None
        if self.incident is None or self.latest is None:
            self.pending.append(Notice(
                kind=NoticeKind.SETTLED, component=self.component, at=now, state=self.health,
                silenced=HeldReason.FLAPPING, silenced_since=since))
            return
        self._count_sent(now)
        self.held_since = self.held_reason = self.folded_into = None
        settled = replace(self._late(self.latest, now), kind=NoticeKind.SETTLED,
                          silenced=HeldReason.FLAPPING, silenced_since=since)
        self.pending.append(self._stamped(settled))

    def send_held_alert(self, event: EventData) -> None:
        """the held (or folded) alert goes out now, saying what silenced it since when"""
        now: float = event.kwargs["now"]
        latest = self.latest
        if latest is None:  # an invariant of the table: only an alert enters open_held
            raise RuntimeError(f"{self.component}: an alert held without its notice")
        late = replace(self._late(latest, now), kind=NoticeKind.ALERT,
                       silenced=self.held_reason, silenced_since=self.held_since)
        self.held_since = self.held_reason = self.folded_into = None
        self._count_sent(now)
        self.pending.append(self._stamped(late))

    def close(self, event: EventData) -> None:
        """the incident is over; the next alert opens the next one"""
        self.incident = self.latest = self.held_since = self.held_reason = None
        self.folded_into = None
        self.acked_by, self.ack_reason = None, ""
        self.came_back = []

    def acknowledge(self, event: EventData) -> None:
        """later reminders of the incident are held; its recovery names who acked"""
        self.acked_by, self.ack_reason = event.kwargs["by"], event.kwargs["reason"]

    def refuse_ack(self, event: EventData) -> None:
        """refused: nothing to acknowledge"""
        raise Refused(f"{self.component} has no open incident to acknowledge")

    def _late(self, latest: Notice, now: float) -> Notice:
        """The open incident's latest notice, told at `now`."""
        first = latest.first_failure_at
        failing_for = (now - first if first is not None
                       else latest.failing_for_seconds + (now - latest.at))
        return replace(latest, at=now, reminder=None, failing_for_seconds=failing_for)

    def _sent_within(self, now: float) -> list[float]:
        """The sent alerts that count at `now`: those within `(now - W, now]`."""
        start = now - self.rule.flap_window_seconds
        self.sent_alerts_at = [t for t in self.sent_alerts_at if t > start]
        return self.sent_alerts_at

    def _count_sent(self, now: float) -> None:
        if self.rule.flap_alerts:
            self._sent_within(now).append(now)

    def _flap_details(self, now: float) -> tuple[tuple[str, str], ...]:
        rule = self.rule
        return (("sent alerts", f"{len(self._sent_within(now))} within "
                                f"{rule.flap_window_seconds:g} s"),)

    def _stamped(self, notice: Notice) -> Notice:
        stamped = replace(notice, incident=self.incident,
                          folded=self.owner.folded_under(self, notice.kind))
        if self.acked_by is None:
            return stamped
        return replace(stamped, acked_by=self.acked_by, ack_reason=self.ack_reason)

    def _reason(self, kind: NoticeKind, now: float) -> HeldReason:
        """Why a notice is held: ack (reminders only), then mute, then maintenance, then
        flapping; a notice of a held alert with none of them in force is held with its
        alert."""
        if kind is NoticeKind.REMINDER and self.acked_by is not None:
            return HeldReason.ACK
        reason = self.silences.reason(self.component, now)
        if reason is None and self.flap_until is not None:
            reason = HeldReason.FLAPPING
        reason = reason or self.held_reason
        if reason is None:
            raise RuntimeError(f"{self.component}: a {kind} held for no reason")
        return reason

    # -- plain data ------------------------------------------------------------------

    def snapshot(self) -> GateSnapshot:
        return GateSnapshot(
            component=self.component, state=self.state, opened=self.opened,
            incident=self.incident, latest=self.latest, held_since=self.held_since,
            held_reason=self.held_reason, acked_by=self.acked_by, ack_reason=self.ack_reason,
            folded_into=self.folded_into, health=self.health,
            sent_alerts_at=tuple(self.sent_alerts_at), flapping_since=self.flapping_since,
            flap_until=self.flap_until, came_back=tuple(self.came_back))

    @classmethod
    def from_snapshot(cls, snapshot: GateSnapshot, owner: NotificationPolicy) -> Gate:
        gate = cls(snapshot.component, owner)
        gate.opened = snapshot.opened
        gate.incident = snapshot.incident
        gate.latest = snapshot.latest
        gate.held_since = snapshot.held_since
        gate.held_reason = snapshot.held_reason
        gate.acked_by = snapshot.acked_by
        gate.ack_reason = snapshot.ack_reason
        gate.folded_into = snapshot.folded_into
        gate.health = snapshot.health
        gate.sent_alerts_at = list(snapshot.sent_alerts_at)
        gate.flapping_since = snapshot.flapping_since
        gate.flap_until = snapshot.flap_until
        gate.came_back = list(snapshot.came_back)
        return gate


class NotificationPolicy:
    """The notification gates of every component, their silences and the kill switch.

    Every entry point takes `now` (never earlier than the previous call's), first sends
    any held alert whose silence ended by then, and returns every notice it decided, in
    order: sent ones with `held` None, held ones with their reason. Not thread-safe by
    design: call it only from the scheduler that owns time.
    """

    def __init__(self, *, notifications: bool = True, windows: Iterable[Window] = (),
                 components: Iterable[str] = (),
                 policy_for: Callable[[str], Policy] | None = None) -> None:
        self.notifications = notifications
        self.silences = Silences(windows)
        #: each component's rules: its flapping keys and `depends_on` (`[policy.<name>]`)
        self.policy_for: Callable[[str], Policy] = policy_for or _default_policy
        self._machine = new_machine()
        self._gates: dict[str, Gate] = {}
        self._ordered: list[Gate] | None = None  # parents first, computed when needed
        #: every component some known component depends on (valid with `_ordered`)
        self._parent_names: set[str] = set()
        self._rank: dict[str, int] = {}  # each component's place in `_ordered`
        #: the gates a tick may change (held, folded or flapping): most are quiet, and a
        #: tick must stay cheap for thousands of components
        self._active: set[str] = set()
        self._now = -math.inf
        for component in components:
            self.add(component)

    @classmethod
    def restore(cls, snapshot: NotificationSnapshot, *, notifications: bool = True,
                windows: Iterable[Window] = (), components: Iterable[str] = (),
                policy_for: Callable[[str], Policy] | None = None) -> NotificationPolicy:
        """The policy a snapshot describes, with today's config (kill switch, windows,
        each component's rules)."""
        policy = cls(notifications=notifications, windows=windows, policy_for=policy_for)
        policy.silences = Silences(windows, snapshot.mutes)
        if snapshot.at is not None:
            policy._now = snapshot.at
        for gate in snapshot.gates:
            policy._attach(Gate.from_snapshot(gate, policy), gate.state)
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
            self._attach(Gate(component, self), Q)

    def _attach(self, gate: Gate, state: NotificationState) -> None:
        self._machine.add_model(gate, initial=state)
        self._gates[gate.component] = gate
        self._track(gate)
        if self._ordered is not None and not self._parents(gate.component) \
                and gate.component not in self._parent_names:
            # nobody's parent and nobody's child: last is a right place, no re-sort (a hub
            # of thousands of components adds them one by one)
            self._rank[gate.component] = len(self._ordered)
            self._ordered.append(gate)
        else:
            self._ordered = None

    def _track(self, gate: Gate) -> None:
        if gate.state is H or gate.state is F or gate.flap_until is not None:
            self._active.add(gate.component)
        else:
            self._active.discard(gate.component)

    def _parents(self, component: str) -> tuple[str, ...]:
        return self.policy_for(component).depends_on

    def _gates_parents_first(self) -> list[Gate]:
        if self._ordered is None:
            names = parents_first(self._gates, self._parents)
            self._ordered = [self._gates[name] for name in names]
            self._parent_names = {p for name in names for p in self._parents(name)}
            self._rank = {name: index for index, name in enumerate(names)}
        return self._ordered

    # -- dependencies (asked by the gates) -------------------------------------------

    def fold_target(self, component: str) -> str | None:
        """The incident `component`'s notices fold into: that of its nearest ancestor
        whose open incident's alert was sent; None when there is none."""
        for ancestor in ancestors(component, self._parents):
            gate = self._gates.get(ancestor)
            if gate is not None and gate.state is S and gate.incident is not None:
                return gate.incident
        return None

    def came_back(self, incident: str, child: str) -> None:
        """`child`'s recovery was folded into `incident`: its recovery will say so."""
        gate = self._gates.get(incident.rpartition("#")[0])
        if gate is not None and gate.incident == incident and child not in gate.came_back:
            gate.came_back.append(child)

    def folded_under(self, gate: Gate, kind: NoticeKind) -> tuple[str, ...]:
        """The components folded into `gate`'s open incident, for a notice of `kind`: on
        its alert and reminders those failing with it, on its recovery those that came
        back with it."""
        if kind is NoticeKind.RECOVERY:
            return tuple(gate.came_back)
        if kind not in (NoticeKind.ALERT, NoticeKind.REMINDER) or gate.incident is None:
            return ()
        rank = self._rank
        return tuple(sorted((c for c in self._active if self._gates[c].state is F
                             and self._gates[c].folded_into == gate.incident),
                            key=lambda c: rank.get(c, len(rank))))

    def folded(self, component: str) -> tuple[str, ...]:
        """The components whose alerts are folded into `component`'s open incident now."""
        return self.folded_under(self._gates[component], NoticeKind.ALERT)

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
        """When `tick` would next do something: the end of a silence holding an alert, or
        the end of a flapping episode."""
        ends = [end for c in self._active if (gate := self._gates[c]).state is H
                if (end := self.silences.next_end(gate.component, self._now)) is not None]
        ends += [gate.flap_until for c in self._active
                 if (gate := self._gates[c]).flap_until is not None]
        return min(ends) if ends else None

    def tick(self, now: float) -> list[Notice]:
        """At `now`: settle each flapping episode that ended, then send each held alert
        whose silences have all ended (folding it instead while a parent's sent incident
        is open) and each folded alert whose parents all recovered; parents first."""
        self._now = max(self._now, now)
        self.silences.prune(now)
        notices: list[Notice] = []
        self._gates_parents_first()  # ranks up to date
        rank = self._rank
        for component in sorted(self._active, key=rank.__getitem__):
            gate = self._gates[component]
            if self._may_tick(gate, now):
                notices.extend(self._fire(gate, "tick", now))
        return notices

    @staticmethod
    def _may_tick(gate: Gate, now: float) -> bool:
        """Whether a tick can change `gate` at `now`: its episode settles, a silence may
        have ended on its held alert, or a parent changed under its folded one. (Most
        gates are quiet: this keeps a tick cheap for thousands of components.)"""
        if gate.flap_until is not None:
            return gate.flap_until <= now or gate.state is F
        return gate.state is H or gate.state is F

    # -- the health machines' notices ------------------------------------------------

    def observe(self, notice: Notice, now: float) -> list[Notice]:
        """Decide on `notice`; lifecycle kinds only meet the kill switch."""
        notices = self.tick(now)
        if notice.kind not in INCIDENT_KINDS:
            return [*notices, self._switched(notice)]
        self.add(notice.component)
        notices += self._fire(self._gates[notice.component], notice.kind.value, now,
                              notice=notice)
        if self._gates_parents_first() and not self._parent_names:
            return notices  # no dependencies: nobody else follows what the notice did
        # What the notice did may release (or fold) its children's alerts at this instant.
        return notices + self.tick(now)

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
            self._track(gate)
        return [self._switched(n) for n in notices]

    def _switched(self, notice: Notice) -> Notice:
        """The kill switch, the last filter: what would be sent is held instead."""
        if self.notifications or not notice.is_sent:
            return notice
        return replace(notice, held=HeldReason.NOTIFICATIONS_OFF)
