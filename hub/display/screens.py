"""The pages besides the dashboard: a `PageKind` and a `DashboardView` in, a frame out.

Pure like `hub.display.render` (which draws the `dashboard` page and lends its pieces):
the same view gives the same pixels, pinned by the golden tests. Layouts:

    clock    0–21 the time, three times the clock's size | date | weather below a rule
    bus      0–6 a title and the time | rows: line, whole destination (two lines when
             it needs them), minutes; as many as fit
    alerts   0–7 a title and the count | a row per alert, worst first: a square of its
             severity, its name, how long it has been open; "+N" when more are open
    message  the display message in the large font, a page at a time, and its author
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from PIL import Image, ImageDraw

from hub.display.alerts import Alert
from hub.display.pages import PageKind
from hub.display.render import (
    AMBER,
    BLACK,
    GREY,
    LINE_COLOR,
    MESSAGE_FRAME,
    RED,
    SIZE,
    STALE_DIM,
    WHITE,
    WORDS,
    dim,
    draw_centered,
    draw_message_footer,
    draw_rule,
    draw_weather,
    local_time,
    message_page,
    minutes_text,
    render,
    right_aligned_x,
    upcoming,
    urgency_color,
)
from hub.display.text import (
    BitmapFont,
    Fonts,
    big_text_width,
    draw_big_text,
    draw_text,
    load_fonts,
    sanitize,
    wrap,
)
from hub.display.view import DashboardView, Language

GREEN = (80, 200, 120)
TITLE_BOTTOM = 7
#: Tiny-font rows: 6 pixels of glyph and one blank between rows.
TINY_PITCH = 7
#: A bus row: the small font's line number with a blank row under it.
BUS_ROW_PITCH = 8
#: A destination may take this many lines of the tiny font before it is cut.
DESTINATION_LINES = 2
MESSAGE_LINES_PER_PAGE = 4
MESSAGE_PITCH = 11  # the large font is 10 high


@dataclass(frozen=True, slots=True)
class PageWords:
    """The words the pages add to the dashboard's, per language."""

    bus: str
    alerts: str
    all_clear: str
    more: str  # "+{count} ..." when not every alert fits
    no_message: str
    hour: str  # the unit letter of "3h"


PAGE_WORDS: Mapping[Language, PageWords] = MappingProxyType({
    "no": PageWords(bus="Buss", alerts="Varsler", all_clear="Alt OK", more="+{count} til",
                    no_message="ingen melding", hour="t"),
    "en": PageWords(bus="Bus", alerts="Alerts", all_clear="All clear",
                    more="+{count} more", no_message="no message", hour="h"),
})


def render_page(show: PageKind, view: DashboardView, fonts: Fonts | None = None) -> Image.Image:
    """Draw the page `show` for `view` as a 64×64 RGB frame; never raises on odd data."""
    fonts = fonts or load_fonts()
    if show is PageKind.DASHBOARD:
        return render(view, fonts)
    image = Image.new("RGB", (SIZE, SIZE), BLACK)
    draw = ImageDraw.Draw(image)
    if show is PageKind.CLOCK:
        _draw_clock_page(image, draw, fonts, view)
    elif show is PageKind.BUS:
        _draw_bus_page(draw, fonts, view)
    elif show is PageKind.ALERTS:
        _draw_alerts_page(draw, fonts, view)
    else:
        _draw_message_page(draw, fonts, view)
    return image


def has_something_to_show(show: PageKind, view: DashboardView) -> bool:
    """False for a page that would show only its empty state: it is skipped."""
    if show is PageKind.BUS:
        return view.bus is not None and bool(upcoming(view.bus.departures, view.now))
    if show is PageKind.ALERTS:
        return bool(view.alerts)
    if show is PageKind.MESSAGE:
        return view.message is not None and view.message.is_shown_at(view.now)
    return True


# -- clock --------------------------------------------------------------------------------

def _draw_clock_page(image: Image.Image, draw: ImageDraw.ImageDraw, fonts: Fonts,
                     view: DashboardView) -> None:
    local = local_time(view.now, view.zone)
    words = WORDS[view.language]
    text = f"{local:%H:%M}"
    gap = 3
    width = big_text_width(fonts, text, gap, is_huge=True)
    draw_big_text(image, ((SIZE - width) // 2, 2), text, fonts, WHITE, gap, is_huge=True)
    day = words.day_first_format.format(day=local.day, month=words.months[local.month - 1])
    draw_centered(draw, fonts.small, f"{words.weekdays[local.weekday()]} {day}", 23, GREY)
    draw_rule(draw, 32, is_marked=view.is_weather_stale)
    draw_weather(image, draw, fonts, view, top=38)
    if view.is_alerting:
        draw.rectangle((SIZE - 3, 0, SIZE - 1, 2), fill=RED)


# -- bus ----------------------------------------------------------------------------------

def _draw_title(draw: ImageDraw.ImageDraw, fonts: Fonts, title: str, right: str,
                color: tuple[int, int, int]) -> None:
    draw_text(draw, (1, 0), title, fonts.tiny, color, max_width=SIZE - 24)
    draw_text(draw, (right_aligned_x(fonts.tiny, right, SIZE - 2), 0), right, fonts.tiny, GREY)
    draw_rule(draw, TITLE_BOTTOM, is_marked=False)


def _draw_bus_page(draw: ImageDraw.ImageDraw, fonts: Fonts, view: DashboardView) -> None:
    words = WORDS[view.language]
    local = local_time(view.now, view.zone)
    _draw_title(draw, fonts, PAGE_WORDS[view.language].bus, f"{local:%H:%M}", LINE_COLOR)
    board = view.bus
    if board is None:
        draw_centered(draw, fonts.small, words.no_data, 32, dim(WHITE))
        return
    factor = STALE_DIM if view.is_bus_stale else 1.0
    if view.is_bus_stale or board.failed_quays:
        draw_rule(draw, TITLE_BOTTOM, is_marked=True)
    rows = upcoming(board.departures, view.now)
    if not rows:
        draw_centered(draw, fonts.small, words.no_departures, 32, dim(GREY, factor))
        return
    line_font, label_font = fonts.small, fonts.tiny
    label_x = 1 + max(line_font.width(sanitize(d.line)[:3]) for d in rows) + 1
    wide = SIZE - 1 - label_x  # a label's room without the minutes beside it
    y = TITLE_BOTTOM + 2
    for departure in rows:
        minutes = minutes_text(departure, view.now, view.zone, words)
        minutes_font = line_font if ":" not in minutes else label_font
        minutes_x = right_aligned_x(minutes_font, minutes, SIZE - 2)
        room = minutes_x - 2 - label_x
        label = sanitize(departure.destination if view.bus_label == "destination"
                         else departure.quay)
        lines = _destination_lines(label, label_font, room, wide)
        height = max(BUS_ROW_PITCH, len(lines) * (label_font.cell_height + 1) + 1)
        if y + height - 1 > SIZE:
            break
        draw_text(draw, (1, y), departure.line[:3], line_font, dim(LINE_COLOR, factor))
        # A one-line label keeps the minutes on the line number's row; a longer one
        # takes that row whole and the minutes go under it, beside its rest.
        minutes_y = y + (len(lines) - 1) * (label_font.cell_height + 1)
        draw_text(draw, (minutes_x, minutes_y if minutes_font is line_font else minutes_y + 1),
                  minutes, minutes_font, dim(urgency_color(departure, view), factor))
        for index, line in enumerate(lines):
            is_last = index == len(lines) - 1
            draw_text(draw, (label_x, y + 1 + index * (label_font.cell_height + 1)), line,
                      label_font, dim(GREY, factor), max_width=room if is_last else wide)
        y += height


def _destination_lines(label: str, font: BitmapFont, room: int, wide: int) -> list[str]:
    """`label` on one line if it fits beside the minutes, else the words that fit the
    whole first row and the rest on a second (cut with an ellipsis if it still runs on)."""
    if font.width(label) <= room + 1:
        return [label]
    first = wrap(label, font, wide)[0]
    return [first, label[len(first):].strip()][:DESTINATION_LINES]


# -- alerts -------------------------------------------------------------------------------

def open_for(seconds: float, language: Language) -> str:
    """How long an alert has been open, in one short unit: 45m, 3t (3h), 2d."""
    minutes = max(0, int(seconds // 60))
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 24 * 60:
        return f"{minutes // 60}{PAGE_WORDS[language].hour}"
    return f"{minutes // (24 * 60)}d"


def _draw_alerts_page(draw: ImageDraw.ImageDraw, fonts: Fonts, view: DashboardView) -> None:
    words = PAGE_WORDS[view.language]
    alerts = view.alerts
    _draw_title(draw, fonts, words.alerts, str(len(alerts)), RED if alerts else GREEN)
    if not alerts:
        draw_centered(draw, fonts.small, words.all_clear, 30, GREEN)
        return
    capacity = (SIZE - TITLE_BOTTOM - 2) // TINY_PITCH
    shown: tuple[Alert, ...] = alerts if len(alerts) <= capacity else alerts[:capacity - 1]
    font = fonts.tiny
    for index, alert in enumerate(shown):
        y = TITLE_BOTTOM + 2 + index * TINY_PITCH
        color = RED if alert.severity == "critical" else AMBER
        draw.rectangle((1, y + 1, 2, y + 3), fill=color)
        age = open_for(view.now - alert.since, view.language)
        age_x = right_aligned_x(font, age, SIZE - 2)
        draw_text(draw, (age_x, y), age, font, GREY)
        draw_text(draw, (5, y), alert.name, font, WHITE, max_width=age_x - 2 - 5)
    if len(shown) < len(alerts):
        y = TITLE_BOTTOM + 2 + len(shown) * TINY_PITCH
        draw_text(draw, (5, y), words.more.format(count=len(alerts) - len(shown)), font, GREY,
                  max_width=SIZE - 6)


# -- message ------------------------------------------------------------------------------

def _draw_message_page(draw: ImageDraw.ImageDraw, fonts: Fonts, view: DashboardView) -> None:
    message = view.message
    if message is None or not message.is_shown_at(view.now):
        draw_centered(draw, fonts.small, PAGE_WORDS[view.language].no_message, 28, dim(GREY))
        return
    font = fonts.large
    width = SIZE - 4
    # No break: the page itself rotates away after its turn.
    page = message_page(message, view.now, font, width, MESSAGE_LINES_PER_PAGE,
                        view.message_page_seconds)
    if page is None:  # only during a break, which this page has not
        return
    draw.rectangle((0, 0, SIZE - 1, SIZE - 1), outline=MESSAGE_FRAME, fill=BLACK)
    for index, line in enumerate(page.lines):
        draw_text(draw, (2, 2 + index * MESSAGE_PITCH), line, font, WHITE, max_width=width)
    draw_message_footer(draw, fonts, message, page)
