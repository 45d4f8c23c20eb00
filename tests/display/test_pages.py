"""`[[page]]`: read from hub.toml with errors naming file and key, and rotated on virtual
time by `Dashboard.render`: each page for its seconds, skipped while it has nothing to
show or is outside its hours, and `alerts` jumped to once when an incident opens."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from hub.config import ConfigError, load_config
from hub.dashboard import Dashboard
from hub.display.alerts import Alert
from hub.display.messages import MessageBoard, Post
from hub.display.pages import Page, PageHours, PageKind, Rotation
from hub.display.render import render
from hub.display.screens import render_page
from hub.display.settings import DisplaySettings
from hub.display.view import DisplayMessage
from hub.sources.data import BusBoard
from machines import Outcome, Snapshot
from machines.states import HealthState
from tests.display.scenes import MORNING, OSLO, at, departure, rainy_morning


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- reading [[page]] ------------------------------------------------------------------------

def test_pages_are_read_in_order_with_their_hours(tmp_path):
    config = load_config(write(tmp_path, """
[[page]]
show = "dashboard"
seconds = 20

[[page]]
show = "clock"
seconds = 8
when = { days = ["sat", "sun"], hours = "22:00-06:30" }
name = "night-clock"
"""))
    assert config.pages == (
        Page(name="dashboard", show=PageKind.DASHBOARD, seconds=20.0),
        Page(name="night-clock", show=PageKind.CLOCK, seconds=8.0,
             when=PageHours(days=frozenset({5, 6}), start_minute=22 * 60,
                            end_minute=6 * 60 + 30)))


def test_no_page_tables_mean_no_pages(tmp_path):
    assert load_config(write(tmp_path, "[display]\nlanguage = 'en'\n")).pages == ()


@pytest.mark.parametrize(("text", "message"), [
    ("page = 3\n", "page: expected [[page]] tables, got 3"),
    ("[[page]]\nshow = 'weather'\nseconds = 5\n",
     "[[page]] #1: show: expected one of 'dashboard', 'clock', 'bus', 'alerts', 'message', "
     "got 'weather'"),
    ("[[page]]\nseconds = 5\n", "[[page]] #1: show: expected one of"),
    ("[[page]]\nshow = 'clock'\n", "[[page]] #1: seconds: expected seconds from 2 to 86400, "
     "got None"),
    ("[[page]]\nshow = 'clock'\nseconds = true\n", "[[page]] #1: seconds: expected seconds"),
    ("[[page]]\nshow = 'clock'\nseconds = 1\n", "[[page]] #1: seconds: expected seconds"),
    ("[[page]]\nshow = 'clock'\nseconds = 5\nwhen = 'mornings'\n",
     "[[page]] #1: when: expected a table such as"),
    ("[[page]]\nshow = 'clock'\nseconds = 5\nwhen = { day = ['mon'] }\n",
     "[[page]] #1: when.day: unknown key (known: when.days, when.hours)"),
    ("[[page]]\nshow = 'clock'\nseconds = 5\nwhen = { days = ['monday'] }\n",
     "[[page]] #1: when.days: expected a list of days from mon, tue"),
    ("[[page]]\nshow = 'clock'\nseconds = 5\nwhen = { hours = '6-9' }\n",
     "[[page]] #1: when.hours: expected a local time \"HH:MM\""),
    ("[[page]]\nshow = 'clock'\nseconds = 5\nwhen = { hours = '06:00' }\n",
     "[[page]] #1: when.hours: expected \"HH:MM-HH:MM\""),
    ("[[page]]\nshow = 'clock'\nseconds = 5\nwhen = { hours = '06:00-06:00' }\n",
     "[[page]] #1: when.hours: expected a start and an end that differ"),
    ("[[page]]\nshow = 'clock'\nseconds = 5\nname = 'Big Clock'\n",
     "[[page]] #1: name: expected a short lowercase name"),
    ("[[page]]\nshow = 'clock'\nseconds = 5\n[[page]]\nshow = 'clock'\nseconds = 9\n",
     "[[page]] #2: name: 'clock' is already the name of another page"),
    ("[[page]]\nshow = 'clock'\nsecond = 5\n", "[[page]] #1: second: unknown key"),
])
def test_a_bad_page_names_the_file_and_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value).startswith(f"{path}: {message}")


def test_hours_past_midnight_belong_to_the_day_they_start():
    fridays_at_night = PageHours(days=frozenset({4}), start_minute=22 * 60, end_minute=6 * 60)

    def shows(text: str) -> bool:
        return fridays_at_night.includes(
            datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=OSLO))

    # Friday 28 November 2025
    assert shows("2025-11-28 23:00") and shows("2025-11-29 05:59")
    assert not shows("2025-11-28 21:59") and not shows("2025-11-29 06:00")
    assert not shows("2025-11-28 03:00")  # Friday morning belongs to Thursday night


# -- the rotation -----------------------------------------------------------------------------

def pages(*specs: tuple[PageKind, float]) -> tuple[Page, ...]:
    return tuple(Page(name=kind.value, show=kind, seconds=seconds) for kind, seconds in specs)


def names(rotation: Rotation, start: float, seconds: int, can_show=lambda kind, now: True,
          open_at=lambda now: frozenset()) -> list[str]:
    """The page shown at each second from `start`, as the render tick asks;
    `can_show(kind, now)` and `open_at(now)` say what there is to show then."""
    return [rotation.page_at(start + s, OSLO,
                             lambda kind, now=start + s: can_show(kind, now),
                             open_at(start + s)).name
            for s in range(seconds)]


def test_each_page_shows_for_its_seconds_then_the_next():
    rotation = Rotation(pages((PageKind.DASHBOARD, 3), (PageKind.CLOCK, 2)))
    assert names(rotation, MORNING, 8) == ["dashboard"] * 3 + ["clock"] * 2 + ["dashboard"] * 3


def test_a_page_with_nothing_to_show_is_skipped():
    rotation = Rotation(pages((PageKind.DASHBOARD, 2), (PageKind.ALERTS, 2), (PageKind.CLOCK, 2)))
    shown = names(rotation, MORNING, 6, can_show=lambda kind, now: kind is not PageKind.ALERTS)
    assert shown == ["dashboard", "dashboard", "clock", "clock", "dashboard", "dashboard"]


def test_a_page_outside_its_hours_is_skipped_and_the_dashboard_shows_when_none_can():
    weekend = PageHours(days=frozenset({5, 6}))
    weekdays = PageHours(days=frozenset({0, 1, 2, 3, 4}))
    rotation = Rotation((Page("clock", PageKind.CLOCK, 5.0, weekend),
                         Page("bus", PageKind.BUS, 5.0, weekdays)))
    saturday = at(2025, 11, 22, 8, 0)
    assert set(names(rotation, saturday, 12)) == {"clock"}
    monday = at(2025, 11, 24, 8, 0)
    assert set(names(rotation, monday, 12)) == {"bus"}
    assert names(Rotation((Page("clock", PageKind.CLOCK, 5.0, weekend),)), monday, 2) \
        == ["dashboard", "dashboard"]


def test_a_page_that_loses_its_content_gives_up_the_rest_of_its_turn():
    rotation = Rotation(pages((PageKind.MESSAGE, 30), (PageKind.DASHBOARD, 30)))
    cleared_at = MORNING + 4
    shown = names(rotation, MORNING, 6, can_show=lambda kind, now: kind is not PageKind.MESSAGE
                  or now < cleared_at)
    assert shown[:4] == ["message"] * 4 and shown[4:] == ["dashboard"] * 2


def test_an_incident_that_opens_jumps_to_the_alerts_page_once():
    rotation = Rotation(pages((PageKind.DASHBOARD, 10), (PageKind.ALERTS, 3)))
    opened = MORNING + 2
    shown = names(rotation, MORNING, 16,
                  open_at=lambda now: frozenset({"bus"}) if now >= opened else frozenset())
    # The jump at +2 gives alerts a whole turn, then the rotation goes on from there; the
    # incident staying open does not jump again.
    assert shown == (["dashboard"] * 2 + ["alerts"] * 3 + ["dashboard"] * 10 + ["alerts"])


def test_a_second_incident_jumps_again():
    rotation = Rotation(pages((PageKind.DASHBOARD, 10), (PageKind.ALERTS, 2)))
    shown = names(rotation, MORNING, 8, open_at=lambda now: frozenset(
        {"bus"} if now < MORNING + 5 else {"bus", "weather"}) if now >= MORNING + 1
        else frozenset())
    assert shown == ["dashboard", "alerts", "alerts", "dashboard", "dashboard", "alerts",
                     "alerts", "dashboard"]


# -- the dashboard with pages --------------------------------------------------------------

def snapshot(component: str, state: HealthState, since: float) -> Snapshot:
    return Snapshot(component=component, state=state, since=since)


def board(now: float) -> BusBoard:
    return BusBoard(fetched_at=now, departures=(departure("31", "Tonsenhagen", 300, now),))


def test_without_pages_the_dashboard_draws_exactly_what_it_always_did():
    view = rainy_morning()
    dashboard = Dashboard(DisplaySettings(), OSLO, machines=tuple)
    dashboard.observe(Outcome.success("bus", view.now - 20, data=view.bus))
    dashboard.observe(Outcome.success("weather", view.now - 900, data=view.weather))
    for second in range(0, 600, 7):
        now = view.now + second
        expected = render(DisplaySettings().view(now, OSLO, bus=view.bus,
                                                 weather=view.weather))
        assert dashboard.render(now).tobytes() == expected.tobytes()
        assert dashboard.page_name == "dashboard"


def test_the_dashboard_rotates_pages_and_lists_open_incidents_worst_first(tmp_path):
    machines = [snapshot("bus", HealthState.HEALTHY, MORNING - 99)]
    fleet = [Alert(name="disk-full", since=MORNING - 50, severity="warning")]
    messages = MessageBoard(tmp_path)
    dashboard = Dashboard(
        DisplaySettings(language="en"), OSLO, machines=lambda: machines, messages=messages,
        pages=pages((PageKind.CLOCK, 4), (PageKind.BUS, 4), (PageKind.ALERTS, 4),
                    (PageKind.MESSAGE, 4)),
        extra_alerts=lambda: fleet)
    dashboard.observe(Outcome.success("bus", MORNING, data=board(MORNING)))
    seen = []
    for second in range(12):
        frame = dashboard.render(MORNING + second)
        seen.append(dashboard.page_name)
        if dashboard.page_name == "alerts":
            view = dashboard.view(MORNING + second)
            assert frame.tobytes() == render_page(PageKind.ALERTS, view).tobytes()
    # No message: that page is skipped; the fleet alert alone fills the alerts page.
    assert seen == ["clock"] * 4 + ["bus"] * 4 + ["alerts"] * 4
    machines[:] = [snapshot("bus", HealthState.ALERTING, MORNING + 5)]
    assert [a.name for a in dashboard.view(MORNING + 12).alerts] == ["bus", "disk-full"]
    messages.apply(Post(DisplayMessage(text="Hei!", author="Åse", posted_at=MORNING + 12)))
    assert dashboard.render(MORNING + 12) is not None
    assert dashboard.page_name == "alerts"  # the incident that opened jumps there first
    for second in range(13, 20):
        dashboard.render(MORNING + second)
    assert dashboard.page_name == "message"


def test_preview_of_a_named_page_or_any_kind_of_page(tmp_path):
    dashboard = Dashboard(DisplaySettings(), OSLO, machines=tuple,
                          pages=(Page("big-clock", PageKind.CLOCK, 5.0),))
    view = dashboard.view(MORNING)
    assert dashboard.render_page(MORNING, "big-clock").tobytes() \
        == render_page(PageKind.CLOCK, view).tobytes()
    assert dashboard.render_page(MORNING, "alerts").tobytes() \
        == render_page(PageKind.ALERTS, view).tobytes()
    assert dashboard.page_names() == ("big-clock", "dashboard", "clock", "bus", "alerts",
                                      "message")
    with pytest.raises(KeyError):
        dashboard.render_page(MORNING, "weather")
