"""What a machine (or the hub's lifecycle) has to tell the owner; transports render it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from machines.states import HealthState


class NoticeKind(StrEnum):
    ALERT = "alert"
    REMINDER = "reminder"
    RECOVERY = "recovery"
    STARTED = "started"
    STOPPED = "stopped"
    #: The hub was not running for a while (an unclean stop or a long gap): `component`
    #: is the hub, `downtime_seconds` how long it was away, `details` the gap, what is
    #: still failing and what recovered meanwhile (hub/storage/journal.py).
    OFFLINE = "offline"
    #: A report from another app (`POST /api/notify`): `component` is the reporting
    #: service, `error_type` its level (info|warning|error|critical), `error_detail` its
    #: message, `details` its own (label, value) pairs.
    DIAGNOSTIC = "diagnostic"
    #: An operator changed a silence (ack, mute, unmute): `component` is what it is on (the
    #: hub for every component), `error_detail` the sentence to show (who, what, until),
    #: `details` its parts (hub/incidents/operations.py).
    SILENCE = "silence"
    #: The notification policy's flapping rule: sent instead of the alert that would have
    #: been the `flap_alerts`-th within `flap_window_seconds`; the component's alerts,
    #: reminders and recoveries are held until it settles.
    FLAPPING = "flapping"
    #: A flapping episode ended: `state` is how the component is then; while it is failing,
    #: `incident` names the open incident this notice stands in for the alert of.
    SETTLED = "settled"


class HeldReason(StrEnum):
    """Why the notification policy held a notice instead of sending it (machines/notification.py).

    When several apply, the first in this order is named (DESIGN.md, "Precise rules"); the
    kill switch is the last filter, so `notifications_off` only marks what would be sent.
    """

    ACK = "ack"
    MUTE = "mute"
    MAINTENANCE = "maintenance"
    #: The component is flapping (machines/notification.py): held until it settles.
    FLAPPING = "flapping"
    NOTIFICATIONS_OFF = "notifications_off"


@dataclass(frozen=True, slots=True)
class Notice:
    """A frozen fact emitted by a transition callback (or by the hub for lifecycle kinds).

    The notification policy stamps the incident id and its decision on it (`held`).
    Times are seconds on the owning scheduler's clock (epoch seconds in production).
    `details` holds ordered (label, value) pairs for lifecycle notices, e.g. the config
    summary of **started**; it never holds secrets.
    """

    kind: NoticeKind
    component: str
    at: float
    state: HealthState | None = None
    failures: int = 0
    failing_for_seconds: float = 0.0
    reminder: int | None = None
    downtime_seconds: float | None = None
    error_type: str = ""
    error_detail: str = ""
    first_failure_at: float | None = None
    last_success_at: float | None = None
    next_reminder_at: float | None = None
    details: tuple[tuple[str, str], ...] = ()
    #: `<component>#<n>` of the incident an alert, reminder or recovery belongs to, stamped
    #: by the notification policy; None before it (and for lifecycle notices).
    incident: str | None = None
    #: Why the notification policy held this notice (None: it is sent). Held notices are
    #: recorded, never sent.
    held: HeldReason | None = None
    #: The incident this notice was folded into: a component it depends on has an open
    #: incident whose alert was sent, whose message lists it instead.
    folded_into: str | None = None
    #: On a parent's alert and reminders: the components whose alerts are folded into its
    #: incident ("bus and weather are failing with it"); on its recovery: those whose
    #: recoveries were folded into it ("bus and weather came back with it").
    folded: tuple[str, ...] = ()
    #: On an alert sent late, when its silence ended: what had held it, and since when.
    silenced: HeldReason | None = None
    silenced_since: float | None = None
    #: On a recovery (and the notices after an ack): who acknowledged the incident, and why.
    acked_by: str | None = None
    ack_reason: str = ""
    #: On the notices of an incident the error rate opened: of `window_outcomes` outcomes
    #: in the last `window_seconds`, `window_failed` failed ("7 of 12 checks failed in 15
    #: min"), counted at this notice's instant.
    window_failed: int | None = None
    window_outcomes: int | None = None
    window_seconds: float | None = None

    @property
    def is_sent(self) -> bool:
        """True unless the notification policy held or folded it."""
        return self.held is None and self.folded_into is None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; `from_dict` turns it back into an equal notice."""
        data = asdict(self)
        data["kind"] = self.kind.value
        data["state"] = self.state.value if self.state is not None else None
        data["details"] = [list(pair) for pair in self.details]
        data["folded"] = list(self.folded)
        data["held"] = self.held.value if self.held is not None else None
        data["silenced"] = self.silenced.value if self.silenced is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Notice:
        values = dict(data)
        values["kind"] = NoticeKind(values["kind"])
        state = values.get("state")
        values["state"] = HealthState(state) if state is not None else None
        values["details"] = tuple((str(k), str(v)) for k, v in values.get("details", ()))
        values["folded"] = tuple(str(c) for c in values.get("folded", ()))
        # Rows written before the notification policy have no such keys: the defaults hold.
        for key in ("held", "silenced"):
            reason = values.get(key)
            values[key] = HeldReason(reason) if reason is not None else None
        return cls(**values)
