"""The `weather` component: MET Norway locationforecast 2.0 (compact).

How it keeps MET's terms *and* shows an outage promptly
-------------------------------------------------------
MET asks clients to identify themselves (`User-Agent` with contact info, else 403), to
use at most 4 decimals in coordinates, not to ask again before `Expires` (about half an
hour for this product), to revalidate with `If-Modified-Since` set to exactly the previous
`Last-Modified`, and not to poll on the full hour. `WeatherSource.poll()` runs every
`every_seconds` (default 600) and decides per poll:

1. inside a 429's `Retry-After`: no request; a failed outcome `rate_limited`;
2. a cached forecast that has not reached `Expires` yet: no request; a **success** with
   the cached forecast, re-derived for the current hour (detail `cached until …`). MET
   has just vouched for this data and told us not to ask before then, so there is
   nothing to fail and nothing to hide: the display shows valid data;
3. within `HOUR_GUARD_SECONDS` of a full hour, with a forecast cached: the request waits
   for the next poll, and the outcome repeats the last real verdict (never turns a
   failure into a success);
4. otherwise a real request (conditional when a `Last-Modified` is known): 200/203 →
   success with the new forecast, 304 → success with the cached one, anything else → a
   failed outcome at once.

Once `Expires` has passed, every poll is a real request until one succeeds and MET
hands out a new `Expires`: a MET outage is therefore reported at the first poll after
the cached forecast expires (at most MET's cache lifetime, about 30 minutes, plus one
`every_seconds` after it began; never the hour-long silence of a cache that swallows
errors), and then as a failure on *every* poll, so the health machine counts real
consecutive failures and alerts after `failures_before_alert` of them. With the
defaults (`every_seconds` 600, 3 failures) the first failed outcome comes at most
30 + 10 minutes after MET went down and the alert 20 minutes later. A poll inside
`Expires` costs MET nothing, so a smaller `every_seconds` (e.g. 120) shortens both
without adding a single request while MET is healthy: `every_seconds` is how often we
look, `Expires` how often we ask. The rejected alternative, a conditional request on
every poll while the cache is fresh, would notice sooner but asks MET before `Expires`,
which its terms ask clients not to do; a forecast MET itself declared valid is not an
outage of ours.

`Expires` is taken relative to MET's `Date` header (lifetime = Expires − Date), so a Pi
whose clock is off does not hammer MET or wait for hours.

Failed outcomes still carry the cached forecast (re-derived for now) in `data` when one
exists; `Forecast.fetched_at` is when MET last confirmed it (200 or 304), so the display
can mark it stale. Error types: `timeout`, `connect`, `tls`, `error`, `http_403` (with a
hint about `user_agent`), `http_429`, `rate_limited`, `http_<status>`, `bad_json`,
`schema`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any

import requests

from hub.sources.data import Forecast
from hub.sources.ratelimit import RateGate, clock_time, parse_http_time, retry_at
from hub.sources.table import Table
from machines import Outcome

log = logging.getLogger(__name__)

COMPONENT = "weather"
DEFAULT_ENDPOINT = "https://api.met.no/weatherapi/locationforecast/2.0/compact"
#: The forecast changes about once an hour and MET's Expires is ~30 min: polling more
#: often than this only adds cache hits, and MET dislikes tight loops.
MIN_EVERY_SECONDS = 60.0
#: MET asks clients not to fetch on the full hour, when everyone else does: a request
#: that falls this close to hh:00:00 waits for the next poll (if there is data to show).
HOUR_GUARD_SECONDS = 90.0
#: MET rounds coordinates for caching; more decimals get clients blocked.
COORDINATE_DECIMALS = 4
_EMAIL = re.compile(r"[^@\s<>()]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}", re.IGNORECASE)
_URL = re.compile(r"https?://\S+|(?:^|[\s(<])(?:[a-z0-9-]+\.)+[a-z]{2,}(?:/\S*)?",
                  re.IGNORECASE)
_PRINTABLE = re.compile(r"^[\x20-\x7e]+$")
_USER_AGENT_HELP = ("MET Norway refuses clients that do not identify themselves (HTTP 403): "
                    "set it to an application name plus an email address or website where "
                    "MET can reach you, e.g. user_agent = \"divoom-hub/0.1 you@example.com\"")


@dataclass(frozen=True, slots=True)
class WeatherSettings:
    """`[weather]`: where the forecast is for and how to ask MET for it."""

    lat: float
    lon: float
    user_agent: str
    endpoint: str = DEFAULT_ENDPOINT
    every_seconds: float = 600.0
    timeout_seconds: float = 10.0

    def params(self) -> dict[str, str]:
        """`lat` and `lon` as sent: at most 4 decimals, no trailing zeros."""
        return {"lat": _coordinate(self.lat), "lon": _coordinate(self.lon)}

    @classmethod
    def from_table(cls, table: Mapping[str, Any], path: Path) -> WeatherSettings:
        """Validate `[weather]`; errors name the file and the key."""
        t = Table(path, "weather", table)
        t.only_keys({"endpoint", "lat", "lon", "user_agent", "every_seconds",
                     "timeout_seconds"})
        if "user_agent" not in table:
            raise t.error("user_agent", f"required, but missing. {_USER_AGENT_HELP}")
        user_agent = t.string("user_agent").strip()
        if not _PRINTABLE.match(user_agent):
            raise t.expected("user_agent", "a non-empty line of plain ASCII text", user_agent)
        if not (_EMAIL.search(user_agent) or _URL.search(user_agent)):
            raise t.error("user_agent", f"{user_agent!r} has no contact info. "
                                        f"{_USER_AGENT_HELP}")
        return cls(
            lat=t.number("lat", minimum=-90.0, maximum=90.0),
            lon=t.number("lon", minimum=-180.0, maximum=180.0),
            user_agent=user_agent,
            endpoint=t.url("endpoint", DEFAULT_ENDPOINT),
            every_seconds=t.number("every_seconds", 600.0, minimum=MIN_EVERY_SECONDS),
            timeout_seconds=t.number("timeout_seconds", 10.0, minimum=0.1, maximum=120.0))


def _coordinate(value: float) -> str:
    text = f"{value:.{COORDINATE_DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@dataclass(frozen=True, slots=True)
class Sample:
    """One timeseries entry of the compact forecast."""

    at: float
    temperature_c: float
    wind_speed_ms: float | None
    symbol_1h: str | None
    precipitation_1h_mm: float | None
    symbol_6h: str | None

    def symbol(self) -> str | None:
        return self.symbol_1h or self.symbol_6h


@dataclass(frozen=True, slots=True)
class ForecastDocument:
    """What a 200 told us, kept until the next one (304s revalidate it)."""

    samples: tuple[Sample, ...]
    updated_at: float | None


class SchemaError(ValueError):
    """The body is JSON but not the locationforecast compact shape."""


def parse_compact(body: Any) -> ForecastDocument:
    """The compact GeoJSON → samples in time order; raises `SchemaError`."""
    properties = body.get("properties") if isinstance(body, dict) else None
    series = properties.get("timeseries") if isinstance(properties, dict) else None
    if not isinstance(series, list) or not series:
        raise SchemaError("no properties.timeseries list")
    meta = properties.get("meta") if isinstance(properties, dict) else None
    updated_text = meta.get("updated_at") if isinstance(meta, dict) else None
    updated_at = _iso_epoch(updated_text) if isinstance(updated_text, str) else None
    samples: list[Sample] = []
    for entry in series:
        data = entry.get("data") if isinstance(entry, dict) else None
        time_text = entry.get("time") if isinstance(entry, dict) else None
        at = _iso_epoch(time_text) if isinstance(time_text, str) else None
        details = _dig(data, "instant", "details")
        temperature = _float(details, "air_temperature")
        if at is None or temperature is None:
            raise SchemaError(f"timeseries entry {len(samples)} lacks a time or "
                              "instant.details.air_temperature")
        samples.append(Sample(
            at=at, temperature_c=temperature, wind_speed_ms=_float(details, "wind_speed"),
            symbol_1h=_string(_dig(data, "next_1_hours", "summary", "symbol_code")),
            precipitation_1h_mm=_float(_dig(data, "next_1_hours", "details"),
                                       "precipitation_amount"),
            symbol_6h=_string(_dig(data, "next_6_hours", "summary", "symbol_code"))))
    samples.sort(key=lambda s: s.at)
    if not any(s.symbol() for s in samples):
        raise SchemaError("no entry has a next_1_hours or next_6_hours symbol_code")
    return ForecastDocument(samples=tuple(samples), updated_at=updated_at)


def derive(document: ForecastDocument, now: float, zone: tzinfo | None,
           fetched_at: float) -> Forecast:
    """The forecast as the display needs it at `now`.

    Current values come from the last entry at or before `now` (the first one if all
    lie ahead); today's high/low from the entries on `now`'s date in `zone` (None = the
    system's zone).
    """
    samples = document.samples
    current = next((s for s in reversed(samples) if s.at <= now), samples[0])
    ahead = samples[samples.index(current):]
    # The hour ahead; far-out entries only have next_6_hours; past the end, the last one.
    symbol = next((code for s in ahead if (code := s.symbol())), None) \
        or next(code for s in reversed(samples) if (code := s.symbol()))
    today = _local_date(now, zone)
    temperatures = [s.temperature_c for s in samples if _local_date(s.at, zone) == today]
    return Forecast(
        fetched_at=fetched_at, temperature_c=current.temperature_c, symbol=symbol,
        high_c=max(temperatures) if temperatures else None,
        low_c=min(temperatures) if temperatures else None,
        precipitation_mm=current.precipitation_1h_mm, wind_speed_ms=current.wind_speed_ms,
        updated_at=document.updated_at)


def _local_date(at: float, zone: tzinfo | None) -> date:
    return datetime.fromtimestamp(at, UTC).astimezone(zone).date()


class WeatherSource:
    """Polls MET for `[weather]`, with the cache, `Last-Modified` and `Expires` it keeps.

    `poll()` is what `poll_outcomes` runs on a worker thread (never two at once). `zone`
    is the hub's timezone (`Config.hub.zone()`; None = the system's).
    """

    def __init__(self, session: requests.Session, settings: WeatherSettings,
                 clock: Callable[[], float], zone: tzinfo | None = None) -> None:
        self.session = session
        self.settings = settings
        self.clock = clock
        self.zone = zone
        self.gate = RateGate()
        self.document: ForecastDocument | None = None
        self.confirmed_at = 0.0  # when MET last vouched for `document` (200 or 304)
        self.last_modified: str | None = None
        self.expires_at: float | None = None
        self.last_failure: Outcome | None = None
        self.warned_deprecated = False

    def poll(self) -> Outcome:
        now = self.clock()
        wait = self.gate.remaining(now)
        if wait > 0:
            return self._failure(now, now, "rate_limited",
                                 f"MET rate limit: not asking again before "
                                 f"{clock_time(now + wait)} ({wait:.0f} s left)")
        if self.document is not None and self.expires_at is not None and now < self.expires_at:
            return Outcome.success(COMPONENT, now, detail=f"cached until "
                                   f"{clock_time(self.expires_at)}", data=self._cached(now))
        if self.document is not None and _near_full_hour(now):
            if self.last_failure is not None:
                return Outcome.failure(COMPONENT, now, self.last_failure.error_type,
                                       self.last_failure.detail + " (retry deferred off the "
                                       "full hour)", data=self._cached(now))
            return Outcome.success(COMPONENT, now, detail="refresh deferred off the full hour",
                                   data=self._cached(now))
        outcome = self._fetch(now)
        self.last_failure = None if outcome.ok else outcome
        return outcome

    def _fetch(self, started: float) -> Outcome:
        headers = {"User-Agent": self.settings.user_agent, "Accept": "application/json"}
        if self.last_modified is not None and self.document is not None:
            headers["If-Modified-Since"] = self.last_modified  # exactly as MET sent it
        timeout = self.settings.timeout_seconds
        try:
            response = self.session.get(self.settings.endpoint, params=self.settings.params(),
                                        headers=headers, timeout=timeout)
        except requests.Timeout:
            return self._failure(self.clock(), started, "timeout",
                                 f"MET did not answer within {timeout:g} s")
        except requests.exceptions.SSLError:
            return self._failure(self.clock(), started, "tls",
                                 "TLS handshake or certificate failed")
        except requests.ConnectionError as err:
            return self._failure(self.clock(), started, "connect",
                                 f"cannot reach MET: {_connect_detail(err)}")
        except requests.RequestException as err:
            return self._failure(self.clock(), started, "error", type(err).__name__)
        with response:
            return self._answer(response, started)

    def _answer(self, response: requests.Response, started: float) -> Outcome:
        now = self.clock()
        status = response.status_code
        if status == 304:
            if self.document is None:
                self.last_modified = None
                return self._failure(now, started, "http_304",
                                     "304 Not Modified without a cached forecast")
            self._revalidated(response, now)
            return Outcome.success(COMPONENT, now, latency_seconds=now - started,
                                   detail="not modified", data=self._cached(now))
        if status == 429:
            until = retry_at(response.headers, now)
            self.gate.block(until)
            log.warning("MET rate limit hit; no weather requests before %s", clock_time(until))
            return self._failure(now, started, "http_429", f"429 Too Many Requests: waiting "
                                                           f"until {clock_time(until)}")
        if status == 403:
            return self._failure(now, started, "http_403",
                                 "403 Forbidden: MET refuses this client; check that [weather] "
                                 "user_agent names the app and a contact (email or website)")
        if status not in (200, 203):
            reason = f" {response.reason}" if response.reason else ""
            return self._failure(now, started, f"http_{status}", f"MET answered {status}{reason}")
        if status == 203 and not self.warned_deprecated:
            self.warned_deprecated = True
            log.warning("MET answered 203: locationforecast/2.0 is deprecated or in beta; "
                        "see https://api.met.no/weatherapi/locationforecast/2.0/documentation")
        try:
            body = response.json()
        except ValueError:
            return self._failure(now, started, "bad_json", "MET's answer is not JSON")
        try:
            document = parse_compact(body)
        except SchemaError as err:
            return self._failure(now, started, "schema", f"unexpected forecast: {err}")
        self.document = document
        self.last_modified = response.headers.get("Last-Modified")
        self._revalidated(response, now)
        return Outcome.success(COMPONENT, now, latency_seconds=now - started,
                               data=self._cached(now))

    def _revalidated(self, response: requests.Response, now: float) -> None:
        """MET vouched for the cached forecast: note when, and until when."""
        self.confirmed_at = now
        last_modified = response.headers.get("Last-Modified")
        if last_modified:
            self.last_modified = last_modified
        expires = parse_http_time(response.headers.get("Expires"))
        served = parse_http_time(response.headers.get("Date"))
        if expires is None:
            self.expires_at = None
        elif served is not None:
            self.expires_at = now + max(0.0, expires - served)
        else:
            self.expires_at = expires

    def _cached(self, now: float) -> Forecast | None:
        if self.document is None:
            return None
        return derive(self.document, now, self.zone, self.confirmed_at)

    def _failure(self, now: float, started: float, error_type: str, detail: str) -> Outcome:
        latency = now - started if now > started else None
        return Outcome.failure(COMPONENT, now, error_type, detail, latency_seconds=latency,
                               data=self._cached(now))


def _near_full_hour(now: float) -> bool:
    into_hour = now % 3600.0
    return into_hour < HOUR_GUARD_SECONDS or into_hour > 3600.0 - HOUR_GUARD_SECONDS


def _iso_epoch(text: str) -> float | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo else None


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _float(details: Any, key: str) -> float | None:
    value = details.get(key) if isinstance(details, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _connect_detail(err: requests.ConnectionError) -> str:
    text = str(err)
    for marker in ("Connection refused", "Name or service not known", "No route to host",
                   "Connection reset", "Network is unreachable", "Temporary failure"):
        if marker in text:
            return marker.lower()
    return "cannot connect"
