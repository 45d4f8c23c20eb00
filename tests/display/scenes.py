"""The golden scenes: fixed dashboard views whose frames are pinned as PNG fixtures.

Shared by the golden tests, `python -m tests.display.regenerate` and the render
benchmark. Every scene is a plain function of nothing: fixed instants, fixed data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType
from zoneinfo import ZoneInfo

from hub.display.alerts import Alert, worst_first
from hub.display.pages import PageKind
from hub.display.view import DashboardView, DisplayMessage, Language
from hub.sources.data import BusBoard, Departure, Forecast
from machines.states import HealthState

OSLO = ZoneInfo("Europe/Oslo")


def at(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> float:
    """Epoch seconds of a wall-clock time in Oslo."""
    return datetime(year, month, day, hour, minute, second, tzinfo=OSLO).timestamp()


#: Saturday 22 November 2025, 07:42:10 in Oslo.
MORNING = at(2025, 11, 22, 7, 42, 10)
#: Wednesday 24 December 2025, 17:05:00 in Oslo.
EVENING = at(2025, 12, 24, 17, 5)
#: Tuesday 3 June 2025, 23:17:45 in Oslo (summer time).
NIGHT = at(2025, 6, 3, 23, 17, 45)


def departure(line: str, destination: str, in_seconds: float, now: float,
              quay: str = "A", late_seconds: float = 0.0) -> Departure:
    return Departure(quay=quay, line=line, destination=destination,
                     departs_at=now + in_seconds, aimed_at=now + in_seconds - late_seconds,
                     is_realtime=True)


def morning_board(now: float = MORNING, fetched_ago: float = 20.0) -> BusBoard:
    fetched = now - fetched_ago
    return BusBoard(fetched_at=fetched, departures=(
        departure("31", "Tonsenhagen", 40 + fetched_ago, fetched),
        departure("37", "Helsfyr", 200 + fetched_ago, fetched, quay="B", late_seconds=60),
        departure("31", "Fornebu", 430 + fetched_ago, fetched, quay="B"),
        departure("20", "Galgeberg", 1030 + fetched_ago, fetched),
        departure("110", "Lillestrøm", 4000 + fetched_ago, fetched),
    ))


def rainy_morning() -> DashboardView:
    return DashboardView(
        now=MORNING, zone=OSLO, language="no", bus=morning_board(),
        weather=Forecast(fetched_at=MORNING - 900, temperature_c=4.4, symbol="rain",
                         high_c=7.2, low_c=2.6, precipitation_mm=1.3, wind_speed_ms=5.1))


def rainy_morning_english() -> DashboardView:
    return DashboardView(
        now=MORNING, zone=OSLO, language="en", bus=morning_board(),
        weather=Forecast(fetched_at=MORNING - 900, temperature_c=4.4, symbol="rain",
                         high_c=7.2, low_c=2.6, precipitation_mm=1.3, wind_speed_ms=5.1))


def night_with_stale_buses() -> DashboardView:
    fetched = NIGHT - 900  # the last good poll was a quarter of an hour ago
    board = BusBoard(fetched_at=fetched, departures=(
        departure("N31", "Tonsenhagen", 960, fetched),
        departure("N37", "Helsfyr", 1500, fetched, quay="B"),
        departure("N31", "Fornebu", 2800, fetched, quay="B"),
    ))
    return DashboardView(
        now=NIGHT, zone=OSLO, language="no", bus=board,
        weather=Forecast(fetched_at=NIGHT - 600, temperature_c=-0.4, symbol="clearsky_night",
                         high_c=11.0, low_c=-3.0, precipitation_mm=0.0))


def alerting() -> DashboardView:
    health: Mapping[str, HealthState] = MappingProxyType({
        "bus": HealthState.HEALTHY, "weather": HealthState.REMINDING,
        "pixoo": HealthState.HEALTHY})
    return DashboardView(
        now=MORNING, zone=OSLO, language="en", bus=morning_board(),
        weather=Forecast(fetched_at=MORNING - 9000, temperature_c=-12.6,
                         symbol="partlycloudy_day", high_c=-9.0, low_c=-17.0),
        health=health)


def message_overlay() -> DashboardView:
    message = DisplayMessage(
        text="Husk å kjøpe brød og smør på vei hjem! Ærlig talt \u2603",
        author="Åse", posted_at=MORNING - 30, expires_at=MORNING + 3600)
    return DashboardView(
        now=MORNING, zone=OSLO, language="no", bus=morning_board(),
        weather=Forecast(fetched_at=MORNING - 900, temperature_c=4.4, symbol="rain"),
        message=message, health=MappingProxyType({"bus": HealthState.ALERTING}))


def snowy_evening_by_quay() -> DashboardView:
    """Rows labelled by quay (arrows for the direction), one departure beyond the hour,
    and a quay that failed in the last poll."""
    now = EVENING
    board = BusBoard(fetched_at=now - 30, failed_quays=("B",), departures=(
        departure("25", "Majorstuen", 150, now, quay="\u2191"),
        departure("25", "Løren", 500, now, quay="\u2193"),
        departure("54", "Kjelsås", 1260, now, quay="\u2191"),
        departure("5", "Sognsvann", 4470, now, quay="\u2193"),
    ))
    return DashboardView(
        now=now, zone=OSLO, language="en", bus=board, bus_label="quay",
        weather=Forecast(fetched_at=now - 300, temperature_c=-4.5, symbol="snowshowers_night",
                         high_c=-1.0, low_c=-6.0, precipitation_mm=12.4))


def fleet_alerts() -> DashboardView:
    """Alertmanager fires two alerts: the first over the last bus row, the count beside."""
    return replace(rainy_morning(), fleet_alerts=(
        "HostDown nas: nas has not answered for 5 minutes", "DiskFull lab"))


def start_up() -> DashboardView:
    return DashboardView(now=NIGHT, zone=OSLO, language="en")


SCENES: Mapping[str, Callable[[], DashboardView]] = MappingProxyType({
    "rainy_morning": rainy_morning,
    "rainy_morning_english": rainy_morning_english,
    "night_with_stale_buses": night_with_stale_buses,
    "alerting": alerting,
    "message_overlay": message_overlay,
    "snowy_evening_by_quay": snowy_evening_by_quay,
    "start_up": start_up,
    "fleet_alerts": fleet_alerts,
})


# -- the other pages ([[page]]): each is drawn from the same view as the dashboard ---------

LONG_NAMES = (
    ("31", "Tonsenhagen via Grorud stasjon"), ("37", "Helsfyr T"),
    ("110", "Lillestrøm bussterminal"), ("20", "Skøyen"), ("N31", "Fornebu"),
    ("25", "Majorstuen via Ullevål sykehus"), ("5", "Sognsvann"), ("54", "Kjelsås"),
    ("390", "Ås sentrum og Ørje"), ("81", "Bærums Verk"))


def many_departures(now: float) -> BusBoard:
    return BusBoard(fetched_at=now - 20, departures=tuple(
        departure(line, destination, 50 + index * 170 + (3000 if index > 7 else 0), now)
        for index, (line, destination) in enumerate(LONG_NAMES)))


def twelve_alerts(now: float) -> tuple[Alert, ...]:
    names = ("bus", "weather", "pixoo", "nas-backup", "router", "hjemmekontor-skriver",
             "vaskemaskin", "grafana", "øvingsrom", "homeassistant", "solcelle", "mqtt")
    return worst_first(Alert(name=name, since=now - 60 * (7 + index * 97),
                             severity="warning" if index % 4 == 3 else "critical")
                       for index, name in enumerate(names))


def page_view(language: Language, now: float = MORNING, **changes: object) -> DashboardView:
    view = DashboardView(
        now=now, zone=OSLO, language=language, bus=many_departures(now),
        weather=Forecast(fetched_at=now - 900, temperature_c=-3.6, symbol="lightsnow",
                         high_c=-1.2, low_c=-7.8, precipitation_mm=0.4))
    return dataclasses.replace(view, **changes)  # type: ignore[arg-type]


LONG_MESSAGE = DisplayMessage(
    text="Middag klokka 18 hos bestemor på Æbleløkka – ta med øl og brød!",
    author="Åse Ødegård", posted_at=MORNING - 4, expires_at=None)


#: (page, view) per scene; the golden of each is `golden/page_<name>.png`.
PAGE_SCENES: Mapping[str, Callable[[], tuple[PageKind, DashboardView]]] = MappingProxyType({
    "clock_no": lambda: (PageKind.CLOCK, page_view("no")),
    "clock_en_alerting": lambda: (PageKind.CLOCK, page_view(
        "en", EVENING, health=MappingProxyType({"bus": HealthState.ALERTING}))),
    "clock_no_weather": lambda: (PageKind.CLOCK, page_view("no", NIGHT, weather=None)),
    "bus_many_no": lambda: (PageKind.BUS, page_view("no")),
    "bus_many_en": lambda: (PageKind.BUS, page_view("en")),
    "bus_none_no": lambda: (PageKind.BUS, page_view(
        "no", bus=BusBoard(fetched_at=MORNING - 20, departures=()))),
    "bus_none_en": lambda: (PageKind.BUS, page_view("en", bus=None)),
    "alerts_twelve_no": lambda: (PageKind.ALERTS, page_view("no", alerts=twelve_alerts(MORNING))),
    "alerts_twelve_en": lambda: (PageKind.ALERTS, page_view("en", alerts=twelve_alerts(MORNING))),
    "alerts_none_no": lambda: (PageKind.ALERTS, page_view("no")),
    "alerts_none_en": lambda: (PageKind.ALERTS, page_view("en")),
    "message_no": lambda: (PageKind.MESSAGE, page_view("no", message=LONG_MESSAGE)),
    "message_en_page_two": lambda: (PageKind.MESSAGE, page_view(
        "en", MORNING + 5, message=LONG_MESSAGE)),
    "message_none_en": lambda: (PageKind.MESSAGE, page_view("en")),
})
