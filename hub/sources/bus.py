"""The `bus` component: departures from Entur JourneyPlanner v3 (GraphQL).

One POST per poll asks for every configured quay at once (aliases `q0`, `q1`, …), with
`ET-Client-Name` so Entur counts us as an identified client. Each quay is judged on its
own: a quay that comes back `null` (unknown id), is named by a GraphQL error, is missing,
or has calls of the wrong shape makes the whole outcome a failure (`quay`) whose detail
names that quay's label and id, while `data` still carries the working quays' departures
(`BusBoard.failed_quays` lists the broken labels) so the display keeps showing them. A
broken stop is never hidden behind a working one.

Error types (`Outcome.error_type`)::

    timeout        no answer within timeout_seconds
    connect        refused, unreachable, DNS
    tls            TLS handshake or certificate
    too_many_redirects  a redirect loop
    error          any other requests failure (named in the detail)
    http_<status>  any non-200 answer, e.g. http_503, http_400 …
    http_429       Entur's quota: the gate closes until Retry-After /
                   Rate-Limit-Expiry-Time, and counts as a failure
    rate_limited   a poll inside that period: no request is made at all
    bad_json       the body is not JSON
    graphql        an `errors` array not tied to one quay (the query as a whole failed)
    schema         the JSON is not the expected shape (no `data` object)
    quay           one or more quays broken; the others' departures are in `data`

Cancelled calls are skipped; every time is parsed with its zone offset into epoch
seconds, so the display counts down between polls from `Departure.departs_at`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from hub import strict_json
from hub.settings_table import Table
from hub.sources.data import BusBoard, Departure
from hub.sources.errors import request_failure
from hub.sources.json_paths import dig
from hub.sources.ratelimit import RateGate, clock_time, retry_at
from hub.sources.slow import judged_for_speed, read_slow_after
from machines import Outcome

log = logging.getLogger(__name__)

COMPONENT = "bus"
DEFAULT_ENDPOINT = "https://api.entur.io/journey-planner/v3/graphql"
#: Entur's quota for identified clients is 1000 requests a minute, but a dashboard gains
#: nothing from polling faster than the minute its countdown shows.
MIN_EVERY_SECONDS = 10.0
#: Cancelled calls are dropped after the query, so ask for a few more than are shown.
SPARE_CALLS = 3
#: With a line or destination filter, most calls may be filtered out locally: ask for more
#: (Entur's filter takes line *ids*, not the public codes people know).
FILTER_FACTOR = 5
MAX_CALLS = 100
#: Entur asks for `<company>-<application>`, lowercase, e.g. `acme-kitchendisplay`.
_CLIENT_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*-[a-z0-9][a-z0-9_-]*$")
_QUAY_ID = re.compile(r"^[A-Z]{3}:Quay:[0-9]+$")
MAX_LABEL_CHARS = 4

_CALLS = """
  id
  name
  estimatedCalls(numberOfDepartures: $n, timeRange: $range, omitNonBoarding: true) {
    expectedDepartureTime
    aimedDepartureTime
    realtime
    cancellation
    destinationDisplay { frontText }
    serviceJourney { line { publicCode } }
  }
"""


@dataclass(frozen=True, slots=True)
class BusSettings:
    """`[bus]`: which quays to show and how to ask Entur for them."""

    client_name: str
    quays: tuple[str, ...]
    labels: tuple[str, ...]
    endpoint: str = DEFAULT_ENDPOINT
    departures: int = 4  # shown per quay
    window_minutes: int = 120  # look-ahead (Entur's timeRange)
    lines: tuple[str, ...] = ()  # public codes to keep; () keeps all
    destinations: tuple[str, ...] = ()  # substrings of the front text to keep; () keeps all
    every_seconds: float = 60.0
    timeout_seconds: float = 10.0
    slow_after_seconds: float = 0.0  # 0 = off; else a slower success is a failure `slow`

    def label_of(self, index: int) -> str:
        return f"{self.labels[index]} ({self.quays[index]})"

    def calls_to_ask(self) -> int:
        wanted = self.departures * (FILTER_FACTOR if self.lines or self.destinations else 1)
        return min(wanted + SPARE_CALLS, MAX_CALLS)

    def keeps(self, line: str, destination: str) -> bool:
        if self.lines and line not in self.lines:
            return False
        folded = destination.casefold()
        return not self.destinations or any(
            wanted.casefold() in folded for wanted in self.destinations)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], path: Path) -> BusSettings:
        """Validate `[bus]`; errors name the file and the key."""
        t = Table(path, "[bus]", table)
        t.only_keys({"endpoint", "client_name", "quays", "labels", "departures",
                     "window_minutes", "lines", "destinations", "every_seconds",
                     "timeout_seconds", "slow_after_seconds"})
        client_name = t.string("client_name")
        if not _CLIENT_NAME.match(client_name):
            raise t.expected(
                "client_name", "'<company>-<application>' in lowercase, e.g. "
                "'acme-kitchendashboard' (Entur sends it as ET-Client-Name and throttles "
                "clients it cannot identify)", client_name)
        quays = t.strings("quays")
        if not quays:
            raise t.expected("quays", "at least one quay id such as 'NSR:Quay:7184'", [])
        for quay in quays:
            if not _QUAY_ID.match(quay):
                raise t.expected("quays", "quay ids such as 'NSR:Quay:7184' (find them on "
                                          "stoppested.entur.org)", quay)
        if len(set(quays)) != len(quays):
            raise t.expected("quays", "each quay once", list(quays))
        labels = t.strings("labels")
        if len(labels) != len(quays):
            raise t.error("labels", f"expected one label per quay ({len(quays)} quays), got "
                                    f"{len(labels)} labels")
        for label in labels:
            if not label.strip() or len(label) > MAX_LABEL_CHARS:
                raise t.expected("labels", f"short labels of 1 to {MAX_LABEL_CHARS} "
                                           "characters (drawn beside each departure)", label)
        every = t.number("every_seconds", 60.0, minimum=MIN_EVERY_SECONDS)
        timeout = t.number("timeout_seconds", 10.0, minimum=0.1, maximum=120.0)
        return cls(
            client_name=client_name, quays=quays, labels=labels,
            endpoint=t.url("endpoint", DEFAULT_ENDPOINT),
            departures=t.integer("departures", 4, minimum=1, maximum=20),
            window_minutes=t.integer("window_minutes", 120, minimum=1, maximum=24 * 60),
            lines=t.strings("lines", ()), destinations=t.strings("destinations", ()),
            every_seconds=every, timeout_seconds=timeout,
            slow_after_seconds=read_slow_after(t, timeout))


def build_query(settings: BusSettings) -> dict[str, Any]:
    """The GraphQL request body: one aliased `quay` field per configured quay."""
    aliases = [f"q{i}" for i in range(len(settings.quays))]
    params = ", ".join(["$n: Int!", "$range: Int!", *(f"${a}: String!" for a in aliases)])
    fields = "\n".join(f"  {a}: quay(id: ${a}) {{ ...calls }}" for a in aliases)
    query = f"query Departures({params}) {{\n{fields}\n}}\nfragment calls on Quay {{{_CALLS}}}"
    variables: dict[str, Any] = {"n": settings.calls_to_ask(),
                                 "range": settings.window_minutes * 60}
    variables.update(zip(aliases, settings.quays, strict=True))
    return {"query": query, "variables": variables, "operationName": "Departures"}


class BusSource:
    """Polls Entur for `[bus]`; remembers only a 429's "not before" between polls.

    `poll()` is what `poll_outcomes` runs on a worker thread (never two at once).
    """

    def __init__(self, session: requests.Session, settings: BusSettings,
                 clock: Callable[[], float]) -> None:
        self.session = session
        self.settings = settings
        self.clock = clock
        self.gate = RateGate()

    def poll(self) -> Outcome:
        started = self.clock()
        wait = self.gate.remaining(started)
        if wait > 0:
            return Outcome.failure(
                COMPONENT, started, "rate_limited",
                f"Entur rate limit: not asking again before {clock_time(started + wait)} "
                f"({wait:.0f} s left)")
        return poll_bus(self.session, self.settings, self.clock, self.gate)


def poll_bus(session: requests.Session, settings: BusSettings, clock: Callable[[], float],
             gate: RateGate | None = None) -> Outcome:
    """One request for all quays; never raises. A 429 closes `gate` until its expiry."""
    started = clock()

    def failed(error_type: str, detail: str, data: BusBoard | None = None) -> Outcome:
        now = clock()
        return Outcome.failure(COMPONENT, now, error_type, detail,
                               latency_seconds=now - started, data=data)

    try:
        response = session.post(
            settings.endpoint, json=build_query(settings), timeout=settings.timeout_seconds,
            headers={"ET-Client-Name": settings.client_name, "Accept": "application/json"})
    except requests.RequestException as err:
        return failed(*request_failure(err, settings.timeout_seconds, peer="Entur"))
    with response:
        if response.status_code == 429:
            until = retry_at(response.headers, clock())
            if gate is not None:
                gate.block(until)
            log.warning("Entur rate limit hit; no bus requests before %s", clock_time(until))
            return failed("http_429", f"429 Too Many Requests: Entur quota exceeded, waiting "
                                      f"until {clock_time(until)}")
        if response.status_code != 200:
            reason = f" {response.reason}" if response.reason else ""
            return failed(f"http_{response.status_code}",
                          f"Entur answered {response.status_code}{reason}")
        try:
            body = strict_json.loads(response.content)
        except ValueError:
            return failed("bad_json", "Entur's answer is not JSON")
    return judged_for_speed(_judge(body, settings, clock(), started),
                            settings.slow_after_seconds)


def _judge(body: Any, settings: BusSettings, now: float, started: float) -> Outcome:
    """Turn a GraphQL body into an outcome, quay by quay."""
    latency = now - started
    if not isinstance(body, dict):
        return Outcome.failure(COMPONENT, now, "schema", "the answer is not a JSON object",
                               latency_seconds=latency)
    errors = body.get("errors") or []
    if not isinstance(errors, list):
        return Outcome.failure(COMPONENT, now, "schema", "`errors` is not a list",
                               latency_seconds=latency)
    aliases = {f"q{i}": i for i in range(len(settings.quays))}
    quay_errors: dict[int, str] = {}
    general: list[str] = []
    for error in errors:
        message = _error_message(error)
        path = error.get("path") if isinstance(error, dict) else None
        head = path[0] if isinstance(path, list) and path else None
        if isinstance(head, str) and head in aliases:
            quay_errors.setdefault(aliases[head], f"GraphQL error: {message}")
        else:
            general.append(message)
    data = body.get("data")
    if general and not isinstance(data, dict):
        return Outcome.failure(COMPONENT, now, "graphql", _short("Entur: " + general[0]),
                               latency_seconds=latency)
    if not isinstance(data, dict):
        return Outcome.failure(COMPONENT, now, "schema", "the answer has no `data` object",
                               latency_seconds=latency)

    departures: list[Departure] = []
    broken: dict[int, str] = dict(quay_errors)
    for alias, index in aliases.items():
        if index in broken:
            continue
        if alias not in data:
            broken[index] = "missing from the answer"
            continue
        quay = data[alias]
        if quay is None:
            broken[index] = "unknown quay (Entur returned null)"
            continue
        try:
            departures.extend(_departures(quay, settings, index))
        except _ShapeError as err:
            broken[index] = f"unexpected answer: {err}"
    departures.sort(key=lambda d: (d.departs_at, d.quay, d.line))
    board = BusBoard(fetched_at=now, departures=tuple(departures),
                     failed_quays=tuple(settings.labels[i] for i in sorted(broken)))
    if broken:
        detail = "; ".join(f"quay {settings.label_of(i)}: {broken[i]}" for i in sorted(broken))
        return Outcome.failure(COMPONENT, now, "quay", _short(detail),
                               latency_seconds=latency, data=board)
    if general:  # partial data with an error not tied to a quay: the query is wrong
        return Outcome.failure(COMPONENT, now, "graphql", _short("Entur: " + general[0]),
                               latency_seconds=latency, data=board)
    return Outcome.success(COMPONENT, now, latency_seconds=latency, data=board)


class _ShapeError(ValueError):
    """One quay's part of the answer is not the documented shape."""


def _departures(quay: Any, settings: BusSettings, index: int) -> list[Departure]:
    if not isinstance(quay, dict) or not isinstance(quay.get("estimatedCalls"), list):
        raise _ShapeError("no estimatedCalls list")
    kept: list[Departure] = []
    for call in quay["estimatedCalls"]:
        if not isinstance(call, dict):
            raise _ShapeError("a call is not an object")
        if call.get("cancellation") is True:
            continue
        line = dig(call, "serviceJourney", "line", "publicCode")
        destination = dig(call, "destinationDisplay", "frontText")
        if not isinstance(line, str) or not isinstance(destination, str):
            raise _ShapeError("a call lacks its line publicCode or destination frontText")
        if not settings.keeps(line, destination):
            continue
        aimed = _epoch(call.get("aimedDepartureTime"), "aimedDepartureTime")
        expected_text = call.get("expectedDepartureTime")
        expected = aimed if expected_text is None else _epoch(expected_text,
                                                              "expectedDepartureTime")
        kept.append(Departure(quay=settings.labels[index], line=line, destination=destination,
                              departs_at=expected, aimed_at=aimed,
                              is_realtime=call.get("realtime") is True))
        if len(kept) == settings.departures:
            break
    return kept


def _epoch(text: Any, name: str) -> float:
    """An ISO 8601 time *with* its offset (Entur's `2024-01-15T08:12:00+01:00`)."""
    if not isinstance(text, str):
        raise _ShapeError(f"{name} is not a time")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _ShapeError(f"{name} {text!r} is not an ISO time") from None
    if moment.tzinfo is None:
        raise _ShapeError(f"{name} {text!r} has no zone offset")
    return moment.timestamp()


def _error_message(error: Any) -> str:
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else "unspecified error"


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

