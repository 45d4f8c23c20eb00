"""When the display is dimmed: a pure day/night schedule, no clock reads.

Day is either the configured local hours (`day_hours = "07:00-22:00"`, in the hub's
timezone) or the time the sun is up at `lat`/`lon`. The sun's elevation comes from the
low-precision solar position of the Astronomical Almanac (about 0.01° over 1950–2050),
so sunrise and sunset land within a minute of the published tables, midnight sun and
polar night included; "up" means the upper limb has cleared the horizon, i.e. an
apparent elevation of −0.833° (refraction 34′ plus the solar radius 16′).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

#: Refraction at the horizon (34′) plus the sun's apparent radius (16′): the usual
#: definition of sunrise and sunset.
SUNRISE_ELEVATION_DEGREES = -0.833
#: Julian date of the Unix epoch and of J2000.0.
_JD_UNIX_EPOCH = 2440587.5
_JD_J2000 = 2451545.0


def solar_elevation_degrees(now: float, lat: float, lon: float) -> float:
    """The sun's geometric elevation at epoch second `now`, seen from `lat`/`lon` (east +)."""
    days = now / 86400.0 + _JD_UNIX_EPOCH - _JD_J2000
    mean_anomaly = math.radians((357.529 + 0.98560028 * days) % 360.0)
    mean_longitude = (280.459 + 0.98564736 * days) % 360.0
    ecliptic_longitude = math.radians(
        mean_longitude + 1.915 * math.sin(mean_anomaly) + 0.020 * math.sin(2 * mean_anomaly))
    obliquity = math.radians(23.439 - 0.00000036 * days)
    right_ascension = math.atan2(math.cos(obliquity) * math.sin(ecliptic_longitude),
                                 math.cos(ecliptic_longitude))
    declination = math.asin(math.sin(obliquity) * math.sin(ecliptic_longitude))
    sidereal_hours = (18.697374558 + 24.06570982441908 * days) % 24.0
    hour_angle = math.radians(sidereal_hours * 15.0 + lon) - right_ascension
    latitude = math.radians(lat)
    sine = (math.sin(latitude) * math.sin(declination)
            + math.cos(latitude) * math.cos(declination) * math.cos(hour_angle))
    return math.degrees(math.asin(max(-1.0, min(1.0, sine))))


def parse_day_hours(text: str) -> tuple[int, int] | None:
    """`"07:00-22:00"` → minutes after midnight `(420, 1320)`; None when malformed.

    The end may be before the start (`"20:00-06:00"`: a day that spans midnight);
    equal ends are refused because they say nothing about which side is day.
    """
    start_text, sep, end_text = text.partition("-")
    if not sep:
        return None
    start, end = _minutes(start_text), _minutes(end_text)
    if start is None or end is None or start == end:
        return None
    return start, end


def _minutes(text: str) -> int | None:
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        return None
    value = int(hours) * 60 + int(minutes)
    if int(hours) > 24 or int(minutes) > 59 or value > 24 * 60:
        return None
    return value


@dataclass(frozen=True, slots=True)
class BrightnessSchedule:
    """Day or night brightness (0–100) at a given instant.

    With `day_hours` (minutes after local midnight, `zone` = the hub's timezone, None =
    the system's) day is those hours; otherwise with `lat`/`lon` day is while the sun is
    up; with neither it is always day.
    """

    day: int = 80
    night: int = 20
    day_hours: tuple[int, int] | None = None
    lat: float | None = None
    lon: float | None = None
    zone: tzinfo | None = None

    def is_day(self, now: float) -> bool:
        if self.day_hours is not None:
            local = datetime.fromtimestamp(now, UTC).astimezone(self.zone)
            minute = local.hour * 60 + local.minute
            start, end = self.day_hours
            if start < end:
                return start <= minute < end
            return minute >= start or minute < end
        if self.lat is not None and self.lon is not None:
            return solar_elevation_degrees(now, self.lat, self.lon) > SUNRISE_ELEVATION_DEGREES
        return True

    def brightness_at(self, now: float) -> int:
        """The brightness to show at epoch second `now`."""
        return self.day if self.is_day(now) else self.night
