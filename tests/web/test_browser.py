"""The status page in a real browser: headless Chromium loads `/` from the real server,
runs the page's script, and the screenshot shows the frame and the highlighted state.

CI installs Debian's `chromium` (.ci/run); without the binary this module is skipped.
"""

from __future__ import annotations

import asyncio
import io

from PIL import Image, ImageChops

from hub.ingest.pings import HeartbeatMonitor
from hub.web.diagram import STATE_COLOURS, STATE_TINTS
from hub.web.server import StatusServer
from machines import HealthState, Notice, NoticeKind
from tests.web.browser import chromium, needs_chromium, screenshot
from tests.web.conftest import MARKER, NOW, frame_png, published, snap, weather_alert

pytestmark = needs_chromium


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def mask(image: Image.Image, colour: tuple[int, int, int], tolerance: int) -> Image.Image:
    """White where a pixel is within `tolerance` of `colour` in every channel."""
    bands = [band.point(lambda v, c=c: 255 if abs(v - c) <= tolerance else 0)
             for band, c in zip(image.split(), colour, strict=True)]
    return ImageChops.multiply(ImageChops.multiply(bands[0], bands[1]), bands[2])


def count(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 3) -> int:
    return mask(image, colour, tolerance).histogram()[255]


def bounding_box(image: Image.Image, colour: tuple[int, int, int]) -> tuple[int, int, int, int]:
    box = mask(image, colour, 0).getbbox()
    assert box is not None, f"{colour} is nowhere on the screenshot"
    return box


ALERTING_STATUS = published(
    snap("bus", HealthState.HEALTHY),
    snap("pixoo", HealthState.HEALTHY),
    snap("weather", HealthState.ALERTING, failures=4, last_error_type="http_503",
         last_error="503 Service Unavailable", next_reminder_at=NOW + 600),
    notices=(weather_alert(),))


def test_the_page_shows_the_frame_enlarged_and_the_alerting_state_highlighted(tmp_path):
    server = StatusServer("127.0.0.1:0", lambda: ALERTING_STATUS, frame_png=frame_png,
                          clock=lambda: NOW)
    page = screenshot(server, tmp_path, 1024, 900)
    assert page.size == (1024, 900)
    # The frame's 16 × 16 marker is drawn 4× (PAGE_FRAME_SCALE), with hard pixel edges.
    left, top, right, bottom = bounding_box(page, MARKER)
    assert (right - left, bottom - top) == (64, 64)
    assert count(page, MARKER, tolerance=0) == 64 * 64
    # The alerting state box is highlighted (its tint fills it) and weather's badge and
    # state pill are in the alerting colour; no component is reminding, so that box is not.
    assert count(page, rgb(STATE_TINTS[HealthState.ALERTING])) > 3000
    assert count(page, rgb(STATE_COLOURS[HealthState.ALERTING])) > 500
    # (a few anti-aliased edge pixels may come near a tint, never a filled box)
    assert count(page, rgb(STATE_TINTS[HealthState.REMINDING]), tolerance=0) < 100


def test_the_page_script_refreshes_the_states_from_the_server(tmp_path):
    recovered = published(
        snap("bus", HealthState.HEALTHY), snap("pixoo", HealthState.HEALTHY),
        snap("weather", HealthState.RECOVERED, since=NOW),
        notices=(weather_alert(), Notice(kind=NoticeKind.RECOVERY, component="weather",
                                         at=NOW, downtime_seconds=420)))
    published_statuses = iter([ALERTING_STATUS])

    def status():  # the owner publishes a newer picture after the page was served
        return next(published_statuses, recovered)

    server = StatusServer("127.0.0.1:0", status, frame_png=frame_png, clock=lambda: NOW,
                          heartbeats=[HeartbeatMonitor("nas", 60, 5)], report=lambda _: None)

    async def scenario() -> bytes:
        async with server:
            return await chromium(tmp_path, "--dump-dom", "--virtual-time-budget=3000",
                                  server.url + "/")

    dom = asyncio.run(scenario()).decode()
    assert '<tr data-component="weather" data-state="recovered">' in dom
    assert '<tr data-component="weather" data-state="alerting">' not in dom
    assert '<g class="state occupied" data-state="recovered">' in dom
    assert "recovered after 7 min of downtime" in dom
    assert '<span id="updated" class="ok">live · updated ' in dom
    assert "<title>shelf-pi · healthy</title>" in dom
    # and the frame image it points at is a real, enlarged PNG
    assert 'src="frame.png?scale=4&amp;v=' in dom



def framed_png(corner: tuple[int, int, int]) -> bytes:
    """The test frame with a 3 × 3 mark of `corner` in each of its four corners, as the
    renderer marks an alert in the top-right one."""
    with Image.open(io.BytesIO(frame_png())) as image:
        frame = image.convert("RGB")
    for left, top in ((0, 0), (61, 0), (0, 61), (61, 61)):
        for x in range(left, left + 3):
            for y in range(top, top + 3):
                frame.putpixel((x, y), corner)
    out = io.BytesIO()
    frame.save(out, format="PNG")
    return out.getvalue()


def test_the_frame_is_shown_whole_square_and_pixel_for_pixel(tmp_path):
    corner = (255, 45, 35)  # the renderer's alert red
    png = framed_png(corner)
    server = StatusServer("127.0.0.1:0", lambda: ALERTING_STATUS, frame_png=lambda: png,
                          clock=lambda: NOW)
    page = screenshot(server, tmp_path, 1024, 900)
    left, top, _, _ = bounding_box(page, MARKER)
    left, top = left - 8 * 4, top - 20 * 4  # the marker sits at Pixoo pixel (8, 20)
    # Every corner mark is there in full, 3 × 3 Pixoo pixels at 4 × 4 screen pixels each:
    # rounded corners would cut the outermost pixels away, smoothing would blur the edges.
    for x, y in ((0, 0), (255, 0), (0, 255), (255, 255)):
        assert page.getpixel((left + x, top + y)) == corner, (x, y)
    assert count(page, corner, tolerance=0) == 4 * 12 * 12
    assert bounding_box(page, corner) == (left, top, left + 256, top + 256)


def test_an_error_from_before_a_recovery_is_not_shown_in_red(tmp_path):
    error_red = rgb("#c92a2a")  # the page's colour of a current error

    def status(state: HealthState):
        return published(snap("bus", HealthState.HEALTHY),
                         snap("nas", state, last_error_type="timeout",
                              last_error="no answer in 5 s at 192.168.1.20"))

    for state, is_red in ((HealthState.ALERTING, True), (HealthState.RECOVERED, False)):
        shown = status(state)
        server = StatusServer("127.0.0.1:0", lambda shown=shown: shown, clock=lambda: NOW)
        page = screenshot(server, tmp_path / state.value, 1024, 600)
        assert (count(page, error_red, tolerance=8) > 50) is is_red, state
