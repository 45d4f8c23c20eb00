"""The `weather` component: MET Norway locationforecast 2.0 (compact).

How it keeps MET's terms *and* shows an outage promptly
-------------------------------------------------------
MET asks clients to identify themselves (`User-Agent` with contact info, else 403), to
use at most 4 decimals in coordinates, not to ask for a forecast again before `Expires`
(about half an hour for this product), to revalidate with `If-Modified-Since` set to
exactly the previous `Last-Modified`, and not to poll on the full hour. Every MET product
also has a `status` method beside its data method (`…/locationforecast/2.0/status` next to
`…/2.0/compact`): a small JSON document (`{"last_update": …}`) that says whether the
service is up without asking for a forecast. `WeatherSource.poll()` runs every
`every_seconds` (default 600) and decides per poll:

1. inside a 429's `Retry-After`: no request; a failed outcome `rate_limited`;
2. within `HOUR_GUARD_SECONDS` of a full hour, with a forecast cached: no request; the
   outcome repeats the last real verdict (never turns a failure into a success);
3. a cached forecast that has not reached `Expires` yet: the forecast is *not* asked
   for; a liveness probe `GET <base>/status` (same `User-Agent` and timeout) is. A 2xx
   JSON object → success with the cached forecast (re-derived for the current hour,
   detail `MET is up; cached until …`); anything else (timeout, connect, 5xx, 403, 429,
   not JSON) → a failed outcome with the precise error type, the cached forecast still
   in `data`;
4. otherwise the forecast itself (conditional when a `Last-Modified` is known): 200/203
   → success with the new forecast, 304 → success with the cached one, anything else →
   a failed outcome at once.

So every poll asks MET something and a MET outage is a failure at the first poll after
it began, and on every poll after: with the defaults (`every_seconds` 600,
`failures_before_alert` 3) the first failed outcome comes at most 10 minutes after MET
went down and the alert at the third failed poll, at most 30 minutes after
(3 × `every_seconds`; `every_seconds = 120` makes it 6). A poll that falls by the full
hour just after an outage began repeats the last success, so it can add one poll
(`every_seconds` ≥ 180; with shorter polls, at most 180 s). What MET pays for this: one
status document per poll (a few dozen bytes, no forecast computed) while the forecast is
fresh, and the forecast itself only when `Expires` has passed (mostly a 304): with the
defaults about 4 probes and 2 forecast requests an hour.

The status URL is the endpoint with its last path segment (`compact` or `complete`)
replaced by `status`. An `endpoint` that does not end in such a segment (a caching proxy
under another path, say) has no known status method: there, a poll inside `Expires`
revalidates the forecast itself with `If-Modified-Since` (304 → success), which is the
only way left to see an outage through it; point `endpoint` at MET's own path to avoid it.

`Expires` is taken relative to MET's `Date` header (lifetime = Expires − Date), so a Pi
whose clock is off does not hammer MET or wait for hours.

Failed outcomes still carry the cached forecast (re-derived for now) in `data` when one
exists; `Forecast.fetched_at` is when MET last confirmed the forecast (200 or 304; a
status probe confirms only that MET is up), so the display can mark it stale. Error
types: `timeout`, `connect`, `tls`, `too_many_redirects`, `error` (see
`hub.sources.errors`), `http_403` (with a hint about `user_agent`), `http_429`,
`rate_limited`, `http_<status>`, `bad_json`, `schema`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from hub import strict_json
from hub.settings_table import Table
from hub.sources.data import Forecast
from hub.sources.errors import request_failure
from hub.sources.json_paths import dig
from hub.sources.ratelimit import RateGate, clock_time, parse_http_time, retry_at
from hub.sources.slow import judged_for_speed, read_slow_after
from machines import Outcome

log = logging.getLogger(__name__)

COMPONENT = "weather"
DEFAULT_ENDPOINT = "https://api.met.no/weatherapi/locationforecast/2.0/compact"
#: The forecast changes about once an hour and MET's Expires is ~30 min: a poll is a
#: status probe while the forecast is fresh, and MET dislikes tight loops even on that.
MIN_EVERY_SECONDS = 60.0
#: A MET product's data methods; its `status` method sits beside them.
DATA_METHODS = ("compact", "complete")
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
    slow_after_seconds: float = 0.0  # 0 = off; else a slower success is a failure `slow`

    def params(self) -> dict[str, str]:
        """`lat` and `lon` as sent: at most 4 decimals, no trailing zeros."""
        return {"lat": _coordinate(self.lat), "lon": _coordinate(self.lon)}

    @classmethod
    def from_table(cls, table: Mapping[str, Any], path: Path) -> WeatherSettings:
        """Validate `[weather]`; errors name the file and the key."""
        t = Table(path, "[weather]", table)
        t.only_keys({"endpoint", "lat", "lon", "user_agent", "every_seconds",
                     "timeout_seconds", "slow_after_seconds"})
        if "user_agent" not in table:
            raise t.error("user_agent", f"required, but missing. {_USER_AGENT_HELP}")
        user_agent = t.string("user_agent").strip()
        if not _PRINTABLE.match(user_agent):
            raise t.expected("user_agent", "a non-empty line of plain ASCII text", user_agent)
        if not (_EMAIL.search(user_agent) or _URL.search(user_agent)):
            raise t.error("user_agent", f"{user_agent!r} has no contact info. "
                                        f"{_USER_AGENT_HELP}")
        timeout = t.number("timeout_seconds", 10.0, minimum=0.1, maximum=120.0)
        return cls(
            lat=t.number("lat", minimum=-90.0, maximum=90.0),
            lon=t.number("lon", minimum=-180.0, maximum=180.0),
            user_agent=user_agent,
            endpoint=t.url("endpoint", DEFAULT_ENDPOINT),
            every_seconds=t.number("every_seconds", 600.0, minimum=MIN_EVERY_SECONDS),
            timeout_seconds=timeout, slow_after_seconds=read_slow_after(t, timeout))


def status_url(endpoint: str) -> str | None:
    """`…/2.0/status` for a `…/2.0/compact` (or `complete`) endpoint; None for any other."""
    parts = urlsplit(endpoint)
    head, _, method = parts.path.rstrip("/").rpartition("/")
    if method not in DATA_METHODS:
        return None
    return urlunsplit(parts._replace(path=f"{head}/status", fragment=""))


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
        details = dig(data, "instant", "details")
        temperature = _float(details, "air_temperature")
        if at is None or temperature is None:
            raise SchemaError(f"timeseries entry {len(samples)} lacks a time or "
                              "instant.details.air_temperature")
        samples.append(Sample(
            at=at, temperature_c=temperature, wind_speed_ms=_float(details, "wind_speed"),
            symbol_1h=_string(dig(data, "next_1_hours", "summary", "symbol_code")),
            precipitation_1h_mm=_float(dig(data, "next_1_hours", "details"),
                                       "precipitation_amount"),
            symbol_6h=_string(dig(data, "next_6_hours", "summary", "symbol_code"))))
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
    is the hub's timezone (`Config.hub.zone()`; None = the system's). `status_url` is
    the liveness probe used while the forecast is fresh (None: revalidate the forecast).
    """

    def __init__(self, session: requests.Session, settings: WeatherSettings,
                 clock: Callable[[], float], zone: tzinfo | None = None) -> None:
        self.session = session
        self.settings = settings
        self.clock = clock
        self.zone = zone
        self.status_url = status_url(settings.endpoint)
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
        if self.document is not None and _near_full_hour(now):
            return self._deferred(now)
        if self._is_fresh(now) and self.status_url is not None:
            outcome = self._probe(self.status_url, now)
        else:  # expired, or no status method known: ask for the forecast (conditionally)
            outcome = self._fetch(now)
        outcome = judged_for_speed(outcome, self.settings.slow_after_seconds)
        self.last_failure = None if outcome.ok else outcome
        return outcome

    def _is_fresh(self, now: float) -> bool:
        return self.document is not None and self.expires_at is not None \
            and now < self.expires_at

    def _deferred(self, now: float) -> Outcome:
        """No request by the full hour: repeat the last verdict, with the cached forecast."""
        if self.last_failure is not None:
            return Outcome.failure(COMPONENT, now, self.last_failure.error_type,
                                   self.last_failure.detail + " (retry deferred off the "
                                   "full hour)", data=self._cached(now))
        what = "check" if self._is_fresh(now) else "refresh"
        return Outcome.success(COMPONENT, now, detail=f"{what} deferred off the full hour",
                               data=self._cached(now))

    def _probe(self, url: str, started: float) -> Outcome:
        """Is MET serving? Asks the product's status method, never the forecast."""
        timeout = self.settings.timeout_seconds
        try:
            response = self.session.get(url, timeout=timeout, headers={
                "User-Agent": self.settings.user_agent, "Accept": "application/json"})
        except requests.RequestException as err:
            return self._failure(self.clock(), started,
                                 *request_failure(err, timeout, peer="MET"))
        with response:
            now = self.clock()
            refused = self._refused(response, now, started)
            if refused is not None:
                return refused
            status = response.status_code
            if not 200 <= status < 300:
                reason = f" {response.reason}" if response.reason else ""
                return self._failure(now, started, f"http_{status}",
                                     f"MET status answered {status}{reason}")
            if status == 203:
                self._warn_deprecated()
            try:
                body = strict_json.loads(response.content)
            except ValueError:
                return self._failure(now, started, "bad_json",
                                     "MET's status answer is not JSON")
        if not isinstance(body, dict):
            return self._failure(now, started, "schema",
                                 "MET's status answer is not a JSON object")
        until = f"; cached until {clock_time(self.expires_at)}" if self.expires_at else ""
        return Outcome.success(COMPONENT, now, latency_seconds=now - started,
                               detail=f"MET is up{until}", data=self._cached(now))

    def _fetch(self, started: float) -> Outcome:
        headers = {"User-Agent": self.settings.user_agent, "Accept": "application/json"}
        if self.last_modified is not None and self.document is not None:
            headers["If-Modified-Since"] = self.last_modified  # exactly as MET sent it
        timeout = self.settings.timeout_seconds
        try:
            response = self.session.get(self.settings.endpoint, params=self.settings.params(),
                                        headers=headers, timeout=timeout)
        except requests.RequestException as err:
            return self._failure(self.clock(), started,
                                 *request_failure(err, timeout, peer="MET"))
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
        refused = self._refused(response, now, started)
        if refused is not None:
            return refused
        if status not in (200, 203):
            reason = f" {response.reason}" if response.reason else ""
            return self._failure(now, started, f"http_{status}", f"MET answered {status}{reason}")
        if status == 203:
            self._warn_deprecated()
        try:
            body = strict_json.loads(response.content)
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

    def _refused(self, response: requests.Response, now: float,
                 started: float) -> Outcome | None:
        """MET's 429 (closes the gate until `Retry-After`) and 403 (who are we?); else None."""
        if response.status_code == 429:
            until = retry_at(response.headers, now)
            self.gate.block(until)
            log.warning("MET rate limit hit; no weather requests before %s", clock_time(until))
            return self._failure(now, started, "http_429", f"429 Too Many Requests: waiting "
                                                           f"until {clock_time(until)}")
        if response.status_code == 403:
            return self._failure(now, started, "http_403",
                                 "403 Forbidden: MET refuses this client; check that [weather] "
                                 "user_agent names the app and a contact (email or website)")
        return None

    def _warn_deprecated(self) -> None:
        if not self.warned_deprecated:
            self.warned_deprecated = True
            log.warning("MET answered 203: locationforecast/2.0 is deprecated or in beta; "
                        "see https://api.met.no/weatherapi/locationforecast/2.0/documentation")

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


def _float(details: Any, key: str) -> float | None:
    value = details.get(key) if isinstance(details, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None

