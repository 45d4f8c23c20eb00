"""What the bus and weather sources fetch and the renderer draws: frozen values.

A successful poll puts one of these in `Outcome.data`; the renderer reads the latest
one it was given. Times are epoch seconds so the renderer can count down between polls.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Departure:
    """One call at a quay: the bus, where it goes, and when it leaves."""

    quay: str  # the short label from `[bus] labels` (e.g. "↑" or "A")
    line: str  # the line's public code, e.g. "31"
    destination: str  # destinationDisplay.frontText
    departs_at: float  # expected departure (real-time when known), epoch seconds
    aimed_at: float  # timetabled departure, epoch seconds
    is_realtime: bool


@dataclass(frozen=True, slots=True)
class BusBoard:
    """The departures of every configured quay from one poll, soonest first."""

    fetched_at: float
    departures: tuple[Departure, ...]
    failed_quays: tuple[str, ...] = ()  # labels of quays whose query failed in this poll


@dataclass(frozen=True, slots=True)
class Forecast:
    """The weather now and today, from one MET locationforecast response."""

    fetched_at: float
    temperature_c: float
    symbol: str  # MET symbol_code of the next hour, e.g. "partlycloudy_day"
    high_c: float | None = None  # today's high/low in the hub's timezone
    low_c: float | None = None
    precipitation_mm: float | None = None  # next hour
    wind_speed_ms: float | None = None
    updated_at: float | None = None  # meta.updated_at of the forecast itself
