"""A fake Entur JourneyPlanner v3: `POST /journey-planner/v3/graphql`, real shapes.

It reads the aliased `quay(id: $var)` fields and the `numberOfDepartures` / `timeRange`
arguments of the query it receives, resolves the variables, and answers like Entur:
`{"data": {alias: {id, name, estimatedCalls: [...]}}}`, `null` for a quay it does not
know, a GraphQL `errors` entry whose `path` names the alias for a broken quay, or an
error for the whole query. Times are written as Entur does, ISO 8601 with the Oslo
offset. Tests can queue raw replies (429 with Retry-After, 5xx, malformed JSON) and hang.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.fakes.http_server import Recorded, RecordingServer, Reply

PATH = "/journey-planner/v3/graphql"
OSLO = ZoneInfo("Europe/Oslo")
_ALIAS = re.compile(r"(\w+)\s*:\s*quay\s*\(\s*id\s*:\s*(\$\w+|\"[^\"]*\")\s*\)")
_ARG = r"{name}\s*:\s*(\$\w+|\d+)"


def entur_time(epoch: float) -> str:
    """`2024-01-15T08:12:00+01:00`: how Entur writes a DateTime."""
    return datetime.fromtimestamp(epoch, OSLO).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Call:
    """One estimated call, times relative to the fake's `now` when it answers."""

    line: str
    destination: str
    aimed_in_minutes: float
    delay_minutes: float = 0.0
    realtime: bool = True
    cancelled: bool = False

    def to_json(self, now: float) -> dict[str, Any]:
        aimed = now + self.aimed_in_minutes * 60
        expected = aimed + (self.delay_minutes * 60 if self.realtime else 0)
        return {
            "expectedDepartureTime": entur_time(expected),
            "aimedDepartureTime": entur_time(aimed),
            "realtime": self.realtime,
            "cancellation": self.cancelled,
            "destinationDisplay": {"frontText": self.destination},
            "serviceJourney": {"line": {"publicCode": self.line}},
        }


class FakeEntur(RecordingServer):
    def __init__(self, now: float) -> None:
        super().__init__()
        self.now = now
        self.url = self.base_url + PATH
        self.quays: dict[str, tuple[str, list[Call]]] = {}  # id → (stop name, calls)
        self.broken_quays: dict[str, str] = {}  # id → GraphQL error message for that field
        self.query_error: str | None = None  # an error for the whole query (data null)
        self.queued: deque[Reply] = deque()  # raw replies served before the normal ones

    def add_quay(self, quay_id: str, name: str, calls: list[Call]) -> None:
        self.quays[quay_id] = (name, calls)

    def queue(self, reply: Reply) -> None:
        self.queued.append(reply)

    def queue_429(self, retry_after: str | None = None,
                  expiry_time: str | None = None) -> None:
        headers = {"Content-Type": "application/json", "Rate-Limit-Allowed": "1000",
                   "Rate-Limit-Available": "0", "Rate-Limit-Range": "per-minute"}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        if expiry_time is not None:
            headers["Rate-Limit-Expiry-Time"] = expiry_time
        self.queue(Reply(429, b'{"message":"Too Many Requests"}', headers))

    @property
    def graphql_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == PATH]

    def reply(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path != PATH:
            return Reply(404, b"Not Found", {"Content-Type": "text/plain"})
        if self.queued:
            return self.queued.popleft()
        try:
            body = request.json()
            query, variables = body["query"], body.get("variables") or {}
        except (ValueError, KeyError, TypeError):
            return Reply.json(400, {"errors": [{"message": "Invalid request body"}]})
        if self.query_error is not None:
            return Reply.json(200, {"data": None, "errors": [{
                "message": self.query_error, "locations": [{"line": 1, "column": 1}],
                "extensions": {"classification": "ValidationError"}}]})
        count = _argument(query, "numberOfDepartures", variables, default=5)
        time_range = _argument(query, "timeRange", variables, default=86400)
        data: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for alias, ref in _ALIAS.findall(query):
            quay_id = variables.get(ref[1:]) if ref.startswith("$") else ref.strip('"')
            if quay_id in self.broken_quays:
                data[alias] = None
                errors.append({"message": self.broken_quays[quay_id],
                               "locations": [{"line": 2, "column": 3}],
                               "path": [alias, "estimatedCalls"],
                               "extensions": {"classification": "DataFetchingException"}})
            elif quay_id in self.quays:
                data[alias] = self._quay(quay_id, count, time_range)
            else:
                data[alias] = None  # Entur answers an unknown quay id with null
        payload: dict[str, Any] = {"data": data}
        if errors:
            payload["errors"] = errors
        return Reply.json(200, payload, {"Rate-Limit-Allowed": "1000",
                                         "Rate-Limit-Available": "999",
                                         "Rate-Limit-Range": "per-minute"})

    def _quay(self, quay_id: str, count: int, time_range: int) -> dict[str, Any]:
        name, calls = self.quays[quay_id]
        window = [c for c in calls if 0 <= c.aimed_in_minutes * 60 <= time_range]
        window.sort(key=lambda c: c.aimed_in_minutes)
        return {"id": quay_id, "name": name,
                "estimatedCalls": [c.to_json(self.now) for c in window[:count]]}


def _argument(query: str, name: str, variables: dict[str, Any], default: int) -> int:
    match = re.search(_ARG.format(name=name), query)
    if match is None:
        return default
    token = match[1]
    return int(variables[token[1:]]) if token.startswith("$") else int(token)
