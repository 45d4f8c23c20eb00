"""A fake MET Norway locationforecast 2.0: `GET /weatherapi/locationforecast/2.0/compact`
and its status method `GET /weatherapi/locationforecast/2.0/status`.

The forecast route answers with the real compact GeoJSON shape (`properties.meta.updated_at`,
`properties.timeseries[].data.instant.details`, `next_1_hours`, `next_6_hours`,
`next_12_hours`), the caching headers MET sends (`Date`, `Expires`, `Last-Modified`),
304 when `If-Modified-Since` is exactly the current `Last-Modified`, 403 to a client
whose `User-Agent` has no contact info, 400 for coordinates with more than 4 decimals,
203 when told the product is deprecated, and whatever raw replies a test queues (429,
5xx, malformed JSON) or sets as an `outage` for every request. The status route answers
as MET's does: `{"last_update": "<ISO time of the current model run>"}` as JSON, 403 to
an anonymous client, replies queued with `queue_status`, and the same `outage` (MET down
is down for both). The forecast can be served under another path (`forecast_path`, a
proxy's, say) while the status stays where MET has it. `now` is the fake's clock
(virtual, set by the test).
"""

from __future__ import annotations

import re
from collections import deque
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from tests.fakes.http_server import Recorded, RecordingServer, Reply

PATH = "/weatherapi/locationforecast/2.0/compact"
STATUS_PATH = "/weatherapi/locationforecast/2.0/status"
_CONTACT = re.compile(r"@|https?://|\w\.\w{2,}")


def http_date(epoch: float) -> str:
    return format_datetime(datetime.fromtimestamp(epoch, UTC), usegmt=True)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def compact_document(start: float, temperatures: list[float], *, lat: float = 59.9139,
                     lon: float = 10.7522, updated_at: float | None = None,
                     symbols: list[str] | None = None, rain: list[float] | None = None,
                     wind: list[float] | None = None, six_hourly_tail: int = 2) -> dict[str, Any]:
    """A compact forecast: hourly entries from `start`, then a few 6-hourly ones."""
    symbols = symbols or ["partlycloudy_day"] * len(temperatures)
    rain = rain or [0.0] * len(temperatures)
    wind = wind or [3.4] * len(temperatures)
    series: list[dict[str, Any]] = []
    for hour, temperature in enumerate(temperatures):
        series.append({"time": iso(start + hour * 3600), "data": {
            "instant": {"details": {
                "air_pressure_at_sea_level": 1013.2, "air_temperature": temperature,
                "cloud_area_fraction": 54.7, "relative_humidity": 81.3,
                "wind_from_direction": 212.4, "wind_speed": wind[hour]}},
            "next_12_hours": {"summary": {"symbol_code": "cloudy"}, "details": {}},
            "next_1_hours": {"summary": {"symbol_code": symbols[hour]},
                             "details": {"precipitation_amount": rain[hour]}},
            "next_6_hours": {"summary": {"symbol_code": "rain"},
                             "details": {"precipitation_amount": 1.2}}}})
    last = start + (len(temperatures) - 1) * 3600
    for step in range(1, six_hourly_tail + 1):
        series.append({"time": iso(last + step * 6 * 3600), "data": {
            "instant": {"details": {"air_temperature": -20.0, "wind_speed": 1.0}},
            "next_6_hours": {"summary": {"symbol_code": "clearsky_night"},
                             "details": {"precipitation_amount": 0.0}}}})
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat, 23]},
        "properties": {
            "meta": {"updated_at": iso(updated_at if updated_at is not None else start),
                     "units": {"air_pressure_at_sea_level": "hPa", "air_temperature": "celsius",
                               "cloud_area_fraction": "%", "precipitation_amount": "mm",
                               "relative_humidity": "%", "wind_from_direction": "degrees",
                               "wind_speed": "m/s"}},
            "timeseries": series}}


class FakeMet(RecordingServer):
    def __init__(self, now: float, document: dict[str, Any],
                 lifetime_seconds: float = 1800.0, forecast_path: str = PATH) -> None:
        super().__init__()
        self.now = now
        self.forecast_path = forecast_path
        self.url = self.base_url + forecast_path
        self.status_url = self.base_url + STATUS_PATH
        self.lifetime_seconds = lifetime_seconds
        self.deprecated = False
        self.queued: deque[Reply] = deque()  # for the next forecast requests
        self.queued_status: deque[Reply] = deque()  # for the next status requests
        self.outage: Reply | None = None  # while set, every request gets this reply
        self.publish(document)

    def publish(self, document: dict[str, Any]) -> None:
        """A new model run: new body and a new `Last-Modified` (the fake's `now`)."""
        self.document = document
        self.published_at = self.now
        self.last_modified = http_date(self.now)

    def queue(self, reply: Reply) -> None:
        self.queued.append(reply)

    def queue_status(self, reply: Reply) -> None:
        self.queued_status.append(reply)

    @property
    def forecast_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == self.forecast_path]

    @property
    def status_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == STATUS_PATH]

    def reply(self, request: Recorded) -> Reply:
        if request.method != "GET" or request.path not in (self.forecast_path, STATUS_PATH):
            return Reply(404, b"Not Found", {"Content-Type": "text/plain"})
        is_status = request.path == STATUS_PATH
        queued = self.queued_status if is_status else self.queued
        if queued:
            return queued.popleft()
        if self.outage is not None:
            return self.outage
        agent = request.header("User-Agent") or ""
        if not _CONTACT.search(agent) or agent.startswith("python-requests"):
            return Reply(403, b"<html><body>403 Forbidden: identify yourself</body></html>",
                         {"Content-Type": "text/html"})
        if is_status:
            return Reply.json(200, {"last_update": iso(self.published_at)},
                              {"Date": http_date(self.now)})
        for name in ("lat", "lon"):
            value = request.query.get(name, "")
            if not re.fullmatch(r"-?\d{1,3}(\.\d{1,4})?", value):
                return Reply(400, f"400 Bad Request: {name}={value!r}".encode(),
                             {"Content-Type": "text/plain"})
        headers = {"Date": http_date(self.now), "Last-Modified": self.last_modified,
                   "Expires": http_date(self.now + self.lifetime_seconds),
                   "Vary": "Accept-Encoding, Origin"}
        if request.header("If-Modified-Since") == self.last_modified:
            return Reply(304, b"", headers)
        return Reply.json(203 if self.deprecated else 200, self.document, headers)
