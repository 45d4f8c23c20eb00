"""What one frame shows: the renderer's whole input, as frozen values.

The render loop builds a `DashboardView` per frame from the latest data it holds
(`dataclasses.replace` on a template built once from the config keeps that cheap), so
the renderer itself reads no clock and no state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from types import MappingProxyType
from typing import Literal

from hub.display.alerts import Alert
from hub.sources.data import BusBoard, Forecast
from machines.states import HealthState

Language = Literal["no", "en"]
#: The languages the date line and the few words on the display come in.
LANGUAGES: tuple[Language, ...] = ("no", "en")
#: What a bus row shows beside the line number.
BUS_LABELS = ("destination", "quay")


@dataclass(frozen=True, slots=True)
class DisplayMessage:
    """A message posted for the display: shown over the weather and bus area until it
    expires (never, if `expires_at` is None) or is cleared."""

    text: str
    author: str
    posted_at: float  # epoch seconds
    expires_at: float | None = None

    def is_shown_at(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True, slots=True)
class DashboardView:
    """Everything the renderer draws for one instant `now`.

    `zone` None means the system's local zone (as `HubSettings.zone()` returns).
    Bus rows are coloured by how soon they leave: red below `walk_seconds` (you would
    have to run), yellow below `soon_seconds`, white later.
    """

    now: float  # epoch seconds
    zone: tzinfo | None = None
    language: Language = "no"
    bus: BusBoard | None = None
    weather: Forecast | None = None
    health: Mapping[str, HealthState] = field(default_factory=lambda: MappingProxyType({}))
    message: DisplayMessage | None = None
    #: What the `alerts` page lists, worst first (`hub.display.alerts.worst_first`).
    alerts: tuple[Alert, ...] = ()
    #: Alertmanager's firing alerts (hub/fleet/), one line each, oldest first: their
    #: count in the bottom-right corner, the first on the dashboard's last row.
    fleet_alerts: tuple[str, ...] = ()
    # Beyond these ages (since the poll fetched them) the values are drawn dimmed with a
    # marker: an Entur poll runs every minute, a MET forecast is renewed about hourly.
    bus_stale_after_seconds: float = 180.0
    weather_stale_after_seconds: float = 7200.0
    walk_seconds: float = 240.0
    soon_seconds: float = 600.0
    bus_label: Literal["destination", "quay"] = "destination"
    # A message longer than the overlay holds is shown a page at a time, this long each;
    # after its last page the dashboard shows for `message_break_seconds` (0: never), so a
    # message that stays up for hours does not hide the buses all that time.
    message_page_seconds: float = 5.0
    message_break_seconds: float = 5.0

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(f"language: expected one of {', '.join(LANGUAGES)}, "
                             f"got {self.language!r}")
        if self.bus_label not in BUS_LABELS:
            raise ValueError(f"bus_label: expected one of {', '.join(BUS_LABELS)}, "
                             f"got {self.bus_label!r}")
        if not 0 <= self.walk_seconds <= self.soon_seconds:
            raise ValueError("expected 0 <= walk_seconds <= soon_seconds, got "
                             f"{self.walk_seconds} and {self.soon_seconds}")
        if self.message_page_seconds <= 0:
            raise ValueError(f"message_page_seconds: expected > 0, got "
                             f"{self.message_page_seconds}")
        if self.message_break_seconds < 0:
            raise ValueError(f"message_break_seconds: expected >= 0, got "
                             f"{self.message_break_seconds}")

    @property
    def is_bus_stale(self) -> bool:
        return self.bus is not None and (
            self.now - self.bus.fetched_at > self.bus_stale_after_seconds)

    @property
    def is_weather_stale(self) -> bool:
        return self.weather is not None and (
            self.now - self.weather.fetched_at > self.weather_stale_after_seconds)

    @property
    def is_alerting(self) -> bool:
        """True while any machine has an open incident (alerting or reminding)."""
        return any(state.is_incident_open for state in self.health.values())
