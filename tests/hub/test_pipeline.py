"""The whole dashboard pipeline in real time: fake Entur and MET → the daemon's sources →
the renderer → the device client → frames decoded by a fake Pixoo.

A frame the device received must be exactly what the renderer draws from the data the
sources fetched, at some second of the run: nothing lost or garbled on the way.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

from hub.app import run_daemon
from hub.config import load_config
from hub.display.render import render
from hub.display.view import DashboardView
from hub.secrets import Secrets
from hub.sources.bus import BusSource
from hub.sources.weather import WeatherSource
from tests.fakes.entur import Call, FakeEntur
from tests.fakes.met import FakeMet, compact_document
from tests.fakes.pixoo import FakePixoo

OSLO = ZoneInfo("Europe/Oslo")
#: Generous: a loaded CI machine may be slow, and a pass never waits this long.
WAIT_SECONDS = 20.0


def write_config(tmp_path: Path, entur: FakeEntur, met: FakeMet, pixoo: FakePixoo) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(f"""
[hub]
name = "pipeline"
state_dir = "state"
http_listen = ""
timezone = "Europe/Oslo"

[bus]
endpoint = "{entur.url}"
client_name = "divoomhub-tests"
quays = ["NSR:Quay:7184"]
labels = ["A"]

[weather]
endpoint = "{met.url}"
lat = 59.9139
lon = 10.7522
user_agent = "divoom-hub-tests hub@example.com"

[pixoo]
address = "{pixoo.address}"
timeout_seconds = 2
""", encoding="utf-8")
    return path


def has_more_than(count: int, pixoo: FakePixoo) -> bool:
    return len(pixoo.frames) > count


def test_frames_on_the_device_are_the_rendered_data_from_the_apis(tmp_path):
    now = time.time()
    hour = math.floor(now / 3600) * 3600
    entur = FakeEntur(now)
    entur.add_quay("NSR:Quay:7184", "Storo", [
        Call("31", "Tonsenhagen", 3), Call("54", "Kjelsås", 7, delay_minutes=1),
        Call("25", "Majorstuen", 9, cancelled=True), Call("31", "Fornebu", 14)])
    met = FakeMet(now, compact_document(hour, [4.0, 5.5, 6.0, 3.0],
                                        symbols=["rain", "rain", "cloudy", "cloudy"],
                                        rain=[1.3, 0.4, 0.0, 0.0]))
    with entur.running(), met.running(), FakePixoo() as pixoo:
        config = load_config(write_config(tmp_path, entur, met, pixoo))
        assert config.bus is not None and config.weather is not None
        # What the sources fetch from these fakes (the fakes' answers do not depend on
        # when they are asked: their clock stands still at `now`).
        with requests.Session() as session:
            board = BusSource(session, config.bus, time.time).poll().data
            forecast = WeatherSource(session, config.weather, time.time, OSLO).poll().data
        assert board is not None and [d.line for d in board.departures] == ["31", "54", "31"]

        def expected_frames(since: float) -> dict[bytes, float]:
            """Every frame the renderer can have drawn from this data since `since`."""
            return {render(DashboardView(now=float(second), zone=OSLO, bus=board,
                                         weather=forecast)).tobytes(): second
                    for second in range(math.floor(since), math.ceil(time.time()) + 1)}

        async def scenario() -> float:
            stop = asyncio.Event()
            started = time.time()
            daemon = asyncio.create_task(run_daemon(config, Secrets(), lambda _: None, stop))
            try:
                async with asyncio.timeout(WAIT_SECONDS):
                    while True:
                        await asyncio.to_thread(pixoo.wait_for, lambda p: bool(p.frames))
                        candidates = expected_frames(started)
                        matched = [candidates[f.image.tobytes()] for f in pixoo.frames
                                   if f.image.tobytes() in candidates]
                        if matched:
                            return matched[0]
                        await asyncio.to_thread(pixoo.wait_for,
                                                functools.partial(has_more_than, len(pixoo.frames)))
            finally:
                stop.set()
                assert await asyncio.wait_for(daemon, timeout=WAIT_SECONDS) == 0

        shown_at = asyncio.run(scenario())
    assert shown_at >= math.floor(now)
    assert pixoo.resets >= 1  # the GIF id was reset before the first frame
    assert entur.graphql_requests and met.forecast_requests
