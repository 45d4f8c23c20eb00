"""What the status shows of the fleet: forwarding to Alertmanager, the silences read back
from it, and the alerts its webhook delivered. Frozen values, part of `HubStatus`."""

from __future__ import annotations

from dataclasses import dataclass

from hub.fleet.matchers import Matcher


@dataclass(frozen=True, slots=True)
class Silence:
    """An active silence in Alertmanager that covers this hub's alerts."""

    id: str
    matchers: tuple[Matcher, ...]
    created_by: str
    comment: str
    ends_at: float

    def describe(self) -> str:
        return ", ".join(str(m) for m in self.matchers)


@dataclass(frozen=True, slots=True)
class Forwarding:
    """How forwarding to Alertmanager goes: where to (no credentials), how many incidents
    are open there, how many posts wait, and the last error ("" while it works)."""

    url: str
    open_alerts: int = 0
    waiting: int = 0
    last_error: str = ""
    last_posted_at: float | None = None


@dataclass(frozen=True, slots=True)
class FleetAlert:
    """A firing alert Alertmanager's webhook delivered (`POST /api/alertmanager`)."""

    fingerprint: str
    labels: tuple[tuple[str, str], ...]
    summary: str
    starts_at: float | None

    @property
    def name(self) -> str:
        return dict(self.labels).get("alertname", "alert")

    @property
    def where(self) -> str:
        """The hub, instance or job it is about, as far as its labels say."""
        labels = dict(self.labels)
        return next((labels[k] for k in ("hub", "instance", "job") if labels.get(k)), "")

    def line(self) -> str:
        """One line for the page and the display: `HostDown nas: summary`."""
        head = f"{self.name} {self.where}".strip()
        return f"{head}: {self.summary}" if self.summary else head


@dataclass(frozen=True, slots=True)
class FleetStatus:
    forwarding: Forwarding | None = None
    silences: tuple[Silence, ...] = ()
    alerts: tuple[FleetAlert, ...] = ()
