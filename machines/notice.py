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


@dataclass(frozen=True, slots=True)
class Notice:
    """A frozen fact emitted by a transition callback (or by the hub for lifecycle kinds).

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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; `from_dict` turns it back into an equal notice."""
        data = asdict(self)
        data["kind"] = self.kind.value
        data["state"] = self.state.value if self.state is not None else None
        data["details"] = [list(pair) for pair in self.details]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Notice:
        values = dict(data)
        values["kind"] = NoticeKind(values["kind"])
        state = values.get("state")
        values["state"] = HealthState(state) if state is not None else None
        values["details"] = tuple((str(k), str(v)) for k, v in values.get("details", ()))
        return cls(**values)
