"""The weather source against a fake MET locationforecast 2.0 compact over HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from hub.config import ConfigError, load_config
from hub.sources.data import Forecast
from hub.sources.weather import WeatherSettings, WeatherSource, status_url
from machines import HealthMachines, NoticeKind, Outcome, Policy
from tests.fakes.http_server import Reply, closed_port_url
from tests.fakes.met import FakeMet, compact_document, iso

#: 10:17 UTC: well away from the full hour, which the source avoids on purpose.
NOW = datetime(2024, 1, 15, 10, 17, tzinfo=UTC).timestamp()
HOUR = 3600.0
START = NOW - 17 * 60  # MET's first entry is the current whole hour
UA = "divoom-hub/0.1 owner@example.org"
TEMPERATURES = [-3.5, -2.0, -1.0, 0.5, 1.5, 1.0, -0.5, -4.0, -6.5, -7.0, -7.5, -8.0,
                -8.5, -9.0, -9.5, -10.0]  # 10:00Z … 01:00Z: the last three are the 16th in Oslo


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def document(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "start": START, "temperatures": TEMPERATURES, "updated_at": START - 900,
        "symbols": ["lightsnow_day"] + ["cloudy"] * (len(TEMPERATURES) - 1),
        "rain": [0.3] + [0.0] * (len(TEMPERATURES) - 1),
        "wind": [4.2] + [2.0] * (len(TEMPERATURES) - 1)}
    values.update(overrides)
    return compact_document(values.pop("start"), values.pop("temperatures"), **values)


@pytest.fixture
def met() -> Iterator[FakeMet]:
    with FakeMet(NOW, document()).running() as fake:
        yield fake


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def source(session: requests.Session, url: str, clock: Clock, zone: str = "Europe/Oslo",
           **overrides: Any) -> WeatherSource:
    values: dict[str, Any] = {"lat": 59.913868, "lon": 10.752245, "user_agent": UA,
                              "endpoint": url, "timeout_seconds": 2.0}
    values.update(overrides)
    return WeatherSource(session, WeatherSettings(**values), clock, ZoneInfo(zone))


def test_first_poll_identifies_itself_sends_four_decimals_and_derives_the_forecast(
        met, session):
    outcome = source(session, met.url, Clock(NOW)).poll()

    assert outcome.ok and outcome.component == "weather"
    assert outcome.data == Forecast(
        fetched_at=NOW, temperature_c=-3.5, symbol="lightsnow_day", high_c=1.5, low_c=-8.5,
        precipitation_mm=0.3, wind_speed_ms=4.2, updated_at=START - 900)
    [request] = met.forecast_requests
    assert request.header("User-Agent") == UA
    assert request.raw_query == "lat=59.9139&lon=10.7522"
    assert request.header("If-Modified-Since") is None


def test_coordinates_never_carry_trailing_zeros_or_more_than_four_decimals():
    def params(lat: float, lon: float) -> dict[str, str]:
        return WeatherSettings(lat=lat, lon=lon, user_agent=UA).params()

    assert params(60, 10.75) == {"lat": "60", "lon": "10.75"}
    assert params(-33.868820, 151.209296) == {"lat": "-33.8688", "lon": "151.2093"}
    assert params(-0.00001, 0.0) == {"lat": "0", "lon": "0"}


def test_before_expires_only_the_status_is_asked_and_the_cache_follows_the_hour(
        met, session):
    clock = Clock(NOW)
    met.lifetime_seconds = 2 * HOUR
    weather = source(session, met.url, clock)
    weather.poll()

    clock.now = NOW + 3000  # 11:07Z: still before Expires (12:17Z)
    cached = weather.poll()

    assert len(met.forecast_requests) == 1
    [probe] = met.status_requests
    assert probe.header("User-Agent") == UA  # MET refuses anonymous status requests too
    assert probe.raw_query == "" and probe.header("If-Modified-Since") is None
    assert cached.ok and cached.detail == "MET is up; cached until 12:17:00Z"
    assert (cached.data.temperature_c, cached.data.symbol) == (-2.0, "cloudy")
    assert cached.data.fetched_at == NOW  # when MET last vouched for the forecast


@pytest.mark.parametrize(("endpoint", "expected"), [
    ("https://api.met.no/weatherapi/locationforecast/2.0/compact",
     "https://api.met.no/weatherapi/locationforecast/2.0/status"),
    ("https://api.met.no/weatherapi/locationforecast/2.0/complete/",
     "https://api.met.no/weatherapi/locationforecast/2.0/status"),
    ("http://127.0.0.1:8080/met/locationforecast/2.0/compact?key=k",
     "http://127.0.0.1:8080/met/locationforecast/2.0/status?key=k"),
    ("https://proxy.example.org/weather", None),
    ("https://proxy.example.org/", None),
])
def test_the_status_method_sits_beside_the_data_method(endpoint, expected):
    assert status_url(endpoint) == expected


def test_after_expires_it_revalidates_with_exactly_the_last_modified_and_304_is_ok(
        met, session):
    clock = Clock(NOW)
    met.last_modified = "Mon, 15 Jan 2024 10:02:13 GMT"
    weather = source(session, met.url, clock)
    weather.poll()

    clock.now = met.now = NOW + 1800  # Expires
    revalidated = weather.poll()

    assert [r.header("If-Modified-Since") for r in met.forecast_requests] == [
        None, "Mon, 15 Jan 2024 10:02:13 GMT"]
    assert revalidated.ok and revalidated.detail == "not modified"
    assert revalidated.data.fetched_at == NOW + 1800
    assert revalidated.data.temperature_c == -3.5

    clock.now = NOW + 1800 + 1200  # inside the Expires the 304 brought
    assert weather.poll().ok
    assert len(met.forecast_requests) == 2
    assert len(met.status_requests) == 1


def test_a_new_model_run_replaces_the_cached_forecast(met, session):
    clock = Clock(NOW)
    weather = source(session, met.url, clock)
    weather.poll()
    clock.now = met.now = NOW + 1900
    met.publish(document(temperatures=[t + 10 for t in TEMPERATURES]))

    fresh = weather.poll()

    assert fresh.ok and fresh.data.temperature_c == 6.5
    assert met.forecast_requests[-1].header("If-Modified-Since") != met.last_modified


def test_expires_is_read_against_mets_date_not_our_clock(met, session):
    clock = Clock(NOW + 5 * HOUR)  # our clock is five hours fast
    weather = source(session, met.url, clock)
    weather.poll()
    clock.now += 1700  # 28 minutes later by our clock: still inside MET's 30 minutes
    weather.poll()
    assert len(met.forecast_requests) == 1
    clock.now += 100
    weather.poll()
    assert len(met.forecast_requests) == 2


def run_polls(weather: WeatherSource, clock: Clock, met: FakeMet, polls: int,
              outage_from: int, outage_until: int | None = None,
              every_seconds: float = 600.0) -> tuple[list[Outcome], list[Any]]:
    """`polls` polls `every_seconds` apart, MET down for polls outage_from … outage_until-1,
    fed to a health machine with the default policy."""
    machines = HealthMachines()
    machines.add("weather", Policy(), NOW)
    outcomes, notices = [], []
    for poll in range(polls):
        clock.now = met.now = NOW + poll * every_seconds
        if poll == outage_from:
            met.outage = Reply(503, b"<html>503 Service Unavailable</html>",
                               {"Content-Type": "text/html"})
        if poll == outage_until:
            met.outage = None
        outcome = weather.poll()
        outcomes.append(outcome)
        notices += machines.observe(outcome, clock.now)
    return outcomes, notices


def test_an_outage_fails_every_poll_from_the_first_and_alerts_at_the_third(met, session):
    clock = Clock(NOW)
    weather = source(session, met.url, clock)

    outcomes, notices = run_polls(weather, clock, met, polls=5, outage_from=1)

    # Polls 1 and 2 fall inside Expires (30 min): they probe the status, which fails just
    # as the forecast would; from poll 3 (Expires) on, the forecast request itself fails.
    assert [(o.ok, o.error_type) for o in outcomes] == [
        (True, ""), (False, "http_503"), (False, "http_503"), (False, "http_503"),
        (False, "http_503")]
    assert outcomes[1].detail == "MET status answered 503 Service Unavailable"
    assert [len(met.forecast_requests), len(met.status_requests)] == [3, 2]
    [alert] = notices  # the default policy: 3 failures, so 3 polls (3 x every_seconds)
    assert (alert.kind, alert.at, alert.error_type) == (NoticeKind.ALERT, NOW + 1800,
                                                        "http_503")


def test_while_the_forecast_is_fresh_an_outage_and_its_end_are_seen_without_refetching(
        met, session):
    clock = Clock(NOW)
    met.lifetime_seconds = 2 * HOUR  # Expires at 12:17Z, past every poll below
    weather = source(session, met.url, clock)

    outcomes, notices = run_polls(weather, clock, met, polls=6, outage_from=1,
                                  outage_until=4)

    assert [(o.ok, o.error_type) for o in outcomes] == [
        (True, ""), (False, "http_503"), (False, "http_503"), (False, "http_503"),
        (True, ""), (True, "")]
    assert all(o.data.fetched_at == NOW for o in outcomes)  # the display keeps it
    assert [len(met.forecast_requests), len(met.status_requests)] == [1, 5]
    assert [(n.kind, n.at) for n in notices] == [(NoticeKind.ALERT, NOW + 1800),
                                                 (NoticeKind.RECOVERY, NOW + 2400)]
    assert notices[1].downtime_seconds == 1800


@pytest.mark.parametrize(("reply", "error_type", "detail"), [
    (Reply(500, b"Internal Server Error", {}), "http_500",
     "MET status answered 500 Internal Server Error"),
    (Reply(200, b"<html>maintenance</html>", {"Content-Type": "text/html"}), "bad_json",
     "MET's status answer is not JSON"),
    (Reply(200, b"[" * 7000 + b"]" * 7000, {"Content-Type": "application/json"}),
     "bad_json", "MET's status answer is not JSON"),
    (Reply.json(200, ["up"]), "schema", "MET's status answer is not a JSON object"),
    (Reply(404, b"Not Found", {}), "http_404", "MET status answered 404 Not Found"),
    (Reply(403, b"<html>Forbidden</html>", {"Content-Type": "text/html"}), "http_403",
     "403 Forbidden: MET refuses this client; check that [weather] user_agent names the app "
     "and a contact (email or website)"),
])
def test_a_failed_status_probe_has_a_precise_error_type_and_keeps_the_forecast(
        met, session, reply, error_type, detail):
    clock = Clock(NOW)
    weather = source(session, met.url, clock)
    weather.poll()
    met.queue_status(reply)
    clock.now = NOW + 600

    outcome = weather.poll()

    assert (outcome.ok, outcome.error_type, outcome.detail) == (False, error_type, detail)
    assert outcome.data.temperature_c == -3.5
    assert len(met.forecast_requests) == 1


def test_a_429_to_the_status_probe_closes_the_gate_for_every_request(met, session):
    clock = Clock(NOW)
    weather = source(session, met.url, clock)
    weather.poll()
    met.queue_status(Reply(429, b"Too Many Requests", {"Retry-After": "1500"}))
    clock.now = NOW + 600
    assert weather.poll().error_type == "http_429"

    clock.now = NOW + 1800  # Expires has passed, but Retry-After (10:52Z) has not
    blocked = weather.poll()
    assert (blocked.ok, blocked.error_type) == (False, "rate_limited")
    assert blocked.data.temperature_c == -3.5
    assert [len(met.forecast_requests), len(met.status_requests)] == [1, 1]

    clock.now = met.now = NOW + 2400
    assert weather.poll().ok
    assert [len(met.forecast_requests), len(met.status_requests)] == [2, 1]


def test_a_hanging_status_probe_is_a_timeout(met, session):
    clock = Clock(NOW)
    weather = source(session, met.url, clock, timeout_seconds=0.2)
    weather.poll()
    met.hang = True
    clock.now = NOW + 600
    outcome = weather.poll()
    assert met.hanging.is_set()
    assert (outcome.ok, outcome.error_type) == (False, "timeout")
    assert outcome.detail == "MET did not answer within 0.2 s"
    assert outcome.data.temperature_c == -3.5


def test_met_gone_while_the_forecast_is_fresh_is_connect(session):
    clock = Clock(NOW)
    with FakeMet(NOW, document()).running() as met:
        weather = source(session, met.url, clock)
        assert weather.poll().ok
    clock.now = NOW + 600  # the server is closed now
    outcome = weather.poll()
    assert (outcome.ok, outcome.error_type) == (False, "connect")
    assert outcome.detail == "cannot reach MET: connection refused"
    assert outcome.data.temperature_c == -3.5


def test_an_endpoint_without_a_status_method_revalidates_the_forecast_instead(session):
    with FakeMet(NOW, document(), forecast_path="/proxy/met-forecast").running() as met:
        clock = Clock(NOW)
        weather = source(session, met.url, clock)
        weather.poll()
        clock.now = NOW + 600  # inside Expires
        fresh = weather.poll()
        met.outage = Reply(502, b"Bad Gateway", {})
        clock.now = NOW + 1200
        failed = weather.poll()

    assert fresh.ok and fresh.detail == "not modified"
    assert (failed.ok, failed.error_type) == (False, "http_502")
    assert [r.header("If-Modified-Since") for r in met.forecast_requests] == [
        None, met.last_modified, met.last_modified]
    assert met.status_requests == []


def test_failures_still_carry_the_cached_forecast_for_the_display(met, session):
    clock = Clock(NOW)
    weather = source(session, met.url, clock)
    weather.poll()
    met.outage = Reply(500, b"", {})
    clock.now = NOW + 2400  # 10:57Z
    failed = weather.poll()
    assert (failed.ok, failed.error_type) == (False, "http_500")
    assert failed.data.temperature_c == -3.5 and failed.data.fetched_at == NOW


def test_a_refresh_due_on_the_full_hour_waits_for_the_next_poll(met, session):
    clock = Clock(NOW)
    weather = source(session, met.url, clock)
    weather.poll()

    clock.now = datetime(2024, 1, 15, 11, 0, 30, tzinfo=UTC).timestamp()  # Expires passed
    deferred = weather.poll()
    assert deferred.ok and "deferred" in deferred.detail
    assert len(met.forecast_requests) == 1

    clock.now = datetime(2024, 1, 15, 11, 10, 30, tzinfo=UTC).timestamp()
    assert weather.poll().ok
    assert len(met.forecast_requests) == 2
    assert met.status_requests == []


def test_a_status_probe_due_on_the_full_hour_waits_too(met, session):
    clock = Clock(NOW)
    met.lifetime_seconds = 2 * HOUR
    weather = source(session, met.url, clock)
    weather.poll()

    clock.now = datetime(2024, 1, 15, 10, 59, tzinfo=UTC).timestamp()
    deferred = weather.poll()
    assert deferred.ok and deferred.detail == "check deferred off the full hour"
    assert [len(met.forecast_requests), len(met.status_requests)] == [1, 0]


@pytest.mark.parametrize(("lifetime_seconds", "requests_made"), [
    (1800.0, [2, 0]),  # expired at 10:47Z: the 10:50 poll asks for the forecast
    (2 * HOUR, [1, 1]),  # still fresh: the 10:50 poll probes the status
])
def test_a_deferred_request_never_turns_a_failure_into_a_success(
        met, session, lifetime_seconds, requests_made):
    clock = Clock(NOW)
    met.lifetime_seconds = lifetime_seconds
    weather = source(session, met.url, clock)
    weather.poll()
    met.outage = Reply(503, b"", {})
    clock.now = datetime(2024, 1, 15, 10, 50, tzinfo=UTC).timestamp()
    assert weather.poll().error_type == "http_503"
    clock.now = datetime(2024, 1, 15, 11, 0, 10, tzinfo=UTC).timestamp()
    deferred = weather.poll()
    assert (deferred.ok, deferred.error_type) == (False, "http_503")
    assert "deferred off the full hour" in deferred.detail
    assert [len(met.forecast_requests), len(met.status_requests)] == requests_made


def test_today_high_and_low_follow_the_local_date_across_midnight(session):
    # 22:17 on the 15th in New York is 03:17Z on the 16th: "today" is local.
    now = datetime(2024, 1, 16, 3, 17, tzinfo=UTC).timestamp()
    start = now - 17 * 60  # 22:00 local
    temperatures = [5.0, 7.0, 20.0, -3.0, 4.0]  # 22:00, 23:00 local; then the 16th
    with FakeMet(now, compact_document(start, temperatures, six_hourly_tail=0),
                 lifetime_seconds=4 * HOUR).running() as met:
        clock = Clock(now)
        new_york = source(session, met.url, clock, zone="America/New_York")
        tonight = new_york.poll().data
        clock.now = now + HOUR + 50 * 60  # 00:07 local on the 16th (cached)
        after_midnight = new_york.poll().data
        utc = source(session, met.url, Clock(now), zone="UTC").poll().data

    assert (tonight.high_c, tonight.low_c, tonight.temperature_c) == (7.0, 5.0, 5.0)
    assert (after_midnight.high_c, after_midnight.low_c,
            after_midnight.temperature_c) == (20.0, -3.0, 20.0)
    assert (utc.high_c, utc.low_c) == (20.0, -3.0)


def test_far_entries_fall_back_to_the_six_hour_symbol(session):
    series = compact_document(START, [1.0])
    assert "next_1_hours" not in series["properties"]["timeseries"][1]["data"]
    with FakeMet(NOW, series).running() as met:
        clock = Clock(NOW + 7 * HOUR)  # past the hourly part, at the first 6-hourly entry
        outcome = source(session, met.url, clock).poll()
    assert outcome.data.symbol == "clearsky_night"
    assert outcome.data.precipitation_mm is None


def test_403_explains_the_user_agent(met, session):
    met.queue(Reply(403, b"<html>Forbidden</html>", {"Content-Type": "text/html"}))
    outcome = source(session, met.url, Clock(NOW)).poll()
    assert (outcome.ok, outcome.error_type) == (False, "http_403")
    assert "user_agent" in outcome.detail


def test_the_fake_refuses_an_anonymous_client_as_met_does(met, session):
    outcome = source(session, met.url, Clock(NOW), user_agent="python-requests/2.31").poll()
    assert outcome.error_type == "http_403"


def test_203_is_ok_and_logs_the_deprecation_once(met, session, caplog):
    met.deprecated = True
    clock = Clock(NOW)
    weather = source(session, met.url, clock)
    with caplog.at_level(logging.WARNING, logger="hub.sources.weather"):
        assert weather.poll().ok
        clock.now = met.now = NOW + 1900
        met.publish(document())  # a new run: another 203 with a body
        assert weather.poll().ok
    assert len(met.forecast_requests) == 2
    assert [r.message for r in caplog.records if "203" in r.message] == [
        "MET answered 203: locationforecast/2.0 is deprecated or in beta; see "
        "https://api.met.no/weatherapi/locationforecast/2.0/documentation"]


def test_429_counts_as_failure_and_blocks_requests_until_retry_after(met, session):
    clock = Clock(NOW)
    weather = source(session, met.url, clock)
    met.queue(Reply(429, b"Too Many Requests", {"Retry-After": "900"}))

    assert weather.poll().error_type == "http_429"
    clock.now = NOW + 600
    blocked = weather.poll()
    assert (blocked.ok, blocked.error_type) == (False, "rate_limited")
    assert len(met.forecast_requests) == 1
    clock.now = NOW + 900
    assert weather.poll().ok
    assert len(met.forecast_requests) == 2


@pytest.mark.parametrize(("reply", "error_type"), [
    (Reply(500, b"Internal Server Error", {}), "http_500"),
    (Reply(200, b"{\"type\": \"Feature\", ", {"Content-Type": "application/json"}),
     "bad_json"),
    (Reply.json(200, {"type": "Feature", "properties": {"meta": {}}}), "schema"),
    (Reply.json(200, {"properties": {"timeseries": [{"time": iso(START), "data": {}}]}}),
     "schema"),
    (Reply(304, b"", {}), "http_304"),  # 304 to a request that was not conditional
])
def test_every_failure_has_a_precise_error_type(met, session, reply, error_type):
    met.queue(reply)
    outcome = source(session, met.url, Clock(NOW)).poll()
    assert (outcome.ok, outcome.error_type) == (False, error_type)
    assert outcome.detail


def test_a_hanging_met_is_a_timeout(met, session):
    met.hang = True
    outcome = source(session, met.url, Clock(NOW), timeout_seconds=0.2).poll()
    assert met.hanging.is_set()
    assert (outcome.ok, outcome.error_type) == (False, "timeout")


def test_nothing_listening_is_connect(session):
    outcome = source(session, closed_port_url("/compact"), Clock(NOW)).poll()
    assert (outcome.ok, outcome.error_type) == (False, "connect")


# -- config ---------------------------------------------------------------------------

def write(tmp_path: Path, weather: str) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text("[weather]\n" + weather, encoding="utf-8")
    return path


GOOD = f'lat = 59.9139\nlon = 10.7522\nuser_agent = "{UA}"\n'


def test_a_minimal_weather_section_gets_the_documented_defaults(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    assert config.weather == WeatherSettings(lat=59.9139, lon=10.7522, user_agent=UA)
    assert config.weather.every_seconds == 600.0
    assert config.weather.endpoint == \
        "https://api.met.no/weatherapi/locationforecast/2.0/compact"


@pytest.mark.parametrize("agent", ["acmeweathersite.com support@acmeweathersite.com",
                                   "AcmeWeatherApp/0.9 github.com/acmeweatherapp",
                                   "kitchen-pixoo https://example.net/contact"])
def test_user_agents_with_contact_info_are_accepted(tmp_path, agent):
    config = load_config(write(tmp_path, GOOD.replace(UA, agent)))
    assert config.weather.user_agent == agent


@pytest.mark.parametrize(("text", "message"), [
    (GOOD.replace(f'user_agent = "{UA}"\n', ""),
     "[weather] user_agent: required, but missing. MET Norway refuses clients"),
    (GOOD.replace(UA, "divoom-hub/0.1"), "[weather] user_agent: 'divoom-hub/0.1' has no "
                                         "contact info"),
    (GOOD.replace(UA, ""), "[weather] user_agent: expected a non-empty line"),
    (GOOD.replace("59.9139", "91"), "[weather] lat: expected a number from -90 to 90"),
    (GOOD.replace("10.7522", "-180.5"), "[weather] lon: expected a number from -180 to 180"),
    (GOOD.replace("59.9139", '"59.9"'), "[weather] lat: expected a number, got '59.9'"),
    (GOOD.replace("lat = 59.9139\n", ""), "[weather] lat: required"),
    (GOOD + "every_seconds = 5\n", "[weather] every_seconds: expected a number >= 60"),
    (GOOD + "units = 'metric'\n", "[weather] units: unknown key"),
])
def test_bad_weather_config_names_file_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_looking_often_asks_for_the_forecast_only_at_expires(met, session):
    clock = Clock(NOW)
    weather = source(session, met.url, clock, every_seconds=120)
    outcomes = []
    for step in range(30):  # an hour of polls every 120 s, from 10:17Z
        clock.now = met.now = NOW + step * 120
        outcomes.append(weather.poll())
    assert all(o.ok for o in outcomes)
    assert len(met.forecast_requests) == 2  # the first fetch and one 304 at Expires
    # Every other poll probes the status, but for 10:59 and 11:01 (by the full hour).
    assert len(met.status_requests) == 26
    assert all(r.header("User-Agent") == UA for r in met.status_requests)
