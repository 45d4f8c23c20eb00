"""The renderer: golden frames pinned pixel for pixel, and behaviour read off the pixels.

Goldens: `tests/display/golden/<scene>.png`, rewritten by
`python -m tests.display.regenerate` after a deliberate change (look at the frames with
`--large DIR` first). The behavioural tests do not use goldens: they read what a region
shows by comparing its ink (the pixels of one colour) with the same text drawn in the
same font, so they survive layout tweaks that keep the meaning.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib.util
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageDraw

from hub.display.frame import FRAME_BYTES, FrameError, decode_frame, encode_frame
from hub.display.icons import ICON_SIZE, Light, Sky, SkyGroup, classify, symbol_icon
from hub.display.render import (
    AMBER,
    BUS_ROW_PITCH,
    BUS_TOP,
    CLOCK_TOP,
    COOL,
    GREY,
    LINE_COLOR,
    MESSAGE_MAX_PAGES,
    RED,
    SIZE,
    WEATHER_TOP,
    WHITE,
    YELLOW,
    message_page,
    render,
)
from hub.display.screens import render_page
from hub.display.text import BitmapFont, draw_big_text, draw_text, load_fonts, sanitize, wrap
from hub.display.view import DashboardView, DisplayMessage
from hub.sources.data import BusBoard, Forecast
from machines.states import HealthState
from tests.display.regenerate import golden_path, page_golden_path
from tests.display.scenes import MORNING, OSLO, PAGE_SCENES, SCENES, departure, rainy_morning

Color = tuple[int, int, int]
URGENCY = (RED, YELLOW, WHITE)


# -- helpers: reading a frame --------------------------------------------------------------

def pixels(image: Image.Image) -> list[Color]:
    """The RGB pixels of `image`, row by row."""
    raw = image.convert("RGB").tobytes()
    return [(raw[i], raw[i + 1], raw[i + 2]) for i in range(0, len(raw), 3)]


def ink(image: Image.Image, box: tuple[int, int, int, int], colors: tuple[Color, ...]) -> bytes:
    """The pixels of `colors` inside `box`, cropped to their bounding box, as a 1-bit
    picture (its size and bits): what a region shows, wherever it sits in the box."""
    region = image.crop(box)
    mask = Image.new("1", region.size, 0)
    mask.putdata([1 if pixel in colors else 0 for pixel in pixels(region)])
    bbox = mask.getbbox()
    if bbox is None:
        return b""
    shown = mask.crop(bbox)
    return f"{shown.size}".encode() + shown.tobytes()


def text_ink(text: str, font: BitmapFont) -> bytes:
    """What `text` looks like in `font`, in the form `ink` returns."""
    canvas = Image.new("RGB", (font.width(text) + 2, font.cell_height + 2))
    draw_text(ImageDraw.Draw(canvas), (1, 1), text, font, WHITE)
    return ink(canvas, (0, 0, canvas.width, canvas.height), (WHITE,))


def bus_row_box(index: int) -> tuple[int, int, int, int]:
    top = BUS_TOP + index * BUS_ROW_PITCH
    return 0, top, SIZE, min(SIZE, top + BUS_ROW_PITCH)


def minutes_shown(frame: Image.Image, row: int, color: Color) -> bytes:
    return ink(frame, bus_row_box(row), (color,))


def view_with(*departures_in_seconds: float, now: float = MORNING,
              **changes: object) -> DashboardView:
    lines = ("31", "37", "20", "54", "25")
    board = BusBoard(fetched_at=now, departures=tuple(
        departure(lines[i % len(lines)], "Sentrum", seconds, now)
        for i, seconds in enumerate(departures_in_seconds)))
    view = DashboardView(now=now, zone=OSLO, language="no", bus=board)
    return dataclasses.replace(view, **changes)  # type: ignore[arg-type]


# -- golden frames ---------------------------------------------------------------------------

@pytest.mark.parametrize("scene", [*sorted(SCENES), *(f"page:{n}" for n in sorted(PAGE_SCENES))])
def test_scene_matches_its_golden_frame(scene: str, tmp_path: Path) -> None:
    if scene.startswith("page:"):
        scene = scene.removeprefix("page:")
        frame = render_page(*PAGE_SCENES[scene]())
        golden = page_golden_path(scene)
    else:
        frame = render(SCENES[scene]())
        golden = golden_path(scene)
    actual = tmp_path / f"{scene}-actual.png"
    if not golden.exists():
        frame.save(actual)
        pytest.fail(f"no golden frame {golden}; the rendered one is at {actual}. "
                    "Create the goldens with: python -m tests.display.regenerate")
    with Image.open(golden) as stored:
        expected = stored.convert("RGB")
    assert frame.mode == "RGB" and frame.size == (SIZE, SIZE)
    difference = ImageChops.difference(frame, expected).getbbox()
    if difference is not None:
        frame.save(actual)
        frame.resize((512, 512), Image.Resampling.NEAREST).save(tmp_path / f"{scene}-x8.png")
        pytest.fail(f"frame {scene!r} differs from {golden} in the box {difference}; the "
                    f"rendered frame is at {actual} (and ×8 beside it). If the change is "
                    "deliberate: python -m tests.display.regenerate")


def test_the_same_view_always_gives_the_same_pixels() -> None:
    first, second = render(rainy_morning()), render(rainy_morning())
    assert first.tobytes() == second.tobytes()


# -- bus rows ------------------------------------------------------------------------------

def test_minutes_count_down_between_frames_of_the_same_board() -> None:
    fonts = load_fonts()
    # One poll, a bus 10½ minutes away; no newer poll comes (the data does not go stale
    # within the test, so the colours are not dimmed).
    view = view_with(630, bus_stale_after_seconds=900)
    expected = [(0, "10", WHITE), (125, "8", YELLOW), (400, "3", RED), (575, "nå", RED)]
    for later, text, color in expected:
        frame = render(dataclasses.replace(view, now=view.now + later))
        assert minutes_shown(frame, 0, color) == text_ink(text, fonts.small), (later, text)


def test_urgency_colours_follow_the_configured_walk_time() -> None:
    fonts = load_fonts()
    relaxed = render(view_with(200, walk_seconds=60, soon_seconds=120))
    hurried = render(view_with(200, walk_seconds=300, soon_seconds=900))
    assert minutes_shown(relaxed, 0, WHITE) == text_ink("3", fonts.small)
    assert minutes_shown(hurried, 0, RED) == text_ink("3", fonts.small)


def test_a_departed_bus_disappears_and_the_next_moves_up() -> None:
    fonts = load_fonts()
    view = view_with(30, 300, 900)  # lines 31, 37, 20
    before = render(view)
    after = render(dataclasses.replace(view, now=view.now + 31))
    assert ink(before, bus_row_box(0), (LINE_COLOR,)) == text_ink("31", fonts.small)
    assert ink(after, bus_row_box(0), (LINE_COLOR,)) == text_ink("37", fonts.small)
    assert ink(after, bus_row_box(1), (LINE_COLOR,)) == text_ink("20", fonts.small)
    assert ink(after, bus_row_box(2), (LINE_COLOR,)) == b""


def test_departures_beyond_the_hour_show_their_local_time() -> None:
    fonts = load_fonts()
    frame = render(view_with(2 * 3600 + 5))  # 07:42:10 + 2 h → 09:42
    assert minutes_shown(frame, 0, WHITE) == text_ink("09:42", fonts.tiny)


def test_a_board_with_nothing_left_says_so() -> None:
    fonts = load_fonts()
    frame = render(dataclasses.replace(view_with(30), now=MORNING + 60))
    area = (0, BUS_TOP, SIZE, SIZE)
    shown = ink(frame, area, tuple(set(pixels(frame.crop(area))) - {(0, 0, 0)}))
    assert shown == text_ink("ingen avg.", fonts.small)


def test_long_destinations_are_cut_before_the_minutes() -> None:
    view = view_with(300)
    assert view.bus is not None
    long = dataclasses.replace(view.bus.departures[0], destination="Kolsåstoppen via "
                               "Bærums Verk og Lommedalen")
    frame = render(dataclasses.replace(view, bus=dataclasses.replace(view.bus,
                                                                      departures=(long,))))
    row = frame.crop(bus_row_box(0))
    minutes = minutes_shown(frame, 0, YELLOW)
    assert minutes == text_ink("5", load_fonts().small)
    # The label's grey ink stops at least one blank column before the minutes start.
    minutes_left = min(x for x in range(row.width) for y in range(row.height)
                       if row.getpixel((x, y)) == YELLOW)
    label_right = max(x for x in range(row.width) for y in range(row.height)
                      if row.getpixel((x, y)) not in ((0, 0, 0), YELLOW, LINE_COLOR))
    assert label_right < minutes_left - 1


def test_the_minutes_leave_a_blank_column_at_the_right_edge() -> None:
    frame = render(rainy_morning())  # "nå", 3, 7 and 17 minutes, right-aligned
    bus_area = range(BUS_TOP, SIZE)
    assert {frame.getpixel((SIZE - 1, y)) for y in bus_area} == {(0, 0, 0)}
    assert {frame.getpixel((SIZE - 2, y)) for y in bus_area} & set(URGENCY)


def grey_columns(frame: Image.Image, row: int) -> dict[int, list[int]]:
    """The label's (grey) ink of a bus row: the inked ys of each column that has any."""
    left, top, right, bottom = bus_row_box(row)
    columns: dict[int, list[int]] = {}
    for x in range(left, right):
        for y in range(top, bottom):
            if frame.getpixel((x, y)) == GREY:
                columns.setdefault(x, []).append(y)
    return columns


def test_a_destination_cut_to_fit_ends_in_an_ellipsis() -> None:
    fonts = load_fonts()
    view = view_with(300)
    assert view.bus is not None
    long = dataclasses.replace(view.bus.departures[0], destination="Kolsåstoppen via Bærum")
    frame = render(dataclasses.replace(view, bus=dataclasses.replace(view.bus,
                                                                      departures=(long,))))
    columns = grey_columns(frame, 0)
    last = max(columns)
    # three one-pixel dots on the baseline, a blank column apart, end the label ...
    baseline = BUS_TOP + 2 + 4  # the row's label top (y + 1) + the 4x6 full stop's row
    assert [columns.get(x) for x in range(last - 4, last + 1)] == \
        [[baseline], None, [baseline], None, [baseline]]
    # ... after the whole characters that fit before them, and before the minutes
    prefix = frame.crop((0, BUS_TOP, last - 5, BUS_TOP + BUS_ROW_PITCH))
    assert ink(prefix, (0, 0, prefix.width, prefix.height), (GREY,)) == \
        text_ink("Kolsåstop", fonts.tiny)
    minutes_left = min(x for x in range(SIZE) for y in range(BUS_TOP, BUS_TOP + BUS_ROW_PITCH)
                       if frame.getpixel((x, y)) == YELLOW)
    assert last < minutes_left - 1


def test_a_destination_that_fits_gets_no_ellipsis() -> None:
    fonts = load_fonts()
    frame = render(view_with(300))  # "Sentrum": 7 characters, room for 8
    assert ink(frame, bus_row_box(0), (GREY,)) == text_ink("Sentrum", fonts.tiny)


@given(text=st.text(min_size=1, max_size=30), max_width=st.integers(0, 60))
def test_cut_text_and_its_ellipsis_stay_within_the_width(text: str, max_width: int) -> None:
    font = load_fonts().tiny
    canvas = Image.new("RGB", (200, font.cell_height))
    used = draw_text(ImageDraw.Draw(canvas), (0, 0), text, font, WHITE, max_width=max_width)
    box = canvas.getbbox()
    # The cells drawn (their last column blank in all but a few glyphs such as "æ") fit,
    # and the ink, dots included, stays within them.
    assert used <= max_width + 1
    assert box is None or box[2] <= used


# -- the fonts -------------------------------------------------------------------------------

def glyph_rows(char: str, font: BitmapFont) -> list[str]:
    cell = Image.new("1", (font.cell_width, font.cell_height), 0)
    ImageDraw.Draw(cell).text((0, 0), char, font=font.font, fill=1)
    return ["".join("#" if cell.getpixel((x, y)) else "." for x in range(cell.width))
            for y in range(cell.height)]


@pytest.mark.parametrize(("name", "is_letter_whole"), [
    ("tiny", False),  # 4x6 has no row to spare: its own "å" draws the letter a row shorter
    ("small", True),
])
def test_the_ring_of_a_small_a_ring_stands_apart_from_the_letter(
        name: str, is_letter_whole: bool) -> None:
    """At 5x7 the ring sat on the letter's top bar, and "nå" read as "nd"."""
    font = getattr(load_fonts(), name)
    ring, a = glyph_rows("å", font), glyph_rows("a", font)
    inked = [y for y, row in enumerate(ring) if "#" in row]
    assert inked[0] == 0  # the ring on the top row
    assert inked != list(range(inked[0], inked[-1] + 1))  # a blank row under it
    assert (ring[2:] == a[2:]) is is_letter_whole


def test_the_shipped_fonts_hold_the_glyphs_the_conversion_script_redraws() -> None:
    """The checked-in fonts are what `scripts/convert_fonts.py` writes, fixes included."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "convert_fonts.py"
    spec = importlib.util.spec_from_file_location("convert_fonts", script)
    assert spec is not None and spec.loader is not None
    convert_fonts = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(convert_fonts)
    fonts = {font.name: font for font in (load_fonts().tiny, load_fonts().small,
                                          load_fonts().medium, load_fonts().large)}
    assert convert_fonts.GLYPH_FIXES
    for name, glyphs in convert_fonts.GLYPH_FIXES.items():
        for char, rows in glyphs.items():
            assert glyph_rows(char, fonts[name]) == list(rows), (name, char)


# -- staleness and health --------------------------------------------------------------------

def amber_on_rule(frame: Image.Image, top: int) -> bool:
    return AMBER in [frame.getpixel((x, top - 1)) for x in range(SIZE)]


def test_old_bus_data_is_dimmed_and_marked() -> None:
    fresh = view_with(1200)
    stale = dataclasses.replace(fresh, now=fresh.now + 181)
    fresh_frame, stale_frame = render(fresh), render(stale)
    assert not amber_on_rule(fresh_frame, BUS_TOP)
    assert amber_on_rule(stale_frame, BUS_TOP)
    assert ink(fresh_frame, bus_row_box(0), (LINE_COLOR,)) != b""
    assert ink(stale_frame, bus_row_box(0), (LINE_COLOR,)) == b""  # drawn dimmer


def test_a_failed_quay_marks_the_board_without_dimming_it() -> None:
    view = view_with(1200)
    assert view.bus is not None
    frame = render(dataclasses.replace(
        view, bus=dataclasses.replace(view.bus, failed_quays=("B",))))
    assert amber_on_rule(frame, BUS_TOP)
    assert ink(frame, bus_row_box(0), (LINE_COLOR,)) != b""


def test_old_weather_is_marked() -> None:
    weather = Forecast(fetched_at=MORNING, temperature_c=3.0, symbol="cloudy")
    view = DashboardView(now=MORNING, zone=OSLO, weather=weather)
    assert not amber_on_rule(render(view), WEATHER_TOP)
    later = dataclasses.replace(view, now=MORNING + view.weather_stale_after_seconds + 1)
    assert amber_on_rule(render(later), WEATHER_TOP)


@pytest.mark.parametrize(("state", "is_marked"), [
    (HealthState.HEALTHY, False), (HealthState.SUSPECT, False), (HealthState.RECOVERED, False),
    (HealthState.ALERTING, True), (HealthState.REMINDING, True)])
def test_the_red_corner_shows_while_a_machine_alerts_or_reminds(
        state: HealthState, is_marked: bool) -> None:
    view = DashboardView(now=MORNING, zone=OSLO,
                         health={"bus": HealthState.HEALTHY, "weather": state})
    assert (render(view).getpixel((SIZE - 1, 0)) == RED) is is_marked


# -- clock and date --------------------------------------------------------------------------

def test_the_clock_shows_local_time_in_the_views_zone() -> None:
    from zoneinfo import ZoneInfo

    fonts = load_fonts()

    def clock_ink(text: str) -> bytes:
        canvas = Image.new("RGB", (40, 14))
        draw_big_text(canvas, (1, 1), text, fonts, WHITE)
        return ink(canvas, (0, 0, 40, 14), (WHITE,))

    box = (0, CLOCK_TOP, 34, CLOCK_TOP + 10)
    oslo = render(DashboardView(now=MORNING, zone=OSLO))
    tokyo = render(DashboardView(now=MORNING, zone=ZoneInfo("Asia/Tokyo")))
    assert ink(oslo, box, (WHITE,)) == clock_ink("07:42")
    assert ink(tokyo, box, (WHITE,)) == clock_ink("15:42")


def test_the_date_line_follows_the_language() -> None:
    fonts = load_fonts()
    norwegian = render(DashboardView(now=MORNING, zone=OSLO, language="no"))
    english = render(DashboardView(now=MORNING, zone=OSLO, language="en"))
    weekday_box = (34, 0, SIZE - 4, 6)  # left of the health corner
    assert ink(norwegian, weekday_box, (WHITE,)) == text_ink("lør", fonts.tiny)
    assert ink(english, weekday_box, (WHITE,)) == text_ink("Sat", fonts.tiny)


def test_a_view_rejects_an_unknown_language_by_name() -> None:
    with pytest.raises(ValueError, match="language.*'de'"):
        DashboardView(now=0, language="de")  # type: ignore[arg-type]


def test_a_view_rejects_a_walk_time_beyond_the_soon_threshold() -> None:
    with pytest.raises(ValueError, match="walk_seconds"):
        DashboardView(now=0, walk_seconds=900, soon_seconds=600)


# -- weather ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("symbol", "sky"), [
    ("clearsky_day", Sky(SkyGroup.CLEAR, Light.DAY)),
    ("clearsky_night", Sky(SkyGroup.CLEAR, Light.NIGHT)),
    ("clearsky_polartwilight", Sky(SkyGroup.CLEAR, Light.DAY)),
    ("fair_night", Sky(SkyGroup.PARTLY_CLOUDY, Light.NIGHT)),
    ("partlycloudy_day", Sky(SkyGroup.PARTLY_CLOUDY, Light.DAY)),
    ("cloudy", Sky(SkyGroup.CLOUDY, Light.NONE)),
    ("fog", Sky(SkyGroup.FOG, Light.NONE)),
    ("lightrain", Sky(SkyGroup.RAIN, Light.NONE)),
    ("rainshowers_night", Sky(SkyGroup.RAIN, Light.NIGHT)),
    ("heavyrain", Sky(SkyGroup.HEAVY_RAIN, Light.NONE)),
    ("heavyrainshowers_day", Sky(SkyGroup.HEAVY_RAIN, Light.DAY)),
    ("lightsleet", Sky(SkyGroup.SLEET, Light.NONE)),
    ("snowshowers_day", Sky(SkyGroup.SNOW, Light.DAY)),
    ("heavysnow", Sky(SkyGroup.SNOW, Light.NONE)),
    ("rainandthunder", Sky(SkyGroup.THUNDER, Light.NONE)),
    ("lightssleetshowersandthunder_day", Sky(SkyGroup.THUNDER, Light.NONE)),
    ("heavysnowshowersandthunder_night", Sky(SkyGroup.THUNDER, Light.NONE)),
    ("sandstorm_day", Sky(SkyGroup.UNKNOWN, Light.NONE)),
    ("clearsky_dusk", Sky(SkyGroup.UNKNOWN, Light.NONE)),
    ("", Sky(SkyGroup.UNKNOWN, Light.NONE)),
])
def test_met_symbol_codes_map_to_icon_groups(symbol: str, sky: Sky) -> None:
    assert classify(symbol) == sky


def test_day_and_night_draw_the_sun_and_the_moon() -> None:
    assert symbol_icon("clearsky_day").tobytes() != symbol_icon("clearsky_night").tobytes()
    assert symbol_icon("fair_day").tobytes() != symbol_icon("fair_night").tobytes()
    distinct = {symbol_icon(code).tobytes() for code in (
        "clearsky_day", "partlycloudy_day", "cloudy", "rain", "heavyrain", "sleet", "snow",
        "fog", "rainandthunder", "no_such_symbol")}
    assert len(distinct) == 10


def test_an_unknown_symbol_gets_the_generic_icon_without_crashing() -> None:
    weather = Forecast(fetched_at=MORNING, temperature_c=3.0, symbol="volcanic_ash_day")
    frame = render(DashboardView(now=MORNING, zone=OSLO, weather=weather))
    expected = Image.new("RGB", (ICON_SIZE, ICON_SIZE))
    generic = symbol_icon("")
    expected.paste(generic, (0, 0), generic)
    shown = frame.crop((1, WEATHER_TOP + 1, 1 + ICON_SIZE, WEATHER_TOP + 1 + ICON_SIZE))
    assert shown.tobytes() == expected.tobytes()


@pytest.mark.parametrize(("celsius", "text"), [(-0.4, "0"), (-0.5, "-1"), (0.5, "1"),
                                                (21.49, "21"), (-12.6, "-13")])
def test_temperatures_are_whole_degrees_rounded_half_away_from_zero(
        celsius: float, text: str) -> None:
    fonts = load_fonts()
    color = COOL if text.startswith("-") else WHITE
    frame = render(DashboardView(now=MORNING, zone=OSLO, weather=Forecast(
        fetched_at=MORNING, temperature_c=celsius, symbol="cloudy")))
    canvas = Image.new("RGB", (40, 14))
    width = draw_big_text(canvas, (1, 1), text, fonts, color)
    left = 1 + ICON_SIZE + 3  # right of the icon
    shown = ink(frame, (left, WEATHER_TOP, left + width + 1, WEATHER_TOP + 14), (color,))
    assert shown == ink(canvas, (0, 0, 40, 14), (color,))


# -- the message overlay -----------------------------------------------------------------------

def test_an_expired_message_is_no_longer_drawn() -> None:
    message = DisplayMessage("Middag kl 18", "Per", posted_at=MORNING - 60,
                             expires_at=MORNING + 60)
    plain = render(rainy_morning())
    shown = render(dataclasses.replace(rainy_morning(), message=message))
    expired = render(dataclasses.replace(rainy_morning(), message=message, now=MORNING + 60))
    later_plain = render(dataclasses.replace(rainy_morning(), now=MORNING + 60))
    assert shown.tobytes() != plain.tobytes()
    assert expired.tobytes() == later_plain.tobytes()


def test_a_long_message_is_paged_by_time_and_cut_with_an_ellipsis() -> None:
    fonts = load_fonts()
    text = " ".join(f"ord{n}" for n in range(200))
    message = DisplayMessage(text, "Kari", posted_at=1000.0)
    maybe_pages = [message_page(message, 1000.0 + 5 * k, fonts.small, 60, 5, 5.0)
                   for k in range(MESSAGE_MAX_PAGES + 1)]
    pages = [p for p in maybe_pages if p is not None]
    assert len(pages) == len(maybe_pages)  # without a break, some page always shows
    assert [p.number for p in pages] == [1, 2, 3, 4, 1]  # pages turn, then start over
    assert {p.count for p in pages} == {MESSAGE_MAX_PAGES}
    assert all(len(p.lines) <= 5 for p in pages)
    assert all(fonts.small.width(line) <= 61 for p in pages for line in p.lines)
    assert pages[-2].lines[-1].endswith("...")
    before = message_page(message, 999.0, fonts.small, 60, 5, 5.0)
    assert before is not None and before.number == 1


def test_between_rounds_of_a_message_the_dashboard_shows() -> None:
    message = DisplayMessage("Middag kl 18", "Per", posted_at=MORNING)
    view = dataclasses.replace(rainy_morning(), message=message, message_page_seconds=5.0,
                               message_break_seconds=3.0)

    def frame_at(seconds: float) -> bytes:
        return render(dataclasses.replace(view, now=MORNING + seconds)).tobytes()

    def dashboard_at(seconds: float) -> bytes:
        return render(dataclasses.replace(view, now=MORNING + seconds, message=None)).tobytes()

    assert frame_at(0) != dashboard_at(0) and frame_at(4.9) != dashboard_at(4.9)
    assert frame_at(5) == dashboard_at(5) and frame_at(7.9) == dashboard_at(7.9)
    assert frame_at(8) != dashboard_at(8)  # the next round
    always = dataclasses.replace(view, message_break_seconds=0.0, now=MORNING + 6)
    assert render(always).tobytes() != dashboard_at(6)


def test_a_short_message_has_one_page() -> None:
    fonts = load_fonts()
    page = message_page(DisplayMessage("Hei!", "Ola", posted_at=0), 99.0, fonts.small, 60,
                        5, 5.0)
    assert page is not None
    assert (page.lines, page.number, page.count) == (("Hei!",), 1, 1)


def test_message_text_stays_inside_its_frame() -> None:
    message = DisplayMessage("W" * 300, "Wenche Wilhelmsen-Wåge", posted_at=MORNING)
    frame = render(dataclasses.replace(rainy_morning(), message=message))
    inner_edge = [frame.getpixel((SIZE - 2, y)) for y in range(WEATHER_TOP, SIZE - 1)]
    assert set(inner_edge) == {(0, 0, 0)}


# -- text ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "drawn"), [
    ("Blåbær på øya", "Blåbær på øya"),
    ("a\u030ase", "åse"),  # a decomposed å is composed first
    ("\u2018hei\u2019 \u2013 ja\u2026", "'hei' - ja..."),
    ("sn\u00f8 \u2603 \U0001f68c \u4e2d", "snø ? ? ?"),
    ("tab\there\nnew\x00line", "tab here new line"),
    ("zero\u200bwidth", "zerowidth"),
    ("\u2191 Sentrum", "\u2191 Sentrum"),
])
def test_text_is_sanitized_to_what_the_fonts_can_draw(raw: str, drawn: str) -> None:
    assert sanitize(raw) == drawn


def test_an_arrow_is_drawn_rather_than_replaced() -> None:
    fonts = load_fonts()
    assert text_ink("\u2191", fonts.tiny) not in (b"", text_ink("?", fonts.tiny))
    assert text_ink("\u2191", fonts.tiny) != text_ink("\u2193", fonts.tiny)


def test_wrap_breaks_words_that_fit_no_line() -> None:
    font = load_fonts().small
    assert wrap("Hei på deg", font, 30) == ["Hei på", "deg"]
    assert wrap("Supercalifragilistic", font, 30) == ["Superc", "alifra", "gilist", "ic"]
    assert wrap("to\n\navsnitt", font, 60) == ["to", "", "avsnitt"]


@given(text=st.text(max_size=400), author=st.text(max_size=60),
       line=st.text(max_size=8), destination=st.text(max_size=40), symbol=st.text(max_size=30))
def test_any_text_renders_without_crashing(text: str, author: str, line: str,
                                           destination: str, symbol: str) -> None:
    view = rainy_morning()
    assert view.bus is not None and view.weather is not None
    first = dataclasses.replace(view.bus.departures[0], line=line, destination=destination,
                                quay=destination)
    bus = dataclasses.replace(view.bus, departures=(first,))
    weather = dataclasses.replace(view.weather, symbol=symbol)
    for label in ("destination", "quay"):
        frame = render(dataclasses.replace(view, bus=bus, weather=weather, bus_label=label))
        assert frame.size == (SIZE, SIZE)
    frame = render(dataclasses.replace(view, message=DisplayMessage(text, author, MORNING)))
    assert frame.size == (SIZE, SIZE)


# -- the frame encoding ----------------------------------------------------------------------

def test_encode_frame_is_base64_of_the_rgb_bytes_row_by_row() -> None:
    image = Image.new("RGB", (SIZE, SIZE))
    image.putpixel((0, 0), (1, 2, 3))
    image.putpixel((63, 0), (4, 5, 6))
    image.putpixel((0, 1), (7, 8, 9))
    raw = base64.b64decode(encode_frame(image))
    assert len(raw) == FRAME_BYTES == 64 * 64 * 3
    assert raw[:3] == bytes((1, 2, 3))
    assert raw[63 * 3: 64 * 3] == bytes((4, 5, 6))
    assert raw[64 * 3: 65 * 3] == bytes((7, 8, 9))


def test_a_rendered_frame_survives_encoding_and_decoding() -> None:
    frame = render(rainy_morning())
    assert decode_frame(encode_frame(frame)).tobytes() == frame.tobytes()


def test_encode_frame_converts_other_modes_and_refuses_other_sizes() -> None:
    rgba = Image.new("RGBA", (SIZE, SIZE), (10, 20, 30, 255))
    assert base64.b64decode(encode_frame(rgba))[:3] == bytes((10, 20, 30))
    with pytest.raises(FrameError, match="64x64.*32x32"):
        encode_frame(Image.new("RGB", (32, 32)))


@pytest.mark.parametrize(("data", "error"), [
    ("not base64!", "not valid base64"),
    (base64.b64encode(b"\x00" * 12).decode(), "holds 12 bytes"),
])
def test_decode_frame_names_what_is_wrong(data: str, error: str) -> None:
    with pytest.raises(FrameError, match=error):
        decode_frame(data)
