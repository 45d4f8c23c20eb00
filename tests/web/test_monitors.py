"""Heartbeat and threshold monitors: config, the polled reading, and whole incidents on
virtual time through `hub.streams.health_notices`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import reactivex
import requests
from reactivex import operators as ops
from reactivex.testing import TestScheduler

from hub.config import ConfigError, parse_config
from hub.ingest.pings import HeartbeatMonitor
from hub.poller import poll_outcomes
from hub.sources.threshold import ThresholdMonitor, read_threshold, value_at
from hub.streams import health_notices, to_seconds
from machines import HealthMachines, HealthState, Notice, Outcome, Policy

PATH = Path("/etc/hub.toml")


def parse(*monitors: dict[str, Any]):
    return parse_config({"monitor": list(monitors)}, PATH)


# -- config ------------------------------------------------------------------------------

def test_heartbeat_and_threshold_tables_become_monitors_beside_http_checks():
    config = parse(
        {"kind": "heartbeat", "name": "nas", "period_seconds": 300, "grace_seconds": 60},
        {"kind": "threshold", "name": "fridge", "max": 6},
        {"kind": "threshold", "name": "sensor", "min": -10, "max": 30.5,
         "url": "http://10.0.0.7/data.json", "path": "sensors.0.temp", "every_seconds": 120},
        {"kind": "http", "name": "router", "url": "http://10.0.0.1/"},
    )
    assert config.heartbeats == (HeartbeatMonitor("nas", 300.0, 60.0),)
    assert config.thresholds == (
        ThresholdMonitor("fridge", max_value=6.0),
        ThresholdMonitor("sensor", min_value=-10.0, max_value=30.5,
                         url="http://10.0.0.7/data.json", path=("sensors", "0", "temp"),
                         every_seconds=120.0))
    assert [m.name for m in config.monitors] == ["router"]
    assert config.thresholds[0].is_pushed and not config.thresholds[1].is_pushed


@pytest.mark.parametrize(("table", "message"), [
    ({"kind": "heartbeat", "name": "nas", "grace_seconds": 60},
     "[[monitor]] #1 (heartbeat): period_seconds: expected a number > 0 (how often the "
     "device pings, in seconds), got None"),
    ({"kind": "heartbeat", "name": "nas", "period_seconds": 300, "grace_seconds": -1},
     "[[monitor]] #1 (heartbeat): grace_seconds: expected a number >= 0 (how late a ping may "
     "be before it counts as missed), got -1"),
    ({"kind": "heartbeat", "name": "nas", "period_seconds": 0, "grace_seconds": 1},
     "period_seconds: expected a number > 0"),
    ({"kind": "heartbeat", "name": "nas", "period_seconds": 60, "grace_seconds": 1,
      "url": "http://x/"},
     "[[monitor]] #1 (heartbeat): url: unknown key (known: kind, grace_seconds, name, "
     "period_seconds)"),
    ({"kind": "heartbeat", "name": "Bad Name", "period_seconds": 60, "grace_seconds": 1},
     "name: expected a short lowercase name"),
    ({"kind": "heartbeat", "name": "pixoo", "period_seconds": 60, "grace_seconds": 1},
     "name: expected a name not used by a built-in component"),
    ({"kind": "threshold", "name": "fridge"},
     "[[monitor]] #1 (threshold): min: expected at least one of min and max, got None"),
    ({"kind": "threshold", "name": "fridge", "min": 8, "max": 6},
     "max: expected a number >= min (8), got 6.0"),
    ({"kind": "threshold", "name": "fridge", "max": "6"},
     "max: expected a number (the highest acceptable value), got '6'"),
    ({"kind": "threshold", "name": "fridge", "max": 6, "path": "t"},
     "path: expected no value: without url, values are pushed to POST /api/metric/fridge, "
     "got 't'"),
    ({"kind": "threshold", "name": "fridge", "max": 6, "url": "ftp://x/"},
     "url: expected an http:// or https:// URL, got 'ftp://x/'"),
    ({"kind": "threshold", "name": "fridge", "max": 6, "url": "http://x/", "path": "a..b"},
     "path: expected a dotted path such as \"sensors.0.temp\" (no empty parts), got 'a..b'"),
    ({"kind": "threshold", "name": "fridge", "max": 6, "url": "http://x/",
      "every_seconds": 0},
     "every_seconds: expected a number >= 0.05 (seconds between reads), got 0"),
    ({"kind": "smoke", "name": "x"},
     "[[monitor]] #1: kind: expected one of http, heartbeat, threshold, alertmanager, got 'smoke'"),
])
def test_a_bad_monitor_table_names_file_table_key_and_expectation(table, message):
    with pytest.raises(ConfigError) as caught:
        parse(table)
    assert str(caught.value).startswith(f"{PATH}: ")
    assert message in str(caught.value)


def test_monitor_names_are_unique_across_kinds():
    with pytest.raises(ConfigError, match=r"#2: name: 'nas' is already used by another monitor"):
        parse({"kind": "heartbeat", "name": "nas", "period_seconds": 60, "grace_seconds": 5},
              {"kind": "threshold", "name": "nas", "max": 1})


# -- judging a value ---------------------------------------------------------------------

@pytest.mark.parametrize(("value", "error_type", "detail"), [
    (20, "", ""),
    (-5, "", ""),
    (21.5, "above_max", "21.5 > max 20"),
    (-5.25, "below_min", "-5.25 < min -5"),
    (float("nan"), "bad_value", "expected a number, got nan"),
    ([1], "bad_value", "expected a number, got [1]"),
    ("x" * 100, "bad_value", "expected a number, got 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…"),
])
def test_a_value_outside_its_bounds_fails_saying_value_and_bound(value, error_type, detail):
    outcome = ThresholdMonitor("t", min_value=-5, max_value=20).judge(value, 7.0)
    assert (outcome.ok, outcome.error_type, outcome.detail) == (not error_type, error_type,
                                                                 detail)
    assert outcome.at == 7.0


def test_value_at_follows_keys_and_indexes_and_says_where_it_stopped():
    document = {"sensors": [{"temp": 4.5}, {"temp": None}], "name": "x"}
    assert value_at(document, ("sensors", "0", "temp")) == 4.5
    assert value_at(document, ()) == document
    for path, message in [
        (("sensors", "2", "temp"), "no item '2' in sensors (2 items)"),
        (("sensors", "0", "hum"), "no key 'hum' in sensors.0"),
        (("name", "first"), "name is not an object or array, cannot take 'first'"),
        (("probe",), "no key 'probe' in the document"),
    ]:
        with pytest.raises(LookupError) as caught:
            value_at(document, path)
        assert str(caught.value) == message


# -- a sensor speaking HTTP --------------------------------------------------------------

class Sensor:
    """A local device serving a JSON document; the test sets each next answer."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, bytes]] = []
        self.requests = 0
        sensor = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                sensor.requests += 1
                status, body = sensor.answers.pop(0) if len(sensor.answers) > 1 \
                    else sensor.answers[0]
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/data.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def reading(temp: Any) -> tuple[int, bytes]:
        return 200, json.dumps({"sensors": [{"temp": temp}]}).encode()

    @contextmanager
    def running(self) -> Iterator[Sensor]:
        self.thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=5)


@pytest.fixture
def sensor() -> Iterator[Sensor]:
    with Sensor().running() as running:
        yield running


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def sensor_monitor(url: str) -> ThresholdMonitor:
    return ThresholdMonitor("fridge", min_value=1, max_value=6, url=url,
                            path=("sensors", "0", "temp"), timeout_seconds=2)


@pytest.mark.parametrize(("answer", "ok", "error_type", "detail"), [
    (Sensor.reading(4.5), True, "", ""),
    (Sensor.reading(7.25), False, "above_max", "7.25 > max 6"),
    (Sensor.reading("err"), False, "bad_value", "expected a number, got 'err'"),
    ((200, b'{"sensors": []}'), False, "bad_value",
     "sensors.0.temp: no item '0' in sensors (0 items)"),
    ((200, b"<html>"), False, "bad_json",
     "not a JSON document: Expecting value: line 1 column 1 (char 0)"),
    ((200, b'{"sensors": [{"temp": NaN}]}'), False, "bad_json",
     "not a JSON document: NaN is not a JSON number"),
    ((200, b'{"sensors": [{"temp": ' + b"9" * 400 + b"}]}"), False, "bad_json",
     "not a JSON document: a number with 400 digits is out of range"),
    ((200, b"[" * 7000 + b"]" * 7000), False, "bad_json",
     "not a JSON document: nested deeper than 64 levels"),
    ((503, b"{}"), False, "http_503", "503 Service Unavailable"),
])
def test_reading_a_sensor_never_raises_and_names_what_went_wrong(sensor, session, answer, ok,
                                                                 error_type, detail):
    sensor.answers = [answer]
    ticks = iter([100.0, 100.25])
    outcome = read_threshold(session, sensor_monitor(sensor.url), lambda: next(ticks))
    assert (outcome.ok, outcome.error_type, outcome.detail) == (ok, error_type, detail)
    assert (outcome.at, outcome.latency_seconds) == (100.25, 0.25)


def test_an_unreachable_sensor_is_a_connect_failure(session):
    with Sensor().running() as gone:
        url = gone.url
    outcome = read_threshold(session, sensor_monitor(url), lambda: 5.0)
    assert (outcome.ok, outcome.error_type, outcome.detail) == (False, "connect",
                                                                "connection refused")


# -- whole incidents on virtual time -----------------------------------------------------

def kinds(notices: list[Notice]) -> list[tuple[float, str]]:
    return [(n.at, n.kind.value) for n in notices]


def test_a_heartbeat_whose_owner_debounces_it_alerts_after_that_many_silences_and_recovers():
    nas = HeartbeatMonitor("nas", period_seconds=60, grace_seconds=30)  # silence limit 90 s
    # as from `[policy.nas] failures_before_alert = 3`
    policy = nas.policy(Policy(failures_before_alert=3, remind_after_seconds=0),
                        owner_keys={"failures_before_alert", "remind_after_seconds"})
    scheduler = TestScheduler()
    machines = HealthMachines()
    machines.add("nas", policy, 0.0)  # before subscribing: a device that never pings counts
    # pings at 50, 110, 170, then silence until 1000
    pings = reactivex.hot("-----p-----p-----p" + "-" * 82 + "p", timespan=10,
                          lookup={"p": nas.ping(0.0)}, scheduler=scheduler)
    seen: list[Notice] = []
    health_notices(pings, machines, scheduler).subscribe(seen.append)
    scheduler.advance_to(999)
    # stale failures at 260, 350, 440: the third alerts
    assert kinds(seen) == [(440, "alert")]
    assert (seen[0].error_type, seen[0].error_detail) == ("stale", "no outcome for 90 s")
    assert machines.state("nas") is HealthState.ALERTING
    scheduler.advance_to(1200)
    assert kinds(seen) == [(440, "alert"), (1000, "recovery")]
    assert seen[1].downtime_seconds == 1000 - 260


def test_a_heartbeat_that_never_pings_alerts_from_the_start():
    nas = HeartbeatMonitor("nas", period_seconds=300, grace_seconds=60)
    scheduler = TestScheduler()
    machines = HealthMachines()
    machines.add("nas", nas.policy(Policy(failures_before_alert=1)), 0.0)
    seen: list[Notice] = []
    health_notices(reactivex.never(), machines, scheduler).subscribe(seen.append)
    scheduler.advance_to(359)
    assert seen == []
    scheduler.advance_to(360)
    assert kinds(seen) == [(360, "alert")]


def test_pushed_values_out_of_bounds_alert_with_value_and_bound_then_recover():
    fridge = ThresholdMonitor("fridge", min_value=1, max_value=6)
    scheduler = TestScheduler()
    readings = {"a": 4.0, "b": 6.5, "c": 7.25, "d": 8.0, "e": 5.0}
    # the owner's clock stamps each pushed value as it arrives (hub.web.server does the judging)
    values = reactivex.hot("-a-b-c-d-e", timespan=60, lookup=readings, scheduler=scheduler)
    outcomes = values.pipe(ops.map(
        lambda v: fridge.judge(v, to_seconds(scheduler.now))))
    seen: list[Notice] = []
    health_notices(outcomes, HealthMachines(), scheduler,
                   lambda _: Policy(failures_before_alert=3)).subscribe(seen.append)
    scheduler.advance_to(1000)
    assert kinds(seen) == [(420, "alert"), (540, "recovery")]
    assert (seen[0].error_type, seen[0].error_detail) == ("above_max", "8 > max 6")
    assert seen[0].failures == 3
    assert seen[1].downtime_seconds == 540 - 180


class InlineExecutor(Executor):
    """Runs each poll at once on the calling thread, so virtual time stays single-threaded."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_a_polled_sensor_alerts_and_recovers_on_virtual_time(sensor, session):
    sensor.answers = [Sensor.reading(t) for t in (4.0, 9.0, 9.5, 10.0, 5.5, 5.0)]
    monitor = sensor_monitor(sensor.url)
    scheduler = TestScheduler()

    def clock() -> float:
        return to_seconds(scheduler.now)

    outcomes = poll_outcomes("fridge", lambda: read_threshold(session, monitor, clock),
                             monitor.every_seconds, scheduler, InlineExecutor())
    seen: list[Notice] = []
    health_notices(outcomes, HealthMachines(), scheduler,
                   lambda _: Policy(failures_before_alert=3)).subscribe(seen.append)
    scheduler.advance_to(400)
    # reads at 0, 60, 120, 180, 240, …: out of bounds at 60, 120, 180
    assert kinds(seen) == [(180, "alert"), (240, "recovery")]
    assert seen[0].error_detail == "10 > max 6"
    assert seen[1].downtime_seconds == 180
    assert sensor.requests == 7  # one read per minute, none skipped or doubled


def test_the_outcome_of_a_ping_is_a_plain_success():
    assert HeartbeatMonitor("nas", 1, 1).ping(12.5) == Outcome.success("nas", 12.5)


# -- when a heartbeat alerts, from hub.toml through the real world and machines ----------

NIGHTLY = """
[[monitor]]
kind = "heartbeat"
name = "backup"
period_seconds = 86400
"""


def first_heartbeat_alert(toml: str, ping_at: float | None = None) -> float | None:
    """When the `backup` heartbeat of `toml` first alerts, on virtual time: its policy is
    the one `divoom-hub run` gives it (`real_world`), its machine is added at 0, and it
    pings once at `ping_at` (or never)."""
    import tomllib

    from hub.world import real_world

    config = parse_config(tomllib.loads(toml), PATH)
    scheduler = TestScheduler()
    world = real_world(config, scheduler)
    try:
        machines = HealthMachines()
        for watched in world.watched:
            machines.add(watched.name, watched.policy, 0.0)
        (backup,) = config.heartbeats
        pings: reactivex.Observable[Outcome] = reactivex.never()
        if ping_at is not None:  # one ping, and the stream stays open like the server's
            pings = reactivex.concat(reactivex.timer(ping_at, scheduler=scheduler).pipe(
                ops.map(lambda _: backup.ping(to_seconds(scheduler.now)))), pings)
        seen: list[Notice] = []
        health_notices(pings, machines, scheduler).subscribe(seen.append)
        scheduler.advance_to(30 * 86400)
    finally:
        world.close()
    alerts = [n.at for n in seen if n.kind.value == "alert"]
    return alerts[0] if alerts else None


def test_a_nightly_heartbeat_alerts_one_period_and_its_grace_after_the_last_ping():
    # No grace given: a tenth of the day, 2.4 hours.
    assert first_heartbeat_alert(NIGHTLY) == 86400 + 8640
    assert first_heartbeat_alert(NIGHTLY, ping_at=3600) == 3600 + 86400 + 8640
    assert first_heartbeat_alert(NIGHTLY + "grace_seconds = 3600\n") == 86400 + 3600


def test_the_default_grace_is_a_tenth_of_the_period_but_a_minute_at_least():
    from hub.ingest.pings import default_grace_seconds

    assert default_grace_seconds(86400) == 8640
    assert default_grace_seconds(60) == 60


def test_the_debounce_in_policy_is_for_polled_sources_not_for_a_heartbeat():
    debounced = "[policy]\nfailures_before_alert = 5\nfailing_for_seconds = 600\n"
    assert first_heartbeat_alert(debounced + NIGHTLY) == 86400 + 8640


def test_the_owners_policy_for_the_heartbeat_still_wins():
    # Alert at the third silent period: three days and three graces.
    owner = "[policy.backup]\nfailures_before_alert = 3\n"
    assert first_heartbeat_alert(owner + NIGHTLY) == 3 * (86400 + 8640)
    # A [policy.backup] that says nothing about the debounce leaves the first miss alerting.
    reminders = "[policy.backup]\nremind_after_seconds = 3600\n"
    assert first_heartbeat_alert(reminders + NIGHTLY) == 86400 + 8640
