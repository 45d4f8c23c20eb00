"""The day/night schedule: configured hours in the hub's zone, or the sun at a place.

Sunrise and sunset are checked against published tables (timeanddate.com, rounded to
the minute): the schedule must flip within a couple of minutes of them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.display.brightness import BrightnessSchedule, parse_day_hours, solar_elevation_degrees

OSLO = ZoneInfo("Europe/Oslo")
OSLO_LAT, OSLO_LON = 59.9139, 10.7522
TROMSO_LAT, TROMSO_LON = 69.6492, 18.9553


def at(zone: ZoneInfo, *when: int) -> float:
    return datetime(*when, tzinfo=zone).timestamp()  # type: ignore[misc]


def test_day_hours_are_local_hours_in_the_hubs_zone():
    schedule = BrightnessSchedule(day=90, night=10, day_hours=(7 * 60, 22 * 60), zone=OSLO)
    assert schedule.brightness_at(at(OSLO, 2024, 1, 15, 6, 59)) == 10
    assert schedule.brightness_at(at(OSLO, 2024, 1, 15, 7, 0)) == 90
    assert schedule.brightness_at(at(OSLO, 2024, 1, 15, 21, 59)) == 90
    assert schedule.brightness_at(at(OSLO, 2024, 1, 15, 22, 0)) == 10
    # summer time: 07:00 in Oslo is 05:00 UTC
    assert schedule.brightness_at(at(UTC, 2024, 7, 15, 5, 0)) == 90
    assert schedule.brightness_at(at(UTC, 2024, 7, 15, 4, 59)) == 10


def test_day_hours_may_span_midnight():
    schedule = BrightnessSchedule(day=90, night=10, day_hours=(20 * 60, 6 * 60), zone=UTC)
    assert [schedule.brightness_at(at(UTC, 2024, 1, 15, h, 0)) for h in (5, 6, 19, 20, 23)] == [
        90, 10, 10, 90, 90]


@pytest.mark.parametrize(("day", "lat", "lon", "zone", "sunrise", "sunset"), [
    ((2024, 6, 21), OSLO_LAT, OSLO_LON, "Europe/Oslo", (3, 54), (22, 44)),
    ((2024, 12, 21), OSLO_LAT, OSLO_LON, "Europe/Oslo", (9, 18), (15, 12)),
    ((2024, 3, 20), 40.7128, -74.0060, "America/New_York", (6, 59), (19, 9)),
    ((2024, 6, 21), -33.8688, 151.2093, "Australia/Sydney", (7, 0), (16, 54)),
])
def test_by_the_sun_day_starts_at_sunrise_and_ends_at_sunset(day, lat, lon, zone, sunrise,
                                                             sunset):
    tz = ZoneInfo(zone)
    schedule = BrightnessSchedule(day=90, night=10, lat=lat, lon=lon)
    two_minutes = timedelta(minutes=2).total_seconds()
    rise, set_ = at(tz, *day, *sunrise), at(tz, *day, *sunset)
    assert schedule.brightness_at(rise - two_minutes) == 10
    assert schedule.brightness_at(rise + two_minutes) == 90
    assert schedule.brightness_at(set_ - two_minutes) == 90
    assert schedule.brightness_at(set_ + two_minutes) == 10


def test_midnight_sun_and_polar_night():
    schedule = BrightnessSchedule(day=90, night=10, lat=TROMSO_LAT, lon=TROMSO_LON)
    tz = ZoneInfo("Europe/Oslo")
    assert {schedule.brightness_at(at(tz, 2024, 6, 21, h, 0)) for h in range(24)} == {90}
    assert {schedule.brightness_at(at(tz, 2024, 12, 21, h, 0)) for h in range(24)} == {10}


def test_the_sun_is_highest_near_local_noon_and_lowest_near_midnight():
    noon = solar_elevation_degrees(at(UTC, 2024, 6, 21, 12, 0), 0.0, 0.0)
    midnight = solar_elevation_degrees(at(UTC, 2024, 6, 21, 0, 0), 0.0, 0.0)
    assert 66 < noon < 67  # 90° − 23.44° at the equator on the solstice
    assert -67 < midnight < -66


def test_without_hours_or_place_it_is_always_day():
    schedule = BrightnessSchedule(day=70, night=0)
    assert schedule.brightness_at(at(UTC, 2024, 1, 1, 3, 0)) == 70


@given(start=st.integers(0, 24 * 60), end=st.integers(0, 24 * 60))
def test_day_hours_text_round_trips(start, end):
    text = f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
    assert parse_day_hours(text) == (None if start == end else (start, end))


@pytest.mark.parametrize("text", ["", "07:00", "7-22", "07:00-", "7:0-22:00", "25:00-07:00",
                                  "07:60-22:00", "07:00-07:00", "aa:bb-cc:dd", "07:00-22:00-23:00"])
def test_malformed_day_hours_are_refused(text):
    assert parse_day_hours(text) is None


@given(now=st.floats(0, 4_102_444_800))  # 1970 … 2100
def test_brightness_is_always_one_of_the_two_levels(now):
    schedule = BrightnessSchedule(day=90, night=10, lat=OSLO_LAT, lon=OSLO_LON)
    assert schedule.brightness_at(now) in (90, 10)
