"""`[display]`: how the dashboard reads (language, walk time, when data counts as old).

Validated here, where it is used; `hub.config` calls `DisplaySettings.from_table` and
keeps the result in `Config.display` (None when the section is absent: the defaults).
The render loop builds each frame's `DashboardView` with `DisplaySettings.view(...)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hub.display.alerts import Alert
from hub.display.view import BUS_LABELS, LANGUAGES, DashboardView, DisplayMessage, Language
from hub.settings_table import Table
from hub.sources.data import BusBoard, Forecast
from machines.states import HealthState

DAY_SECONDS = 86_400.0


@dataclass(frozen=True, slots=True)
class DisplaySettings:
    """The values of `[display]`; the defaults are what an absent key means."""

    language: Language = "no"
    walk_seconds: float = 240.0  # red below this: you would have to run
    soon_seconds: float = 600.0  # yellow below this: time to put your shoes on
    bus_label: str = "destination"  # or "quay": the `[bus] labels` entry of the quay
    bus_stale_after_seconds: float = 180.0
    weather_stale_after_seconds: float = 7200.0
    message_page_seconds: float = 5.0
    message_break_seconds: float = 5.0

    @classmethod
    def from_table(cls, table: Mapping[str, Any], path: Path | str) -> DisplaySettings:
        """Validate `[display]`; every error names the file and the key."""
        reader = Table(path, "[display]", table)

        def seconds(key: str, default: float, low: float) -> float:
            value = table.get(key, default)
            # The range test also refuses NaN, and an integer too large for a float.
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not low <= value <= DAY_SECONDS:
                raise reader.expected(key, f"seconds from {low:g} to {DAY_SECONDS:g}", value)
            return float(value)

        defaults = cls()
        reader.only_keys({"language", "walk_seconds", "soon_seconds", "bus_label",
                          "bus_stale_after_seconds", "weather_stale_after_seconds",
                          "message_page_seconds", "message_break_seconds"})
        language = table.get("language", defaults.language)
        if language not in LANGUAGES:
            raise reader.expected("language", f"one of {', '.join(map(repr, LANGUAGES))}",
                                  language)
        bus_label = table.get("bus_label", defaults.bus_label)
        if bus_label not in BUS_LABELS:
            raise reader.expected("bus_label", f"one of {', '.join(map(repr, BUS_LABELS))}",
                                  bus_label)
        walk = seconds("walk_seconds", defaults.walk_seconds, 0.0)
        # Without soon_seconds, yellow still gets five minutes beyond a long walk.
        soon = seconds("soon_seconds", max(defaults.soon_seconds, walk + 300.0), 0.0)
        if soon < walk:
            raise reader.expected("soon_seconds", f"at least walk_seconds ({walk:g})",
                                  table["soon_seconds"])
        return cls(
            language=language, walk_seconds=walk, soon_seconds=soon, bus_label=bus_label,
            bus_stale_after_seconds=seconds("bus_stale_after_seconds",
                                            defaults.bus_stale_after_seconds, 1.0),
            weather_stale_after_seconds=seconds("weather_stale_after_seconds",
                                                defaults.weather_stale_after_seconds, 1.0),
            message_page_seconds=seconds("message_page_seconds",
                                         defaults.message_page_seconds, 1.0),
            message_break_seconds=seconds("message_break_seconds",
                                          defaults.message_break_seconds, 0.0),
        )

    def view(self, now: float, zone: tzinfo | None, *, bus: BusBoard | None = None,
             weather: Forecast | None = None, health: Mapping[str, HealthState] | None = None,
             message: DisplayMessage | None = None,
             alerts: tuple[Alert, ...] = (),
             fleet_alerts: tuple[str, ...] = ()) -> DashboardView:
        """The frame's view at `now` in `zone` (`HubSettings.zone()`: None = the system's)
        with these settings and the latest data."""
        return DashboardView(
            now=now, zone=zone, language=self.language, bus=bus, weather=weather,
            health=MappingProxyType(dict(health or {})), message=message, alerts=alerts,
            fleet_alerts=fleet_alerts,
            bus_stale_after_seconds=self.bus_stale_after_seconds,
            weather_stale_after_seconds=self.weather_stale_after_seconds,
            walk_seconds=self.walk_seconds, soon_seconds=self.soon_seconds,
            bus_label="quay" if self.bus_label == "quay" else "destination",
            message_page_seconds=self.message_page_seconds,
            message_break_seconds=self.message_break_seconds)
