"""`[[maintenance]]` windows: a mute that recurs, read from `hub.toml`, and its occurrences.

    [[maintenance]]
    components = ["bus", "weather"]   # or "*" for every component
    days = ["sat", "sun"]             # optional: every day when left out
    start = "02:00"                   # local time in [hub] timezone
    duration = "2h"                   # 30m, 2h, 1d, 1h30m; at most 7 days
    reason = "router firmware updates"

A window starts on each chosen day at `start` in the hub's timezone and lasts `duration`
of real time, so DST never stretches or shrinks it. A start that a DST change skips
(02:30 on the night clocks go forward) begins when the clocks have moved on (03:30); a
start that happens twice (the night they go back) begins the first time. The
notification policy (machines/notification.py) sees only the resulting `[start, end)`
occurrences.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from hub.settings_table import ConfigError, Table, shown
from machines.silences import ALL, MAX_MUTE_SECONDS, Window, parse_duration

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: A window lasts at most as long as a mute may (7 days): a longer one is a standing mute
#: nobody remembers, and covering a whole week it would overlap its next occurrence.
LONGEST_WINDOW_SECONDS = MAX_MUTE_SECONDS
_KEYS = {"components", "days", "start", "duration", "reason"}


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """One `[[maintenance]]` table: when it recurs, for which components, and why."""

    components: frozenset[str]  # {"*"}: every component
    start_minute: int  # after local midnight
    duration_seconds: float
    days: frozenset[int] = frozenset(range(7))  # 0 = Monday, as `date.weekday()`
    reason: str = ""

    def occurrences(self, since: float, until: float, zone: tzinfo | None) -> list[Window]:
        """Every occurrence overlapping `[since, until]`, in time order; `zone` None is the
        system's timezone (as `HubSettings.zone()` says)."""
        first = _local_date(since - self.duration_seconds, zone) - timedelta(days=1)
        last = _local_date(until, zone) + timedelta(days=1)
        hour, minute = divmod(self.start_minute, 60)
        found: list[Window] = []
        day = first
        while day <= last:
            if day.weekday() in self.days:
                # fold=0: a repeated local time is its first instant, a skipped one is
                # read with the offset before the change, i.e. once the clocks moved on
                start = datetime.combine(day, time(hour, minute), tzinfo=zone).timestamp()
                end = start + self.duration_seconds
                if end > since and start <= until:
                    found.append(Window(start, end, self.components, self.reason))
            day += timedelta(days=1)
        return found


def occurrences(windows: Iterable[MaintenanceWindow], since: float, until: float,
                zone: tzinfo | None) -> list[Window]:
    """The occurrences of every window overlapping `[since, until]`, in time order."""
    found = [w for window in windows for w in window.occurrences(since, until, zone)]
    return sorted(found, key=lambda w: (w.start, w.end))


def _local_date(at: float, zone: tzinfo | None) -> date:
    return datetime.fromtimestamp(max(at, 0.0), UTC).astimezone(zone).date()


def parse_maintenance(tables: Any, path: Path, known: Collection[str],
                      history: Collection[str] | None = None) -> tuple[MaintenanceWindow, ...]:
    """The `[[maintenance]]` tables of `path`; `known` are the config's components and
    `history` (for `replay`) the history's, which `components` may name too."""
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{path}: maintenance: expected [[maintenance]] tables, got "
                          f"{shown(tables)}")
    return tuple(_window(Table(path, f"[[maintenance]] #{index}", values), known, history)
                 for index, values in enumerate(tables, start=1))


def _window(table: Table, known: Collection[str],
            history: Collection[str] | None) -> MaintenanceWindow:
    table.only_keys(_KEYS)
    return MaintenanceWindow(
        components=_components(table, known, history),
        days=parse_days(table, "days"),
        start_minute=parse_local_time(table, "start", table.string(
            "start", expected=LOCAL_TIME_EXPECTED)),
        duration_seconds=_duration(table),
        reason=table.string("reason", ""),
    )


def _components(table: Table, known: Collection[str],
                history: Collection[str] | None) -> frozenset[str]:
    expected = 'a list of component names, or "*" for every component'
    value = table.values.get("components")
    if value == ALL:
        return frozenset({ALL})
    if "components" not in table.values:
        raise table.missing("components", expected)
    if not isinstance(value, list) or not value \
            or not all(isinstance(name, str) and name for name in value):
        raise table.expected("components", expected, value)
    for name in value:
        if name != ALL and name not in known and name not in (history or ()):
            besides = ", or a component of the history" if history is not None else ""
            raise table.error("components", f"no component is named {name!r} (known: "
                                            f"{', '.join(known)}{besides})")
    return frozenset(value)


def parse_days(table: Table, key: str) -> frozenset[int]:
    """The weekdays (0 = Monday) a list of `DAYS` names at `key` chooses; every day when
    the key is absent. Shared with the display's `[[page]] when`."""
    expected = f"a list of days from {', '.join(DAYS)}"
    value = table.values.get(key, list(DAYS))
    if not isinstance(value, list) or not value \
            or not all(isinstance(day, str) and day.lower() in DAYS for day in value):
        raise table.expected(key, expected, value)
    return frozenset(DAYS.index(day.lower()) for day in value)


LOCAL_TIME_EXPECTED = 'a local time "HH:MM" from "00:00" to "23:59"'


def parse_local_time(table: Table, key: str, text: str) -> int:
    """The minute of the day a local "HH:MM" `text` (read from `key`) names."""
    hours, sep, minutes = text.partition(":")
    if not (sep and hours.isascii() and hours.isdigit() and len(hours) <= 2
            and minutes.isascii() and minutes.isdigit() and len(minutes) == 2
            and int(hours) < 24 and int(minutes) < 60):
        raise table.expected(key, LOCAL_TIME_EXPECTED, text)
    return int(hours) * 60 + int(minutes)


def _duration(table: Table) -> float:
    expected = "a duration such as 30m, 2h or 1d, at most 7d"
    text = table.string("duration", expected=expected)
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise table.expected("duration", expected, text) from None
    if not 0 < seconds <= LONGEST_WINDOW_SECONDS:
        raise table.expected("duration", expected, text)
    return seconds
