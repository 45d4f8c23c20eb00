"""The 24-hour timeline on the status page: `/timeline.png`, and the page that shows it
(over real HTTP, and in headless Chromium when it is installed)."""

from __future__ import annotations

import io
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from PIL import Image

from hub.notify.delivery import DeliveryStatus
from hub.status.history import StateChange
from hub.status.recorder import StatusRecorder
from hub.status.timeline import BAND_COLOURS
from hub.web.server import StatusServer
from machines import HealthState, Snapshot
from tests.web.browser import needs_chromium, screenshot
from tests.web.conftest import NOW, call, request, serving

HOUR = 3600.0
UTC = ZoneInfo("UTC")
START = NOW - 24 * HOUR


def status_with_history(extra_minutes: float = 0.0):
    """A day with a weather outage: alerting 6 h → 8 h, recovered until 10 h, published
    through the real recorder."""
    recorder = StatusRecorder("shelf-pi", START - HOUR)
    for at, state in ((START - HOUR, HealthState.HEALTHY), (START + 6 * HOUR,
                                                            HealthState.ALERTING),
                      (START + 8 * HOUR, HealthState.RECOVERED),
                      (START + 10 * HOUR, HealthState.HEALTHY)):
        recorder.history.record("weather", at, state)
    machines = [Snapshot(component="weather", state=HealthState.HEALTHY,
                         since=START + 10 * HOUR),
                Snapshot(component="bus", state=HealthState.HEALTHY, since=START - HOUR)]
    return recorder.publish(NOW + extra_minutes * 60, machines,
                            DeliveryStatus("webhook", "idle", "", 0, 0), 0)


def test_the_timeline_is_a_png_of_the_published_history():
    status = status_with_history()
    reply = call(StatusServer("127.0.0.1:0", lambda: status, clock=lambda: NOW),
                 "GET", "/timeline.png")
    assert (reply.status, reply.content_type) == (200, "image/png")
    assert reply.headers["Cache-Control"] == "no-store"
    with Image.open(io.BytesIO(reply.body)) as image:
        picture = image.convert("RGB")
    assert picture.width == 960
    # rows in name order: bus, then weather; 7 h into the day is x = 120 + 7 × 824 / 24
    assert picture.getpixel((int(120 + 7 * 824 / 24), 30 + 26 + 10)) == \
        BAND_COLOURS[HealthState.ALERTING]
    assert picture.getpixel((int(120 + 7 * 824 / 24), 30 + 10)) == \
        BAND_COLOURS[HealthState.HEALTHY]


def test_the_page_links_a_timeline_that_changes_with_the_minute_and_with_each_change():
    status = status_with_history()

    async def pages(session: aiohttp.ClientSession, base: str) -> list[str]:
        return [(await request(session, "GET", base + path)).text
                for path in ("/", "/live", "/?token=a%20b")]

    page, live, with_token = serving(
        StatusServer("127.0.0.1:0", lambda: status, clock=lambda: NOW), pages)
    assert '<h2>Last 24 hours</h2><img class="timeline" src="timeline.png?v=' in page
    assert '<img class="timeline" src="timeline.png?v=' in live
    assert 'src="timeline.png?v=' in with_token and "&amp;token=a%20b" in with_token

    def source(status_now, clock_now) -> str:
        server = StatusServer("127.0.0.1:0", lambda: status_now, clock=lambda: clock_now)
        text = call(server, "GET", "/live").text
        return text.split('class="timeline" src="', 1)[1].split('"', 1)[0]

    assert NOW % 60 == 20
    same = source(status, NOW - 10)
    assert source(status, NOW + 30) == same  # the same minute, nothing changed
    assert source(status, NOW + 50) != same  # a pixel is ~100 s: redrawn each minute
    recorder = StatusRecorder("shelf-pi", START)
    recorder.history.record("weather", START, HealthState.HEALTHY)
    changed = recorder.publish(NOW, [Snapshot(component="weather",
                                              state=HealthState.SUSPECT, since=NOW)], None, 0)
    assert changed.history[0].changes[-1] == StateChange(NOW, HealthState.SUSPECT)
    assert source(changed, NOW - 10) != same


def test_a_young_hubs_page_says_the_span_its_timeline_shows():
    started = NOW - 10 * 60  # 22:03:20 UTC; the page is read at 22:13:20
    recorder = StatusRecorder("shelf-pi", started)
    status = recorder.publish(NOW, [Snapshot(component="bus", state=HealthState.HEALTHY,
                                             since=started)], None, 0)
    server = StatusServer("127.0.0.1:0", lambda: status, clock=lambda: NOW, zone=UTC)
    page = call(server, "GET", "/").text
    assert '<h2>Since 22:03 (last 10 min)</h2><img class="timeline" ' in page
    assert 'alt="every component\'s states over the last 10 min"' in page
    with Image.open(io.BytesIO(call(server, "GET", "/timeline.png").body)) as image:
        picture = image.convert("RGB")
    # the picture begins with the history: its first band pixel is healthy, not "no data"
    assert picture.getpixel((120, 30 + 10)) == BAND_COLOURS[HealthState.HEALTHY]


def test_with_a_token_the_timeline_needs_it():
    status = status_with_history()
    server = StatusServer("127.0.0.1:0", lambda: status, clock=lambda: NOW, token="tok")
    assert call(server, "GET", "/timeline.png").status == 401
    assert call(server, "GET", "/timeline.png?token=tok").status == 200


@needs_chromium
def test_the_page_shows_the_timeline_in_a_browser(tmp_path: Path):
    status = status_with_history()
    server = StatusServer("127.0.0.1:0", lambda: status, clock=lambda: NOW)
    page = screenshot(server, tmp_path, 1280, 1400)
    # The recovered band (8 h → 10 h: 2 × 824 / 24 ≈ 69 px wide, a row 20 px high) is drawn
    # at its natural size: light green appears nowhere else on the page.
    recovered = BAND_COLOURS[HealthState.RECOVERED]
    mask = [[page.getpixel((x, y)) == recovered for x in range(page.width)]
            for y in range(page.height)]
    band_rows = [y for y, row in enumerate(mask) if sum(row) >= 60]  # the legend's is 12
    assert len(band_rows) == 20
    assert band_rows == list(range(band_rows[0], band_rows[0] + 20))
    widths = {sum(mask[y]) for y in band_rows}
    assert widths <= {68, 69, 70}
    top = band_rows[0]
    left = mask[top].index(True)
    # left of it, in the same row, the two hours of the outage (also ≈ 69 px)
    assert page.getpixel((left - 30, top + 10)) == BAND_COLOURS[HealthState.ALERTING]
    assert page.getpixel((left - 75, top + 10)) == BAND_COLOURS[HealthState.HEALTHY]
