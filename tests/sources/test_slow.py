"""Slow answers (docs/alerting-rules.md, "Slow answers"): a success slower than
`slow_after_seconds` is a failure `slow`, for `http` monitors, `[bus]` and `[weather]`.

The fakes answer at once; the latency is what the source measures with its injected
clock, which here moves by a set step at each reading, so no time passes for real.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from hub.config import ConfigError, load_config
from hub.sources.bus import poll_bus
from hub.sources.http import HttpCheck, check_http
from hub.sources.weather import WeatherSettings, WeatherSource
from machines import HealthMachines, NoticeKind, Policy
from tests.fakes.entur import Call, FakeEntur
from tests.fakes.met import FakeMet
from tests.fakes.target import Target
from tests.sources.test_bus import NOW as BUS_NOW
from tests.sources.test_bus import STORO, settings
from tests.sources.test_weather import NOW as WEATHER_NOW
from tests.sources.test_weather import UA, document


class SteppingClock:
    """Moves on by `step` seconds each time it is read: a request takes exactly `step`."""

    def __init__(self, start: float, step: float) -> None:
        self.now, self.step = start, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def http_check(url: str, **overrides: object) -> HttpCheck:
    table = {"name": "web", "url": url, "timeout_seconds": 10, "slow_after_seconds": 5,
             **overrides}
    return HttpCheck.from_table(table, Path("hub.toml"), 1)


def test_a_slow_http_success_is_a_slow_failure_with_the_time_and_the_limit(session):
    with Target().running() as target:
        slow = check_http(session, http_check(target.url), SteppingClock(1000.0, 9.2))
        quick = check_http(session, http_check(target.url), SteppingClock(1000.0, 4.9))
        off = check_http(session, http_check(target.url, slow_after_seconds=0),
                         SteppingClock(1000.0, 9.2))
    assert (slow.ok, slow.error_type, slow.detail) == (
        False, "slow", "answered in 9.2 s, limit 5 s")
    assert slow.latency_seconds == pytest.approx(9.2)
    assert quick.ok and off.ok


def test_a_failure_stays_what_it_was_however_slow(session):
    with Target().running() as target:
        target.status = 503
        outcome = check_http(session, http_check(target.url), SteppingClock(1000.0, 9.2))
    assert outcome.error_type == "http_503"


def test_a_slow_bus_answer_is_slow_and_keeps_its_departures(session):
    fake = FakeEntur(BUS_NOW)
    fake.add_quay(STORO, "Storo", [Call("54", "Kjelsås stasjon", 3)])
    with fake.running():
        outcome = poll_bus(session, settings(fake.url, quays=(STORO,), labels=("S",),
                                             timeout_seconds=10.0, slow_after_seconds=3.0),
                           SteppingClock(BUS_NOW, 3.5))
    assert (outcome.ok, outcome.error_type, outcome.detail) == (
        False, "slow", "answered in 3.5 s, limit 3 s")
    assert outcome.data is not None  # the board still reaches the display


def test_a_slow_weather_answer_is_slow_and_three_of_them_alert(session):
    with FakeMet(WEATHER_NOW, document()).running() as met:
        weather = WeatherSource(session, WeatherSettings(
            lat=59.9, lon=10.75, user_agent=UA, endpoint=met.url, timeout_seconds=10.0,
            slow_after_seconds=2.0), SteppingClock(WEATHER_NOW, 2.5), ZoneInfo("UTC"))
        outcomes = [weather.poll() for _ in range(3)]
    assert [(o.ok, o.error_type) for o in outcomes] == [(False, "slow")] * 3
    assert outcomes[0].detail == "answered in 2.5 s, limit 2 s"
    machines = HealthMachines()
    machines.add("weather", Policy(failures_before_alert=3), WEATHER_NOW)
    notices = [n for o in outcomes for n in machines.observe(o, o.at)]
    assert [(n.kind, n.error_type) for n in notices] == [(NoticeKind.ALERT, "slow")]


@pytest.mark.parametrize(("section", "message"), [
    ("[[monitor]]\nkind = \"http\"\nname = \"web\"\nurl = \"http://127.0.0.1:1/\"\n"
     "timeout_seconds = 5\nslow_after_seconds = 5\n",
     "slow_after_seconds: expected 0 (off) or a number of seconds below timeout_seconds (5)"),
    ("[weather]\nlat = 1\nlon = 1\nuser_agent = \"x/1 a@b.org\"\nslow_after_seconds = -1\n",
     "slow_after_seconds"),
])
def test_a_bad_slow_limit_names_the_file_and_the_key(tmp_path, section, message):
    path = tmp_path / "hub.toml"
    path.write_text(section, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and message in str(err.value)
