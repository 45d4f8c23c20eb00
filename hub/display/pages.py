"""`[[page]]`: the pages the Pixoo rotates through, and which one shows at an instant.

    [[page]]
    show = "clock"            # dashboard | clock | bus | alerts | message
    seconds = 10              # how long it stays before the next page
    when = { days = ["mon", "tue", "wed", "thu", "fri"], hours = "06:00-09:00" }
    name = "morning-clock"    # optional: --page and the status page use it (default: show)

`when` is local time in `[hub] timezone`; "22:00-06:00" runs past midnight (on the days
it starts). A page with nothing to show is skipped (`bus` without departures, `alerts`
with none open, `message` with no message); when no page can show, the dashboard does.
With no `[[page]]` at all the hub shows today's single dashboard (`DEFAULT_PAGES`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from enum import Enum
from pathlib import Path
from typing import Any

from hub.maintenance import DAYS, LOCAL_TIME_EXPECTED, parse_days, parse_local_time
from hub.settings_table import NAME_PATTERN, ConfigError, Table, shown

#: A page shorter than this is gone before anyone reads it (the Pixoo takes a frame a
#: second); a day is plenty for the longest.
MIN_PAGE_SECONDS = 2.0
MAX_PAGE_SECONDS = 86_400.0
DAY_MINUTES = 24 * 60
_KEYS = {"show", "seconds", "when", "name"}
_WHEN_KEYS = {"days", "hours"}


class PageKind(Enum):
    DASHBOARD = "dashboard"  # today's layout: clock, weather, buses
    CLOCK = "clock"  # a big clock, the date and the weather
    BUS = "bus"  # more departures, with their whole destinations
    ALERTS = "alerts"  # open incidents (and fleet alerts), worst first
    MESSAGE = "message"  # the display message, large


@dataclass(frozen=True, slots=True)
class PageHours:
    """When a page may show: on `days` (0 = Monday), from `start_minute` to `end_minute`
    of the local day (past midnight when the end is earlier)."""

    days: frozenset[int]
    start_minute: int = 0
    end_minute: int = DAY_MINUTES

    def describe(self) -> str:
        """As the status page says it: "mon tue 06:00-09:00", "sat sun", "22:00-06:30"."""
        days = "" if len(self.days) == len(DAYS) \
            else " ".join(DAYS[day] for day in sorted(self.days))
        hours = "" if (self.start_minute, self.end_minute) == (0, DAY_MINUTES) \
            else f"{_clock(self.start_minute)}-{_clock(self.end_minute)}"
        return " ".join(part for part in (days, hours) if part)

    def includes(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        if self.start_minute < self.end_minute:
            return local.weekday() in self.days and self.start_minute <= minute < self.end_minute
        if minute >= self.start_minute:  # the evening part, on a day it starts
            return local.weekday() in self.days
        # the morning part belongs to the day before
        return minute < self.end_minute and (local.weekday() - 1) % 7 in self.days


@dataclass(frozen=True, slots=True)
class Page:
    """One `[[page]]` table."""

    name: str
    show: PageKind
    seconds: float
    when: PageHours | None = None

    def is_scheduled_at(self, local: datetime) -> bool:
        return self.when is None or self.when.includes(local)

    def describe(self) -> str:
        """"clock 8 s" or "morning (bus) 20 s, mon tue 06:00-09:00": for the status page."""
        name = self.name if self.name == self.show.value else f"{self.name} ({self.show.value})"
        when = f", {self.when.describe()}" if self.when is not None else ""
        return f"{name} {self.seconds:g} s{when}"


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True, slots=True)
class PagesShown:
    """What the status page says about the display: the page on it and the rotation
    (empty without `[[page]]`)."""

    showing: str
    rotation: tuple[str, ...] = ()


#: What no `[[page]]` means: the dashboard, always.
DEFAULT_PAGES = (Page(name="dashboard", show=PageKind.DASHBOARD, seconds=MAX_PAGE_SECONDS),)


def parse_pages(tables: Any, path: Path | str) -> tuple[Page, ...]:
    """The `[[page]]` tables of `path`, in order; () when there are none."""
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{path}: page: expected [[page]] tables, got {shown(tables)}")
    pages: list[Page] = []
    for index, values in enumerate(tables, start=1):
        table = Table(path, f"[[page]] #{index}", values)
        page = _page(table)
        if any(p.name == page.name for p in pages):
            raise table.error("name", f"{page.name!r} is already the name of another page "
                                      "(set name = \"...\" to tell them apart)")
        pages.append(page)
    return tuple(pages)


def _page(table: Table) -> Page:
    table.only_keys(_KEYS)
    kinds = ", ".join(repr(kind.value) for kind in PageKind)
    show_text = table.string("show", expected=f"one of {kinds}")
    try:
        show = PageKind(show_text)
    except ValueError:
        raise table.expected("show", f"one of {kinds}", show_text) from None
    seconds = table.values.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) \
            or not MIN_PAGE_SECONDS <= seconds <= MAX_PAGE_SECONDS:
        raise table.expected("seconds", f"seconds from {MIN_PAGE_SECONDS:g} to "
                                        f"{MAX_PAGE_SECONDS:g}", seconds)
    name = table.values.get("name", show.value)
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise table.expected("name", "a short lowercase name (letters, digits, - _ .)", name)
    return Page(name=name, show=show, seconds=float(seconds), when=_when(table))


def _when(table: Table) -> PageHours | None:
    if "when" not in table.values:
        return None
    value = table.values["when"]
    expected = (f'a table such as {{ days = ["sat", "sun"], hours = "08:00-12:00" }} '
                f"(days from {', '.join(DAYS)})")
    if not isinstance(value, dict) or not value:
        raise table.expected("when", expected, value)
    # Read as keys "when.days" and "when.hours", so an error names them so.
    inner = Table(table.path, table.place, {f"when.{k}": v for k, v in value.items()})
    inner.only_keys({f"when.{k}" for k in _WHEN_KEYS})
    days = parse_days(inner, "when.days")
    if "when.hours" not in inner.values:
        return PageHours(days=days)
    hours_expected = f'"HH:MM-HH:MM", each {LOCAL_TIME_EXPECTED.removeprefix("a ")}'
    text = inner.string("when.hours", expected=hours_expected)
    start_text, sep, end_text = text.partition("-")
    if not sep:
        raise inner.expected("when.hours", hours_expected, text)
    start = parse_local_time(inner, "when.hours", start_text.strip())
    end = parse_local_time(inner, "when.hours", end_text.strip())
    if start == end:
        raise inner.expected("when.hours", "a start and an end that differ (leave hours "
                                           "out for the whole day)", text)
    return PageHours(days=days, start_minute=start, end_minute=end)


@dataclass(frozen=True, slots=True)
class Showing:
    """The page on the display, and since when it has been."""

    page: Page
    since: float


class Rotation:
    """Which page shows at `now`: each for its `seconds`, then the next that can show.

    Stateful on purpose (the render tick owns it, on the loop): a page keeps its whole
    turn even when ticks are late, and an incident that opens jumps the `alerts` page
    forward once, not again at every frame while it stays open.
    """

    def __init__(self, pages: tuple[Page, ...]) -> None:
        self._pages = pages or DEFAULT_PAGES
        self._showing: Showing | None = None
        self._open: frozenset[str] = frozenset()

    @property
    def pages(self) -> tuple[Page, ...]:
        return self._pages

    @property
    def showing(self) -> Showing | None:
        return self._showing

    def page_at(self, now: float, zone: tzinfo | None,
                can_show: Callable[[PageKind], bool],
                open_incidents: Collection[str] = frozenset()) -> Page:
        """The page to draw at `now`; `can_show` says whether a kind has anything to show,
        `open_incidents` which incidents are open (a new one jumps to `alerts`)."""
        local = datetime.fromtimestamp(now, tz=UTC).astimezone(zone)
        opened = not set(open_incidents) <= self._open
        self._open = frozenset(open_incidents)

        def eligible(page: Page) -> bool:
            return page.is_scheduled_at(local) and can_show(page.show)

        current = self._showing
        if opened:
            alerts = next((p for p in self._pages
                           if p.show is PageKind.ALERTS and eligible(p)), None)
            if alerts is not None:  # a whole turn from now, even if it was showing
                self._showing = Showing(alerts, now)
                return alerts
        if current is not None and eligible(current.page) \
                and current.since <= now < current.since + current.page.seconds:
            return current.page
        start = self._pages.index(current.page) + 1 if current is not None else 0
        for offset in range(len(self._pages)):
            page = self._pages[(start + offset) % len(self._pages)]
            if eligible(page):
                self._showing = Showing(page, now)
                return page
        # Nothing can show (every page outside its hours): the dashboard always can.
        self._showing = None
        return DEFAULT_PAGES[0]
