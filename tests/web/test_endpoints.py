"""The status server's HTTP contract, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket

import aiohttp
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from hub.ingest.pings import HeartbeatMonitor
from hub.notify.delivery import DeliveryStatus
from hub.sources.threshold import ThresholdMonitor
from hub.web.server import StatusServer, StatusServerError
from machines import HealthState, Notice, NoticeKind, Outcome
from tests.web.conftest import (
    MARKER,
    NOW,
    call,
    frame_png,
    published,
    raw_call,
    request,
    serving,
    snap,
    weather_alert,
)

LISTEN = "127.0.0.1:0"
JSON = {"Content-Type": "application/json"}


def server_for(status, **kwargs) -> StatusServer:
    kwargs.setdefault("clock", lambda: NOW)
    return StatusServer(LISTEN, lambda: status, **kwargs)


# -- /health ---------------------------------------------------------------------------

def test_health_is_healthy_with_no_open_incident_and_a_suspect_is_listed_not_degrading():
    status = published(snap("bus", HealthState.HEALTHY),
                       snap("pixoo", HealthState.SUSPECT, failures=1, last_error_type="timeout"),
                       snap("nas", HealthState.RECOVERED))
    reply = call(server_for(status), "GET", "/health")
    assert reply.status == 200
    assert reply.content_type.startswith("application/json")
    body = reply.json()
    assert body["status"] == "healthy"
    assert body["reasons"] == []
    assert body["suspect"] == ["pixoo"]
    assert body["failing"] == []


def test_health_is_degraded_while_a_component_alerts_and_names_it():
    status = published(snap("bus", HealthState.HEALTHY),
                       snap("weather", HealthState.REMINDING, failures=5,
                            last_error_type="http_503"))
    reply = call(server_for(status), "GET", "/health")
    assert reply.status == 200
    assert reply.json()["status"] == "degraded"
    assert reply.json()["failing"] == ["weather"]
    assert reply.json()["reasons"] == ["weather reminding: http_503"]


def test_health_is_degraded_while_delivery_retries():
    delivery = DeliveryStatus("webhook", "retrying", "503 (attempt 2, next in 2 s)", 3, 2)
    reply = call(server_for(published(snap("bus", HealthState.HEALTHY), delivery=delivery)),
                 "GET", "/health")
    assert (reply.status, reply.json()["status"]) == (200, "degraded")
    assert reply.json()["reasons"] == ["delivery via webhook retrying: 503 (attempt 2, next "
                                       "in 2 s)"]


def test_health_is_unhealthy_with_503_when_delivery_stopped_for_good():
    delivery = DeliveryStatus("webhook", "stopped", "webhook deleted (404)", 3, 1)
    reply = call(server_for(published(snap("bus", HealthState.HEALTHY), delivery=delivery)),
                 "GET", "/health")
    assert reply.status == 503
    assert reply.json()["status"] == "unhealthy"
    assert reply.json()["reasons"] == ["delivery via webhook stopped: webhook deleted (404)"]


@pytest.mark.parametrize(("age", "expected"), [(30.0, 200), (30.5, 503)])
def test_health_is_unhealthy_when_the_status_was_not_published_for_too_long(age, expected):
    status = published(snap("bus", HealthState.HEALTHY))
    server = StatusServer(LISTEN, lambda: status, clock=lambda: NOW + age,
                          status_max_age_seconds=30)
    reply = call(server, "GET", "/health")
    assert reply.status == expected
    assert reply.json()["status_age_seconds"] == age
    if expected == 503:
        assert reply.json()["reasons"] == [
            "status not published for 30 s (the hub's loop may be stuck)"]


# -- /api/status -------------------------------------------------------------------------

def test_api_status_lists_every_component_with_times_errors_and_the_hub_itself():
    weather = snap("weather", HealthState.ALERTING, since=NOW - 300, failures=4,
                   first_failure_at=NOW - 420, last_success_at=NOW - 430,
                   last_error_type="http_503", last_error="503 Service Unavailable",
                   next_reminder_at=NOW + 600)
    status = published(
        snap("bus", HealthState.HEALTHY, last_success_at=NOW - 5), weather,
        delivery=DeliveryStatus("webhook", "idle", "", 7, 1), outbox_depth=2,
        discord_latency_seconds=0.042, notices=(weather_alert(),),
        outcomes=(Outcome.success("bus", NOW - 5, latency_seconds=0.25),))
    reply = call(server_for(status), "GET", "/api/status")
    assert reply.status == 200
    assert reply.content_type.startswith("application/json")
    body = reply.json()
    assert body["hub"] == "shelf-pi"
    assert body["status"] == "degraded"
    assert body["uptime_seconds"] == 7200
    assert body["outbox_depth"] == 2
    assert body["transport"] == {"name": "webhook", "state": "idle", "detail": "", "sent": 7,
                                 "failed_attempts": 1}
    assert body["discord_latency_seconds"] == 0.042
    assert [c["name"] for c in body["components"]] == ["bus", "weather"]
    assert body["components"][1] == {
        "name": "weather", "state": "alerting", "since": "2023-11-14T22:08:20+00:00",
        "for_seconds": 300, "failures": 4, "last_success": "2023-11-14T22:06:10+00:00",
        "last_error": {"type": "http_503", "detail": "503 Service Unavailable"},
        "next_reminder": "2023-11-14T22:23:20+00:00", "latency_seconds": None, "value": None,
        "latency_percentiles_seconds": None, "uptime_percent": {"24h": None, "7d": None},
        "failures_by_type": {}}
    assert body["components"][0]["latency_seconds"] == 0.25
    assert body["components"][0]["last_error"] is None
    assert body["recent_notices"] == [{
        "at": "2023-11-14T22:08:20+00:00", "kind": "alert", "component": "weather",
        "summary": "failing for 2 min, 3 failures · http_503: 503 Service Unavailable"}]
    assert body["notices_by_kind"] == {"alert": 1}


def test_recent_notices_are_bounded_oldest_dropped_first():
    notices = tuple(Notice(kind=NoticeKind.RECOVERY, component=f"c{i}", at=NOW - 100 + i,
                           downtime_seconds=60) for i in range(25))
    body = call(server_for(published(notices=notices)), "GET", "/api/status").json()
    assert [n["component"] for n in body["recent_notices"]] == [f"c{i}" for i in range(5, 25)]
    assert body["notices_by_kind"] == {"recovery": 25}


# -- /metrics ----------------------------------------------------------------------------

def test_metrics_parse_with_prometheus_own_parser_and_carry_states_notices_and_delivery():
    status = published(
        snap("bus", HealthState.HEALTHY), snap("weather", HealthState.ALERTING, failures=4),
        delivery=DeliveryStatus("webhook", "retrying", "503", 9, 3), outbox_depth=5,
        notices=(weather_alert(), weather_alert(NOW - 10),
                 Notice(kind=NoticeKind.STARTED, component="shelf-pi", at=NOW - 7200)),
        outcomes=(Outcome.success("bus", NOW, latency_seconds=0.125),
                  Outcome.failure("fridge", NOW, "above_max", "7.5 > max 6", data=7.5)))
    reply = call(server_for(status), "GET", "/metrics")
    assert reply.status == 200
    assert reply.content_type == "text/plain; version=0.0.4; charset=utf-8"
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(reply.text)
               for s in family.samples}

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    for state in HealthState:
        assert value("divoom_hub_component_state", component="weather",
                     state=state.value) == (1.0 if state is HealthState.ALERTING else 0.0)
        assert value("divoom_hub_component_state", component="bus",
                     state=state.value) == (1.0 if state is HealthState.HEALTHY else 0.0)
    assert value("divoom_hub_component_failures", component="weather") == 4
    assert value("divoom_hub_notices_total", kind="alert") == 2
    assert value("divoom_hub_notices_total", kind="started") == 1
    assert value("divoom_hub_notices_delivered_total") == 9
    assert value("divoom_hub_delivery_failures_total") == 3
    assert value("divoom_hub_outbox_depth") == 5
    assert value("divoom_hub_source_latency_seconds", component="bus") == 0.125
    assert value("divoom_hub_monitor_value", component="fridge") == 7.5
    assert value("divoom_hub_health", status="degraded") == 1
    assert value("divoom_hub_health", status="healthy") == 0
    assert value("divoom_hub_uptime_seconds") == 7200


def numbers_outcomes() -> tuple[Outcome, ...]:
    """An hour of bus polls a minute apart: 100 ms answers, one 2 s, six timeouts."""
    outcomes = []
    for i in range(60):
        at = NOW - 3540 + 60 * i
        if i % 10 == 0:
            outcomes.append(Outcome.failure("bus", at, "timeout", latency_seconds=10.0))
        else:
            outcomes.append(Outcome.success("bus", at,
                                            latency_seconds=2.0 if i == 55 else 0.1))
    return tuple(outcomes)


def test_api_status_and_metrics_carry_percentiles_uptime_and_failures_by_type():
    status = published(snap("bus", HealthState.HEALTHY), outcomes=numbers_outcomes())
    bus = call(server_for(status), "GET", "/api/status").json()["components"][0]
    p50, p95, p99 = (bus["latency_percentiles_seconds"][p] for p in ("p50", "p95", "p99"))
    assert 0.1 <= p50 < 0.11  # within one 9 % bin, never below
    assert 10.0 <= p95 < 11.0 and 10.0 <= p99 < 11.0  # 6 of 60 took the 10 s timeout
    assert bus["uptime_percent"] == {"24h": 90.0, "7d": 90.0}
    assert bus["failures_by_type"] == {"timeout": 6}
    reply = call(server_for(status), "GET", "/metrics")
    families = {f.name: f for f in text_string_to_metric_families(reply.text)}
    assert families["divoom_hub_component_latency_seconds"].type == "gauge"
    assert families["divoom_hub_component_uptime_percent"].type == "gauge"
    assert families["divoom_hub_component_failures_by_type"].type == "counter"
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in families.values() for s in f.samples}
    assert samples[("divoom_hub_component_latency_seconds",
                    (("component", "bus"), ("quantile", "0.5")))] == pytest.approx(p50, abs=1e-6)
    assert samples[("divoom_hub_component_uptime_percent",
                    (("component", "bus"), ("window", "7d")))] == 90.0
    assert samples[("divoom_hub_component_failures_by_type_total",
                    (("component", "bus"), ("error_type", "timeout")))] == 6


def test_two_servers_have_their_own_registries():
    one = published(snap("bus", HealthState.HEALTHY))
    two = published(snap("nas", HealthState.SUSPECT))
    text_one = call(server_for(one), "GET", "/metrics").text
    text_two = call(server_for(two), "GET", "/metrics").text
    assert 'component="bus"' in text_one and 'component="nas"' not in text_one
    assert 'component="nas"' in text_two and 'component="bus"' not in text_two


# -- /frame.png --------------------------------------------------------------------------

def test_frame_is_404_json_before_the_first_frame():
    reply = call(server_for(published()), "GET", "/frame.png")
    assert reply.status == 404
    assert reply.json() == {"error": "no frame yet: the display has not rendered one"}


def test_frame_is_served_as_is_and_enlarged_pixel_for_pixel():
    original = Image.open(io.BytesIO(frame_png())).convert("RGB")
    plain = call(server_for(published(), frame_png=frame_png), "GET", "/frame.png")
    assert (plain.status, plain.content_type) == (200, "image/png")
    assert plain.body == frame_png()
    big = call(server_for(published(), frame_png=frame_png), "GET", "/frame.png?scale=8")
    assert big.content_type == "image/png"
    with Image.open(io.BytesIO(big.body)) as image:
        enlarged = image.convert("RGB")
    assert enlarged.size == (512, 512)
    for x, y in ((0, 0), (17, 0), (63, 0), (8, 20), (23, 35), (24, 36), (40, 50)):
        for dx, dy in ((0, 0), (7, 7), (3, 5)):
            assert enlarged.getpixel((x * 8 + dx, y * 8 + dy)) == original.getpixel((x, y))
    assert original.getpixel((8, 20)) == MARKER


@pytest.mark.parametrize("scale", ["0", "17", "two", "-1", "1.5", "²", "١٢", "８", "008"])
def test_frame_scale_out_of_range_is_400_naming_the_range(scale):
    reply = call(server_for(published(), frame_png=frame_png), "GET", "/frame.png",
                 params={"scale": scale})
    assert reply.status == 400
    assert reply.json() == {"error": f"scale: expected a whole number from 1 to 16, "
                                     f"got {scale!r}"}


def test_a_huge_frame_scale_is_400_and_quoted_short():
    reply = call(server_for(published(), frame_png=frame_png), "GET",
                 "/frame.png?scale=" + "1" * 5000)
    assert reply.status == 400
    assert reply.json() == {"error": "scale: expected a whole number from 1 to 16, got '"
                                     + "1" * 59 + "…'"}


# -- the page ----------------------------------------------------------------------------

def test_page_is_html_with_every_component_and_a_strict_content_security_policy():
    status = published(snap("bus", HealthState.HEALTHY),
                       snap("weather", HealthState.ALERTING, last_error_type="http_503",
                            last_error="<script>alert(1)</script>"),
                       notices=(weather_alert(),))
    reply = call(server_for(status, frame_png=frame_png), "GET", "/")
    assert reply.status == 200
    assert reply.content_type.startswith("text/html")
    assert "script-src 'sha256-" in reply.headers["Content-Security-Policy"]
    page = reply.text
    assert '<tr data-component="weather" data-state="alerting">' in page
    assert '<tr data-component="bus" data-state="healthy">' in page
    assert '<g class="state occupied" data-state="alerting">' in page
    assert '<g class="state" data-state="suspect">' in page
    assert "<script>alert(1)</script>" not in page  # error text is untrusted
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'src="frame.png?scale=4&amp;v=' in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_live_part_is_the_page_without_its_frame_of_html():
    status = published(snap("bus", HealthState.SUSPECT))
    reply = call(server_for(status), "GET", "/live")
    assert reply.status == 200
    assert reply.text.startswith('<div id="live-state" data-health="healthy"')
    assert "<html" not in reply.text
    assert '<div class="frame noframe">no frame yet</div>' in reply.text


# -- errors and methods ------------------------------------------------------------------

def test_unknown_path_is_404_json_and_wrong_method_is_405_with_allow():
    missing = call(server_for(published()), "GET", "/nope")
    assert missing.status == 404
    assert missing.json() == {"error": "no such path: /nope"}
    wrong = call(server_for(published()), "GET", "/ping/nas")
    assert wrong.status == 405
    assert wrong.headers["Allow"] == "POST"
    assert wrong.json() == {"error": "GET is not allowed on /ping/nas (allowed: POST)"}


def test_a_port_in_use_is_a_clear_startup_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = StatusServer(f"127.0.0.1:{port}", lambda: published())
        with pytest.raises(StatusServerError, match=f"cannot listen on 127.0.0.1:{port}"):
            asyncio.run(server.start())


# -- access tokens -----------------------------------------------------------------------

def test_binding_beyond_loopback_without_a_token_refuses_to_start():
    with pytest.raises(StatusServerError) as caught:
        StatusServer("0.0.0.0:8787", lambda: published())
    assert str(caught.value) == (
        "refusing to serve the status page on 0.0.0.0:8787 without an access token: set "
        "HUB_HTTP_TOKEN in the environment or .env (clients then send 'Authorization: "
        "Bearer <token>' or '?token=<token>'), or listen on 127.0.0.1 only")
    with pytest.raises(StatusServerError):
        StatusServer("hub.example:8787", lambda: published())  # a name may resolve anywhere


@pytest.mark.parametrize("listen", ["0.0.0.0:0", "127.0.0.1:0"])
def test_with_a_token_every_request_needs_it_by_header_or_query(listen):
    server = StatusServer(listen, lambda: published(snap("bus", HealthState.HEALTHY)),
                          token="s3cret-token", clock=lambda: NOW)

    async def scenario(session: aiohttp.ClientSession, base: str):
        base = base.replace("0.0.0.0", "127.0.0.1")
        return [
            await request(session, "GET", base + "/health"),
            await request(session, "GET", base + "/metrics",
                          headers={"Authorization": "Bearer wrong"}),
            await request(session, "GET", base + "/nope"),
            await request(session, "GET", base + "/health",
                          headers={"Authorization": "Bearer s3cret-token"}),
            await request(session, "GET", base + "/api/status?token=s3cret-token"),
        ]

    missing, wrong, unknown_path, by_header, by_query = serving(server, scenario)
    for reply in (missing, wrong, unknown_path):
        assert reply.status == 401
        assert reply.headers["WWW-Authenticate"] == 'Bearer realm="divoom-hub"'
        assert reply.json() == {"error": "an access token is required: send 'Authorization: "
                                         "Bearer <token>' or add '?token=<token>'"}
        assert b"s3cret" not in reply.body
    assert by_header.status == 200
    assert by_query.status == 200


# -- reports: pings and pushed values ---------------------------------------------------

NAS = HeartbeatMonitor("nas", period_seconds=300, grace_seconds=60)
FRIDGE = ThresholdMonitor("fridge", min_value=1, max_value=6)
SENSOR = ThresholdMonitor("sensor", max_value=30, url="http://127.0.0.1:9/x", path=("t",))


def reporting_server(reports: list[Outcome]) -> StatusServer:
    return server_for(published(), report=reports.append, heartbeats=[NAS],
                      thresholds=[FRIDGE, SENSOR])


def test_a_ping_is_a_success_outcome_for_its_heartbeat():
    reports: list[Outcome] = []
    reply = call(reporting_server(reports), "POST", "/ping/nas")
    assert reply.status == 202
    assert reply.json() == {"component": "nas", "ok": True}
    assert reports == [Outcome.success("nas", NOW)]


def test_a_ping_for_an_unknown_name_is_404_and_reports_nothing():
    reports: list[Outcome] = []
    reply = call(reporting_server(reports), "POST", "/ping/printer")
    assert reply.status == 404
    assert reply.json() == {"error": "no heartbeat monitor named 'printer' (known: nas)"}
    assert reports == []


@pytest.mark.parametrize(("value", "ok", "error_type", "detail"), [
    (4.5, True, "", ""),
    (7.5, False, "above_max", "7.5 > max 6"),
    (-2, False, "below_min", "-2 < min 1"),
    (None, False, "bad_value", "expected a number, got nothing"),
    ("n/a", False, "bad_value", "expected a number, got 'n/a'"),
    (True, False, "bad_value", "expected a number, got True"),
])
def test_a_pushed_value_is_judged_against_its_bounds(value, ok, error_type, detail):
    reports: list[Outcome] = []
    reply = call(reporting_server(reports), "POST", "/api/metric/fridge", json={"value": value})
    assert reply.status == 202
    assert reply.json() == {"component": "fridge", "ok": ok, "error_type": error_type,
                            "detail": detail}
    assert len(reports) == 1
    assert (reports[0].component, reports[0].ok, reports[0].at) == ("fridge", ok, NOW)
    assert (reports[0].error_type, reports[0].detail) == (error_type, detail)


@pytest.mark.parametrize(("body", "message"), [
    (b"21.5", 'expected a JSON object with a "value" key such as {"value": 21.5}, got '
              "'21.5'"),
    (b'{"temp": 3}', 'expected a JSON object with a "value" key such as {"value": 21.5}, '
                     "got '{\"temp\": 3}'"),
    (b"not json", 'expected a JSON object such as {"value": 21.5}: Expecting value: line 1 '
                  "column 1 (char 0)"),
    (b'{"value": NaN}', 'expected a JSON object such as {"value": 21.5}: NaN is not a JSON '
                        "number"),
    (b"\xff\xfe", 'expected a JSON object such as {"value": 21.5}: \'utf-8\' codec can\'t '
                  "decode byte 0xff in position 0: invalid start byte"),
    (b'{"value": ' + b"9" * 400 + b"}", 'expected a JSON object such as {"value": 21.5}: a '
                                       "number with 400 digits is out of range"),
    (b'{"value": -' + b"9" * 5000 + b"}", 'expected a JSON object such as {"value": 21.5}: '
                                         "a number with 5000 digits is out of range"),
    (b'{"value": 1e400}', 'expected a JSON object such as {"value": 21.5}: 1e400 is out of '
                          "range"),
    (b'{"value": ' + b"[" * 7000 + b"]" * 7000 + b"}",
     'expected a JSON object such as {"value": 21.5}: nested deeper than 64 levels'),
])
def test_a_malformed_report_is_400_with_what_was_expected_and_reports_nothing(body, message):
    reports: list[Outcome] = []
    reply = call(reporting_server(reports), "POST", "/api/metric/fridge", data=body,
                 headers=JSON)
    assert reply.status == 400
    assert reply.json() == {"error": message}
    assert reports == []


def test_pushing_to_a_polled_or_unknown_threshold_is_refused():
    reports: list[Outcome] = []
    polled = call(reporting_server(reports), "POST", "/api/metric/sensor", json={"value": 1})
    assert polled.status == 409
    assert polled.json() == {"error": "sensor reads its value from its url; it does not "
                                      "accept pushed values"}
    unknown = call(reporting_server(reports), "POST", "/api/metric/oven", json={"value": 1})
    assert unknown.status == 404
    assert unknown.json() == {"error": "no threshold monitor named 'oven' (known: fridge, "
                                       "sensor)"}
    assert reports == []


def test_an_oversized_report_is_413_json():
    reports: list[Outcome] = []
    reply = call(reporting_server(reports), "POST", "/api/metric/fridge",
                 data=b'{"value": 1, "pad": "' + b"x" * 20000 + b'"}', headers=JSON)
    assert reply.status == 413
    assert reply.json() == {"error": "request body too large (at most 16384 bytes)"}
    assert reports == []


def raw_post(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """A POST exactly as given: aiohttp's client would add a Content-Type of its own."""
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


@pytest.mark.parametrize(("content_type", "shown"), [
    (None, "none"),
    ("text/plain", "'text/plain'"),
    ("application/x-www-form-urlencoded", "'application/x-www-form-urlencoded'"),
])
def test_a_pushed_value_must_say_it_is_json(content_type, shown):
    reports: list[Outcome] = []
    headers = {} if content_type is None else {"Content-Type": content_type}
    status, response = raw_call(reporting_server(reports),
                                raw_post("/api/metric/fridge", b'{"value": 4}', headers))
    assert status == 415
    assert json.loads(response.partition(b"\r\n\r\n")[2]) == {
        "error": f"expected Content-Type: application/json, got {shown}"}
    assert reports == []


# -- posts from web pages ----------------------------------------------------------------

EVIL = "http://evil.example"


def test_a_web_page_elsewhere_can_neither_ping_nor_push():
    reports: list[Outcome] = []
    server = reporting_server(reports)

    async def scenario(session: aiohttp.ClientSession, base: str):
        return [
            await request(session, "POST", base + "/ping/nas", headers={"Origin": EVIL}),
            await request(session, "POST", base + "/api/metric/fridge", json={"value": 9},
                          headers={"Origin": "null"}),
            await request(session, "POST", base + "/ping/nas",
                          headers={"Origin": base.replace("127.0.0.1", "localhost")}),
        ]

    for reply in serving(server, scenario):
        assert reply.status == 403
        assert reply.json()["error"].startswith("refusing a cross-origin POST: Origin ")
        assert reply.json()["error"].endswith(" is not this server (a web page may not post "
                                              "here; scripts send no Origin header)")
    assert reports == []


def test_a_ping_from_a_script_or_from_the_page_itself_counts():
    reports: list[Outcome] = []
    server = reporting_server(reports)

    async def scenario(session: aiohttp.ClientSession, base: str):
        return [
            await request(session, "POST", base + "/ping/nas"),  # curl: no Origin at all
            await request(session, "POST", base + "/ping/nas", headers={"Origin": base}),
            await request(session, "GET", base + "/health", headers={"Origin": EVIL}),
        ]

    ping, own_page, read = serving(server, scenario)
    assert (ping.status, own_page.status, read.status) == (202, 202, 200)
    assert reports == [Outcome.success("nas", NOW)] * 2


# -- malformed requests ------------------------------------------------------------------

def test_a_token_in_bytes_that_are_not_utf8_is_401(caplog):
    server = server_for(published(), token="s3cret-token")
    status, response = raw_call(server, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: "
                                        b"close\r\nAuthorization: Bearer \xff\xfe\r\n\r\n")
    assert status == 401
    assert b"an access token is required" in response
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize(("data", "reason"), [
    (b"GET /health HTTP/1.1\r\nHost: x\r\nAccept: a\x00b\r\n\r\n",
     "Invalid header value char"),
    (b"GET /?token=wrong-but-private HTTP/9.1\r\nHost: x\r\n\r\n", "Bad status line"),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong-but-private\x01\r\n"
     b"\r\n", "Invalid header value char"),
    (b"POST /ping/nas HTTP/1.1\r\nHost: x\r\nContent-Length: many\r\n\r\n",
     "Invalid character in Content-Length"),
])
def test_a_malformed_request_is_400_and_logged_as_one_line_not_an_error(caplog, data, reason):
    caplog.set_level(logging.INFO, logger="hub.web.server")
    status, response = raw_call(server_for(published()), data)
    assert status == 400
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    [line] = [r for r in caplog.records if r.name == "hub.web.server" and "malformed" in r.message]
    assert (line.levelno, line.exc_info) == (logging.INFO, None)
    assert line.getMessage() == f"refused a malformed HTTP request (400): {reason}"
    assert "private" not in caplog.text  # a token in the request line or a header


# -- the display's pages ------------------------------------------------------------------

def test_the_page_names_the_page_on_the_display_and_the_rotation():
    from hub.dashboard import Dashboard
    from hub.display.pages import Page, PageHours, PageKind
    from hub.display.settings import DisplaySettings

    dashboard = Dashboard(DisplaySettings(), None, machines=tuple, pages=(
        Page("dashboard", PageKind.DASHBOARD, 20.0),
        Page("night", PageKind.CLOCK, 8.0, PageHours(frozenset({5, 6}), 22 * 60, 6 * 60))))
    dashboard.render(NOW)
    server = server_for(published(), frame_png=frame_png, pages=dashboard.pages_shown)
    page = call(server, "GET", "/?token=t%26k").text
    assert 'the <b class="page-name">dashboard</b> page' in page
    assert "pages: dashboard 20 s → night (clock) 8 s, sat sun 22:00-06:00" in page
    # The same 8× picture Discord's preview answers with, as a download.
    assert ('<a class="download" href="frame.png?scale=8&amp;token=t%26k" '
            'download="pixoo-frame.png">download ×8</a>') in page


def test_without_pages_the_caption_only_offers_the_download():
    from hub.dashboard import Dashboard
    from hub.display.settings import DisplaySettings

    dashboard = Dashboard(DisplaySettings(), None, machines=tuple)
    server = server_for(published(), frame_png=frame_png, pages=dashboard.pages_shown)
    page = call(server, "GET", "/").text
    assert "page-name" not in page and "pages:" not in page
    assert '<figcaption>on the display<br><a class="download" href="frame.png?scale=8"' in page
    assert "download ×8" not in call(server_for(published()), "GET", "/").text  # no frame yet
