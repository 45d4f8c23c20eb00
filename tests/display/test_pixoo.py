"""The Pixoo client against the fake device: frames, resets, pacing, failures, fallback.

The client's clock is virtual (a number the test moves); the fake is a real HTTP server,
so only request timeouts take real time, and those are set to a fraction of a second.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from PIL import Image

from hub.config import ConfigError
from hub.display.frame import encode_frame
from hub.display.pixoo import (
    BACKOFF_MAX_SECONDS,
    WEDGED_DETAIL,
    PixooClient,
    PixooSettings,
    backoff_seconds,
    command_url,
)
from tests.fakes.pixoo import DEFAULT_BRIGHTNESS, FakePixoo, fake_pixoo


class Clock:
    """Virtual epoch seconds for the client."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def frame(n: int) -> Image.Image:
    """A distinct, recognisable 64×64 frame for every n."""
    image = Image.new("RGB", (64, 64), (n % 256, (n * 7) % 256, (n * 13) % 256))
    image.putpixel((n % 64, (n // 64) % 64), (255, 255, 255))
    return image


def b64(n: int) -> str:
    return encode_frame(frame(n))


@contextmanager
def client_for(fake: FakePixoo, clock: Clock, *, fallback_port: int | None = None,
               **settings: object) -> Iterator[PixooClient]:
    values: dict[str, object] = {"url": f"http://{fake.address}/post", "timeout_seconds": 0.5}
    values.update(settings)
    with requests.Session() as session:
        yield PixooClient(PixooSettings(**values),  # type: ignore[arg-type]
                          session, clock, fallback_port=fallback_port or fake.port)


def closed_port() -> int:
    """A port nothing listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- frames and GIF ids --------------------------------------------------------------


def test_frames_decoded_by_the_device_equal_the_pushed_images():
    clock = Clock()
    with fake_pixoo() as fake, client_for(fake, clock) as client:
        for n in range(5):
            outcomes = client.update(frame(n), brightness=50)
            assert all(o.ok and o.component == "pixoo" for o in outcomes), outcomes
            clock.now += 1
        assert [f.image.tobytes() for f in fake.frames] == [frame(n).tobytes() for n in range(5)]
        assert [f.pic_id for f in fake.frames] == [1, 2, 3, 4, 5]
        assert fake.dropped == []


def test_the_gif_id_is_reset_before_the_first_frame_and_every_reset_every_frames():
    clock = Clock()
    with fake_pixoo() as fake, client_for(fake, clock, reset_every=3) as client:
        for n in range(7):
            assert client.push(b64(n)).ok
            clock.now += 1
        draws = [c for c in fake.commands if c.startswith("Draw/")]
        reset, send = "Draw/ResetHttpGifId", "Draw/SendHttpGif"
        assert draws == [reset, send, send, send, reset, send, send, send, reset, send]
        assert [f.pic_id for f in fake.frames] == [1, 2, 3, 1, 2, 3, 1]
        assert fake.dropped == []


def test_the_lock_up_never_happens_over_a_thousand_frames():
    clock = Clock()
    # The fake locks up after 150 frames without a reset; the default resets every 100.
    with fake_pixoo(lockup_after=150) as fake, client_for(fake, clock) as client:
        for n in range(1000):
            outcome = client.push(b64(n))
            assert outcome is not None and outcome.ok, (n, outcome)
            clock.now += 1
        assert not fake.is_locked
        assert len(fake.frames) == 1000 and fake.dropped == []
        assert fake.resets == 10


def test_without_resets_the_device_locks_up_and_the_client_reports_it_wedged():
    clock = Clock()
    with fake_pixoo(lockup_after=5) as fake, \
            client_for(fake, clock, reset_every=10_000, timeout_seconds=0.2) as client:
        for n in range(5):
            assert client.push(b64(n)).ok
            clock.now += 1
        assert fake.is_locked  # the fake imitates the real lock-up ...
        seen = []
        for n in range(3):
            clock.now += BACKOFF_MAX_SECONDS
            seen.append(client.push(b64(n)))
        # ... and the client tells a hung API from a dead device: the ping still answers.
        assert [(o.ok, o.error_type) for o in seen] == [
            (False, "timeout"), (False, "timeout"), (False, "wedged")]
        assert seen[-1].detail == WEDGED_DETAIL
        fake.power_cycle()
        clock.now += BACKOFF_MAX_SECONDS
        assert client.push(b64(99)).ok  # reset again after the errors: shown, not dropped
        assert fake.frames[-1].image.tobytes() == frame(99).tobytes()


def test_never_more_than_one_push_per_second():
    clock = Clock()
    with fake_pixoo() as fake, client_for(fake, clock) as client:
        pushed_at = []
        for n in range(240):  # a frame every quarter second for a minute
            outcomes = client.update(frame(n), brightness=50)
            pushed_at += [clock.now for _ in fake.frames[len(pushed_at):]]
            assert all(o.ok for o in outcomes)
            clock.now += 0.25
        assert len(fake.frames) == 60
        assert all(b - a >= 1.0 for a, b in zip(pushed_at, pushed_at[1:], strict=False))


def test_an_unchanged_frame_is_not_pushed_again_until_the_refresh():
    clock = Clock()
    with fake_pixoo() as fake, client_for(fake, clock, ping_every_seconds=3600) as client:
        for _ in range(59):
            client.update(frame(1), brightness=50)
            clock.now += 1
        assert len(fake.frames) == 1
        clock.now += 1  # 60 s after the first push: sent again in case it was dropped
        client.update(frame(1), brightness=50)
        assert len(fake.frames) == 2


# -- failures ---------------------------------------------------------------------------


def test_error_code_other_than_zero_is_a_device_error_naming_the_code():
    clock = Clock()
    with fake_pixoo() as fake, client_for(fake, clock) as client:
        fake.fail_with(7)
        outcome = client.push(b64(1))
        assert (outcome.ok, outcome.error_type) == (False, "device_error")
        assert "error_code 7" in outcome.detail
        fake.fail_with("Request data illegal json")
        ping = client.ping()
        assert (ping.ok, ping.error_type) == (False, "device_error")
        assert "Request data illegal json" in ping.detail


def test_a_reply_that_is_not_json_is_a_bad_reply_for_pushes_and_pings():
    clock = Clock()
    with fake_pixoo() as fake, client_for(fake, clock) as client:
        fake.garbage()
        push, ping = client.push(b64(1)), client.ping()
        assert [(o.ok, o.error_type) for o in (push, ping)] == [
            (False, "bad_reply"), (False, "bad_reply")]
        assert "not JSON" in ping.detail


def test_ping_truly_fails_when_the_device_is_unreachable():
    clock = Clock()
    with fake_pixoo() as fake, client_for(fake, clock) as client:
        assert client.ping().ok
        fake.offline()
        refused = client.ping()
        assert (refused.ok, refused.error_type, refused.component) == (False, "connect", "pixoo")
        assert "refused" in refused.detail
        fake.online()
        assert client.ping().ok


def test_ping_of_a_hanging_device_times_out():
    clock = Clock()
    with fake_pixoo() as fake, client_for(fake, clock, timeout_seconds=0.2) as client:
        fake.hang()
        ping = client.ping()
        assert (ping.ok, ping.error_type) == (False, "timeout")
        assert "0.2 s" in ping.detail


def test_after_errors_pushes_back_off_exponentially_up_to_a_minute():
    clock = Clock(0.0)
    with fake_pixoo() as fake, client_for(fake, clock) as client:
        fake.offline()
        attempts = []
        for _ in range(400):
            outcome = client.push(b64(1))
            if outcome is not None:
                assert (outcome.ok, outcome.error_type) == (False, "connect")
                attempts.append(clock.now)
            clock.now += 0.5
        gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
        assert gaps == [2, 4, 8, 16, 32, 60, 60]
        fake.online()
        clock.now = attempts[-1] + 60
        assert client.push(b64(2)).ok
        assert fake.frames[-1].image.tobytes() == frame(2).tobytes()


def test_backoff_grows_from_two_seconds_and_is_capped():
    assert [backoff_seconds(k) for k in range(0, 9)] == [0, 2, 4, 8, 16, 32, 60, 60, 60]


def test_a_device_on_divoom_api_is_found_after_a_404_and_remembered():
    clock = Clock()
    with fake_pixoo(api_path="/divoom_api") as fake, client_for(fake, clock) as client:
        for n in range(3):
            assert client.push(b64(n)).ok
            clock.now += 1
        assert client.endpoint == f"http://127.0.0.1:{fake.port}/divoom_api"
        assert fake.not_found == ["/post"]  # asked once, then remembered
        assert [f.image.tobytes() for f in fake.frames] == [frame(n).tobytes() for n in range(3)]


def test_a_device_on_port_9000_is_found_when_the_configured_port_refuses():
    clock = Clock()
    with fake_pixoo(api_path="/divoom_api") as fake, \
            client_for(fake, clock, url=f"http://127.0.0.1:{closed_port()}/post") as client:
        assert client.ping().ok
        assert client.endpoint == f"http://127.0.0.1:{fake.port}/divoom_api"


def test_when_neither_endpoint_answers_the_failure_names_both():
    clock = Clock()
    port = closed_port()
    with requests.Session() as session:
        client = PixooClient(PixooSettings(url=f"http://127.0.0.1:{port}/post"), session,
                             clock, fallback_port=port)
        ping = client.ping()
    assert (ping.ok, ping.error_type) == (False, "connect")
    assert "refused" in ping.detail and "/divoom_api" in ping.detail


# -- brightness --------------------------------------------------------------------------


def test_brightness_is_applied_and_changed_when_the_schedule_changes():
    clock = Clock()
    with fake_pixoo() as fake, client_for(fake, clock) as client:
        client.update(frame(1), brightness=80)
        clock.now += 1
        client.update(frame(2), brightness=80)
        clock.now += 1
        client.update(frame(3), brightness=10)
        assert fake.brightness_log == [80, 10]


def test_brightness_is_applied_again_when_the_device_returns_from_an_outage():
    clock = Clock()
    with fake_pixoo() as fake, client_for(fake, clock) as client:
        client.update(frame(1), brightness=30)
        assert fake.brightness == 30
        fake.offline()
        clock.now += 1
        assert not any(o.ok for o in client.update(frame(2), brightness=30))
        fake.power_cycle()  # the outage was a power cut: the device forgot everything
        fake.online()
        assert fake.brightness == DEFAULT_BRIGHTNESS
        clock.now += BACKOFF_MAX_SECONDS
        outcomes = client.update(frame(3), brightness=30)
        assert outcomes and all(o.ok for o in outcomes)
        assert fake.brightness == 30
        assert fake.frames[-1].image.tobytes() == frame(3).tobytes()


def test_a_restart_between_pings_is_noticed_and_gif_id_and_brightness_set_again():
    clock = Clock()
    with fake_pixoo() as fake, client_for(fake, clock, ping_every_seconds=10) as client:
        for n in range(5):
            client.update(frame(n), brightness=DEFAULT_BRIGHTNESS - 1)
            clock.now += 1
        fake.power_cycle()  # a quick restart: no request failed
        client.update(frame(5), brightness=DEFAULT_BRIGHTNESS - 1)  # not a ping yet
        assert fake.dropped == [6]  # acknowledged and dropped, as the real one does
        clock.now += 10
        client.update(frame(6), brightness=DEFAULT_BRIGHTNESS - 1)  # the ping notices
        assert fake.frames[-1].image.tobytes() == frame(6).tobytes()
        assert fake.brightness == DEFAULT_BRIGHTNESS - 1


def test_a_restart_that_keeps_the_brightness_is_noticed_by_the_gif_id():
    clock = Clock()
    with fake_pixoo() as fake, client_for(fake, clock, ping_every_seconds=10) as client:
        for n in range(3):
            client.update(frame(n), brightness=DEFAULT_BRIGHTNESS)
            clock.now += 1
        fake.power_cycle()
        clock.now += 10
        client.update(frame(1), brightness=DEFAULT_BRIGHTNESS)  # unchanged, yet re-sent
        assert fake.frames[-1].image.tobytes() == frame(1).tobytes()
        assert fake.dropped == []


def test_a_successful_ping_does_not_hide_failing_pushes():
    clock = Clock()
    with fake_pixoo(lockup_after=2) as fake, \
            client_for(fake, clock, reset_every=10_000, timeout_seconds=0.2,
                       ping_every_seconds=1) as client:
        seen = []
        for n in range(40):
            seen += client.update(frame(n), brightness=50)
            clock.now += 5
        failures = [o for o in seen if not o.ok]
        after_first_failure = seen[seen.index(failures[0]):]
        assert all(not o.ok for o in after_first_failure)
        assert failures[-1].error_type == "wedged"


# -- configuration ----------------------------------------------------------------------

PATH = Path("hub.toml")


@pytest.mark.parametrize(("address", "url"), [
    ("192.168.1.50", "http://192.168.1.50/post"),
    ("pixoo.lan:8080", "http://pixoo.lan:8080/post"),
    ("http://192.168.1.50", "http://192.168.1.50/post"),
    ("http://192.168.1.50/", "http://192.168.1.50/post"),
    ("http://10.0.0.5:9000/divoom_api", "http://10.0.0.5:9000/divoom_api"),
    ("[fe80::1]:80", "http://[fe80::1]:80/post"),
])
def test_an_address_may_be_a_host_a_host_and_port_or_a_url(address, url):
    assert command_url(address) == url
    assert PixooSettings.from_table({"address": address}, PATH).url == url


@pytest.mark.parametrize("address", [
    "", "https://192.168.1.50", "192.168.1.50/post", "pixoo:99999", "pixoo:x",
    "http://user:pw@pixoo/", "http://pixoo/?x=1", "pixo o", 42,
])
def test_a_bad_address_names_the_key_and_what_was_expected(address):
    with pytest.raises(ConfigError, match=r"hub\.toml: \[pixoo\] address: expected an IP"):
        PixooSettings.from_table({"address": address}, PATH)


def test_defaults_are_safe_for_the_device():
    settings = PixooSettings.from_table({"address": "10.0.0.9"}, PATH)
    assert (settings.timeout_seconds, settings.reset_every, settings.ping_every_seconds) == (
        3.0, 100, 30.0)
    schedule = settings.schedule(None)
    assert (schedule.day_hours, schedule.day, schedule.night) == ((420, 1320), 80, 20)


@pytest.mark.parametrize(("table", "message"), [
    ({}, r"\[pixoo\] address: required"),
    ({"address": "p", "port": 80}, r"\[pixoo\] port: unknown key \(known: address, "),
    ({"address": "p", "timeout_seconds": 0}, r"timeout_seconds: expected a number from 0.1"),
    ({"address": "p", "timeout_seconds": "3"}, r"timeout_seconds: expected a number"),
    ({"address": "p", "reset_every": 500}, r"reset_every: expected a whole number from 1 to "
                                           r"200 \(the device locks up"),
    ({"address": "p", "reset_every": 10.5}, r"reset_every: expected a whole number"),
    ({"address": "p", "brightness_day": 101}, r"brightness_day: expected a whole number from "
                                              r"0 to 100, got 101"),
    ({"address": "p", "brightness_night": -1}, r"brightness_night: expected a whole number"),
    ({"address": "p", "brightness_night": True}, r"brightness_night: expected a whole number"),
    ({"address": "p", "ping_every_seconds": 0.5}, r"ping_every_seconds: expected a number"),
    ({"address": "p", "day_hours": "7-22"}, r"day_hours: expected local hours 'HH:MM-HH:MM'"),
    ({"address": "p", "day_hours": "07:00-07:00"}, r"day_hours: expected local hours"),
    ({"address": "p", "day_hours": "07:00-25:00"}, r"day_hours: expected local hours"),
    ({"address": "p", "lat": 59.9}, r"\[pixoo\] lon: required with lat"),
    ({"address": "p", "lon": 10.7}, r"\[pixoo\] lat: required with lon"),
    ({"address": "p", "lat": 91, "lon": 10}, r"\[pixoo\] lat: expected a number from -90 to 90"),
    ({"address": "p", "lat": 59, "lon": 181}, r"\[pixoo\] lon: expected a number from -180"),
    ({"address": "p", "lat": 59, "lon": 10, "day_hours": "07:00-22:00"},
     r"\[pixoo\] day_hours: give either day_hours or lat/lon"),
])
def test_config_errors_name_the_file_the_key_and_what_was_expected(table, message):
    with pytest.raises(ConfigError, match=r"^hub\.toml: .*" + message):
        PixooSettings.from_table(table, PATH)


def test_lat_lon_chooses_the_sun_and_day_hours_chooses_the_clock():
    by_sun = PixooSettings.from_table({"address": "p", "lat": 59.91, "lon": 10.75}, PATH)
    assert by_sun.schedule(None).day_hours is None and by_sun.schedule(None).lat == 59.91
    by_clock = PixooSettings.from_table({"address": "p", "day_hours": "06:30-23:00",
                                         "brightness_day": 100, "brightness_night": 0}, PATH)
    assert by_clock.schedule(None).day_hours == (390, 1380)
    assert (by_clock.brightness_day, by_clock.brightness_night) == (100, 0)


def test_the_pixoo_section_of_hub_toml_is_read_and_its_errors_name_the_file(tmp_path):
    from hub.config import load_config, parse_config

    path = tmp_path / "hub.toml"
    path.write_text('[hub]\ntimezone = "Europe/Oslo"\n\n[pixoo]\naddress = "192.168.1.50"\n'
                    'brightness_night = 5\nday_hours = "06:00-23:30"\n', encoding="utf-8")
    config = load_config(path)
    assert config.pixoo is not None and config.pixoo.url == "http://192.168.1.50/post"
    schedule = config.pixoo.schedule(config.hub.zone())
    midnight_in_oslo = datetime(2024, 1, 1, 23, 0, tzinfo=UTC).timestamp()  # 00:00 CET
    assert schedule.brightness_at(midnight_in_oslo) == 5
    assert parse_config({}, path).pixoo is None  # no section: no device
    path.write_text('[pixoo]\naddress = "192.168.1.50"\nbrightness = 50\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: \[pixoo\] brightness: "
                                          r"unknown key"):
        load_config(path)
