"""The bus source against a fake Entur speaking JourneyPlanner v3 GraphQL over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from reactivex import operators as ops
from reactivex.testing import TestScheduler

from hub.config import ConfigError, load_config
from hub.poller import poll_outcomes
from hub.sources.bus import BusSettings, BusSource, build_query, poll_bus
from hub.sources.data import BusBoard, Departure
from hub.streams import health_notices, to_seconds
from machines import HealthMachines, NoticeKind, Outcome, Policy
from tests.fakes.entur import Call, FakeEntur
from tests.fakes.http_server import Reply, closed_port_url

NOW = datetime(2024, 1, 15, 7, 58, tzinfo=ZoneInfo("Europe/Oslo")).timestamp()
STORO, NYDALEN, UNKNOWN = "NSR:Quay:7184", "NSR:Quay:11051", "NSR:Quay:99999999"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def entur() -> Iterator[FakeEntur]:
    fake = FakeEntur(NOW)
    fake.add_quay(STORO, "Storo", [
        Call("54", "Kjelsås stasjon", 3, delay_minutes=1.5),
        Call("31", "Tonsenhagen", 6, cancelled=True),
        Call("31", "Fornebu", 9, realtime=False),
        Call("54", "Kjelsås stasjon", 18),
        Call("31", "Snarøya", 25),
    ])
    fake.add_quay(NYDALEN, "Nydalen", [
        Call("4", "Bergkrystallen", 2),
        Call("5", "Vestli", 7, delay_minutes=-0.5),
    ])
    with fake.running():
        yield fake


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def settings(url: str, **overrides: Any) -> BusSettings:
    values: dict[str, Any] = {"client_name": "acme-kitchendashboard",
                              "quays": (STORO, NYDALEN), "labels": ("S", "N"), "endpoint": url,
                              "timeout_seconds": 2.0}
    values.update(overrides)
    return BusSettings(**values)


def departure(label: str, line: str, to: str, minutes: float, delay: float = 0.0,
              realtime: bool = True) -> Departure:
    return Departure(quay=label, line=line, destination=to,
                     departs_at=NOW + (minutes + delay) * 60, aimed_at=NOW + minutes * 60,
                     is_realtime=realtime)


def test_every_quay_in_one_request_soonest_first_without_cancelled_calls(entur, session):
    outcome = poll_bus(session, settings(entur.url), Clock(NOW))

    assert outcome.ok and outcome.component == "bus" and outcome.error_type == ""
    assert outcome.data == BusBoard(fetched_at=NOW, departures=(
        departure("N", "4", "Bergkrystallen", 2),
        departure("S", "54", "Kjelsås stasjon", 3, delay=1.5),
        departure("N", "5", "Vestli", 7, delay=-0.5),
        departure("S", "31", "Fornebu", 9, realtime=False),
        departure("S", "54", "Kjelsås stasjon", 18),
        departure("S", "31", "Snarøya", 25),
    ))
    [request] = entur.graphql_requests
    assert request.header("ET-Client-Name") == "acme-kitchendashboard"
    assert request.json()["variables"]["q0"] == STORO
    assert request.json()["variables"]["q1"] == NYDALEN


def test_times_keep_their_zone_offset():
    entur_text = "2024-07-01T08:12:00+02:00"  # summer time in Oslo: 06:12 UTC
    summer = datetime(2024, 7, 1, 6, 12, tzinfo=ZoneInfo("UTC")).timestamp()
    body = {"data": {"q0": {"estimatedCalls": [{
        "expectedDepartureTime": entur_text, "aimedDepartureTime": "2024-07-01T06:10:00Z",
        "realtime": True, "cancellation": False, "destinationDisplay": {"frontText": "Ring"},
        "serviceJourney": {"line": {"publicCode": "20"}}}]}}}
    with FakeEntur(NOW).running() as fake, requests.Session() as session:
        fake.queue(Reply.json(200, body))
        outcome = poll_bus(session, settings(fake.url, quays=(STORO,), labels=("S",)),
                           Clock(NOW))
    [only] = outcome.data.departures
    assert (only.departs_at, only.aimed_at) == (summer, summer - 120)


def test_departures_per_quay_and_look_ahead_window_are_asked_for_and_applied(entur, session):
    outcome = poll_bus(session, settings(entur.url, departures=2, window_minutes=20),
                       Clock(NOW))

    assert [(d.quay, d.line, d.aimed_at) for d in outcome.data.departures] == [
        ("N", "4", NOW + 120), ("S", "54", NOW + 180), ("N", "5", NOW + 420),
        ("S", "31", NOW + 540)]
    variables = entur.graphql_requests[0].json()["variables"]
    assert variables["range"] == 20 * 60
    assert variables["n"] > 2  # room for cancelled calls, which are dropped afterwards


def test_line_and_destination_filters_keep_only_matching_departures(entur, session):
    only_54 = poll_bus(session, settings(entur.url, lines=("54",)), Clock(NOW))
    assert {(d.line, d.destination) for d in only_54.data.departures} == {
        ("54", "Kjelsås stasjon")}
    westwards = poll_bus(session, settings(entur.url, destinations=("fornebu", "SNARØYA")),
                         Clock(NOW))
    assert [d.destination for d in westwards.data.departures] == ["Fornebu", "Snarøya"]


def test_an_unknown_quay_fails_the_outcome_by_name_and_the_others_still_show(entur, session):
    outcome = poll_bus(session, settings(entur.url, quays=(STORO, UNKNOWN, NYDALEN),
                                         labels=("S", "X", "N")), Clock(NOW))

    assert not outcome.ok and outcome.error_type == "quay"
    assert f"X ({UNKNOWN})" in outcome.detail and "unknown quay" in outcome.detail
    assert STORO not in outcome.detail and NYDALEN not in outcome.detail
    assert outcome.data.failed_quays == ("X",)
    assert {d.quay for d in outcome.data.departures} == {"S", "N"}
    assert len(outcome.data.departures) == 6


def test_a_graphql_error_on_one_quay_names_that_quay(entur, session):
    entur.broken_quays[NYDALEN] = "Exception while fetching data (/q1/estimatedCalls)"
    outcome = poll_bus(session, settings(entur.url), Clock(NOW))

    assert (outcome.ok, outcome.error_type) == (False, "quay")
    assert f"N ({NYDALEN})" in outcome.detail and "Exception while fetching" in outcome.detail
    assert outcome.data.failed_quays == ("N",)
    assert {d.quay for d in outcome.data.departures} == {"S"}


def test_a_quay_missing_from_the_answer_or_of_the_wrong_shape_is_a_broken_quay(session):
    with FakeEntur(NOW).running() as fake:
        fake.queue(Reply.json(200, {"data": {"q0": {"estimatedCalls": []}}}))
        missing = poll_bus(session, settings(fake.url), Clock(NOW))
        fake.queue(Reply.json(200, {"data": {"q0": {"estimatedCalls": []}, "q1": {
            "estimatedCalls": [{"aimedDepartureTime": "soon"}]}}}))
        shapeless = poll_bus(session, settings(fake.url), Clock(NOW))
    assert (missing.error_type, shapeless.error_type) == ("quay", "quay")
    assert f"N ({NYDALEN}): missing from the answer" in missing.detail
    assert f"N ({NYDALEN}): unexpected answer" in shapeless.detail
    assert missing.data.failed_quays == shapeless.data.failed_quays == ("N",)


def test_an_error_for_the_whole_query_is_graphql(entur, session):
    entur.query_error = "Validation error of type FieldUndefined: Field 'estimatedCals'"
    outcome = poll_bus(session, settings(entur.url), Clock(NOW))
    assert (outcome.ok, outcome.error_type, outcome.data) == (False, "graphql", None)
    assert "FieldUndefined" in outcome.detail


@pytest.mark.parametrize(("reply", "error_type", "detail"), [
    (Reply(503, b"<html>Service Unavailable</html>", {"Content-Type": "text/html"}),
     "http_503", "503"),
    (Reply(502, b"", {}), "http_502", "502"),
    (Reply(200, b'{"data": {"q0": ', {"Content-Type": "application/json"}), "bad_json",
     "not JSON"),
    # JSON nested past any sane depth would raise RecursionError out of a lenient parser
    (Reply(200, b"[" * 7000 + b"]" * 7000, {"Content-Type": "application/json"}),
     "bad_json", "not JSON"),
    (Reply(200, b'{"data": "\xff"}', {"Content-Type": "application/json"}), "bad_json",
     "not JSON"),
    (Reply.json(200, ["data"]), "schema", "not a JSON object"),
    (Reply.json(200, {"result": {}}), "schema", "no `data` object"),
])
def test_every_failure_has_a_precise_error_type(session, reply, error_type, detail):
    with FakeEntur(NOW).running() as fake:
        fake.queue(reply)
        outcome = poll_bus(session, settings(fake.url), Clock(NOW))
    assert (outcome.ok, outcome.error_type) == (False, error_type)
    assert detail in outcome.detail


def test_a_hanging_entur_is_a_timeout(session):
    with FakeEntur(NOW).running() as fake:
        fake.hang = True
        outcome = poll_bus(session, settings(fake.url, timeout_seconds=0.2), Clock(NOW))
        assert fake.hanging.is_set()
    assert (outcome.ok, outcome.error_type) == (False, "timeout")


def test_nothing_listening_is_connect(session):
    outcome = poll_bus(session, settings(closed_port_url("/graphql")), Clock(NOW))
    assert (outcome.ok, outcome.error_type) == (False, "connect")
    assert "refused" in outcome.detail


def test_429_is_a_failure_and_no_request_is_made_until_retry_after(entur, session):
    clock = Clock(NOW)
    source = BusSource(session, settings(entur.url), clock)
    entur.queue_429(retry_after="120")

    limited = source.poll()
    assert (limited.ok, limited.error_type) == (False, "http_429")
    for seconds_later in (1, 60, 119.9):
        clock.now = NOW + seconds_later
        blocked = source.poll()
        assert (blocked.ok, blocked.error_type) == (False, "rate_limited")
    assert len(entur.graphql_requests) == 1  # the blocked polls asked nothing

    clock.now = NOW + 120
    assert source.poll().ok
    assert len(entur.graphql_requests) == 2


def test_rate_limit_expiry_time_is_honoured_when_it_is_later(entur, session):
    clock = Clock(NOW)
    source = BusSource(session, settings(entur.url), clock)
    expiry = datetime.fromtimestamp(NOW + 300, ZoneInfo("UTC"))
    entur.queue_429(retry_after="30",
                    expiry_time=expiry.strftime("%a %b %d %Y %H:%M:%S GMT-0000 (UTC)"))

    assert source.poll().error_type == "http_429"
    clock.now = NOW + 299
    assert source.poll().error_type == "rate_limited"
    clock.now = NOW + 300
    assert source.poll().ok
    assert len(entur.graphql_requests) == 2


def test_the_query_asks_for_what_the_display_needs():
    body = build_query(settings("http://x", quays=(STORO, NYDALEN, UNKNOWN),
                                labels=("A", "B", "C")))
    query = body["query"]
    for needed in ("q0: quay(id: $q0)", "q2: quay(id: $q2)", "omitNonBoarding: true",
                   "expectedDepartureTime", "aimedDepartureTime", "realtime", "cancellation",
                   "destinationDisplay { frontText }", "serviceJourney { line { publicCode } }"):
        assert needed in query
    assert body["variables"]["q2"] == UNKNOWN


# -- config ---------------------------------------------------------------------------

def write(tmp_path: Path, bus: str) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text("[bus]\n" + bus, encoding="utf-8")
    return path


GOOD = 'client_name = "acme-kitchendashboard"\nquays = ["NSR:Quay:7184"]\nlabels = ["S"]\n'


def test_a_minimal_bus_section_gets_the_documented_defaults(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    assert config.bus == BusSettings(client_name="acme-kitchendashboard",
                                     quays=("NSR:Quay:7184",), labels=("S",))
    assert config.bus.endpoint == "https://api.entur.io/journey-planner/v3/graphql"
    assert (config.bus.departures, config.bus.every_seconds) == (4, 60.0)


def test_no_bus_section_means_no_bus_source(tmp_path):
    path = tmp_path / "hub.toml"
    path.write_text('[hub]\nname = "x"\n', encoding="utf-8")
    assert load_config(path).bus is None


@pytest.mark.parametrize(("text", "message"), [
    (GOOD.replace("acme-kitchendashboard", "Acme Dashboard"),
     "[bus] client_name: expected '<company>-<application>' in lowercase"),
    (GOOD.replace("acme-kitchendashboard", "dashboard"), "[bus] client_name: expected"),
    (GOOD.replace('client_name = "acme-kitchendashboard"\n', ""),
     "[bus] client_name: required"),
    (GOOD.replace('["S"]', '["S", "N"]'),
     "[bus] labels: expected one label per quay (1 quays), got 2 labels"),
    (GOOD.replace("NSR:Quay:7184", "NSR:StopPlace:58366"), "[bus] quays: expected quay ids"),
    (GOOD.replace('["S"]', '["Storo"]'), "[bus] labels: expected short labels"),
    (GOOD + "departures = 0\n", "[bus] departures: expected a whole number from 1 to 20"),
    (GOOD + "every_seconds = 1\n", "[bus] every_seconds: expected a number >= 10"),
    (GOOD + 'lines = "31"\n', "[bus] lines: expected a list of strings"),
    (GOOD + 'endpoint = "ftp://x"\n', "[bus] endpoint: expected an http:// or https:// URL"),
    (GOOD + "quay = 1\n", "[bus] quay: unknown key"),
])
def test_bad_bus_config_names_file_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


# -- through the poller and the health machine ---------------------------------------

class InlineExecutor(Executor):
    """Runs each poll at once on the calling (scheduler) thread: virtual time stays exact
    while the poll still does real HTTP to the fake."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_one_broken_quay_ends_in_an_alert_for_bus_naming_the_quay(entur, session):
    scheduler = TestScheduler()
    entur.now = 0.0  # the scheduler's epoch
    bus = BusSource(session, settings(entur.url, quays=(STORO, UNKNOWN), labels=("S", "X"),
                                      every_seconds=60),
                    lambda: to_seconds(scheduler.now))
    outcomes: list[Outcome] = []
    polled = poll_outcomes("bus", bus.poll, 60, scheduler, InlineExecutor()).pipe(
        ops.do_action(outcomes.append))
    notices = []
    health_notices(polled, HealthMachines(), scheduler,
                   lambda _: Policy(failures_before_alert=3)).subscribe(notices.append)

    scheduler.advance_to(60 * 2 + 1)

    assert [o.error_type for o in outcomes] == ["quay"] * 3
    assert all(o.data.departures for o in outcomes)  # Storo still reaches the display
    [alert] = notices
    assert (alert.kind, alert.component, alert.error_type) == (NoticeKind.ALERT, "bus", "quay")
    assert f"X ({UNKNOWN})" in alert.error_detail
    assert len(entur.graphql_requests) == 3
