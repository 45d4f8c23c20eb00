"""The dashboard frame: a `DashboardView` in, a 64×64 RGB image out. Pure.

No clock, no I/O (the fonts are loaded once by `load_fonts`), no state: the same view
always gives the same pixels, which is what the golden tests pin. Layout, in rows:

     0–11  clock (big) | weekday and date, stacked; a red corner while anything alerts
    13–26  weather: icon, temperature, today's high/low, next-hour rain
    28–63  bus rows: line, destination (or quay label), minutes to departure
    55–63  while Alertmanager fires (hub/fleet/): its first alert, and the count in the
           corner, in place of the last bus row
    13–63  or, while there is one, the display message over weather and buses

A thin rule separates the blocks; it turns amber above a block whose data is stale
(which is then drawn dimmed) or incomplete (a quay failed in the last poll).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from types import MappingProxyType

from PIL import Image, ImageDraw

from hub.display.icons import ICON_SIZE, symbol_icon
from hub.display.text import (
    BitmapFont,
    Color,
    Fonts,
    draw_big_text,
    draw_text,
    load_fonts,
    sanitize,
    wrap,
)
from hub.display.view import DashboardView, DisplayMessage, Language
from hub.sources.data import Departure, Forecast

SIZE = 64

BLACK: Color = (0, 0, 0)
WHITE: Color = (235, 235, 235)
GREY: Color = (150, 150, 155)
RULE: Color = (45, 45, 55)
AMBER: Color = (255, 150, 0)
RED: Color = (255, 45, 35)
YELLOW: Color = (255, 205, 0)
LINE_COLOR: Color = (110, 175, 255)
WARM: Color = (255, 170, 90)
COOL: Color = (120, 190, 255)
RAIN: Color = (70, 150, 255)
MESSAGE_FRAME: Color = (160, 95, 255)
#: The fleet's row: dark red under white text, unlike any bus row.
FLEET_BACKGROUND: Color = (110, 0, 10)
#: Stale values are drawn at this share of their brightness.
STALE_DIM = 0.4

CLOCK_TOP = 1
WEATHER_TOP = 13
BUS_TOP = 28
BUS_ROW_PITCH = 9
#: The last column the minutes may ink: one blank column at the right edge, as the line
#: numbers keep one at the left, so a number never reads as running off the panel.
BUS_RIGHT = SIZE - 2
MESSAGE_MAX_PAGES = 4
#: The fleet's row takes the place of the last bus row.
FLEET_TOP = SIZE - BUS_ROW_PITCH


@dataclass(frozen=True, slots=True)
class Words:
    """The few words the display shows, per language."""

    weekdays: tuple[str, ...]  # Monday first, as `datetime.weekday()`
    months: tuple[str, ...]
    now: str
    no_data: str
    no_departures: str
    day_first_format: str  # the date's second line, from day and month


WORDS: Mapping[Language, Words] = MappingProxyType({
    "no": Words(weekdays=("man", "tir", "ons", "tor", "fre", "lør", "søn"),
                months=("jan", "feb", "mar", "apr", "mai", "jun", "jul", "aug", "sep", "okt",
                        "nov", "des"),
                now="nå", no_data="venter", no_departures="ingen avg.",
                day_first_format="{day}. {month}"),
    "en": Words(weekdays=("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
                months=("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                        "Nov", "Dec"),
                now="now", no_data="waiting", no_departures="no buses",
                day_first_format="{day} {month}"),
})


def render(view: DashboardView, fonts: Fonts | None = None) -> Image.Image:
    """Draw `view` as a 64×64 RGB frame. Never raises on odd data: unknown symbols get a
    generic icon, characters the fonts lack become `?`, long text is cut to fit."""
    fonts = fonts or load_fonts()
    image = Image.new("RGB", (SIZE, SIZE), BLACK)
    draw = ImageDraw.Draw(image)
    local = local_time(view.now, view.zone)
    words = WORDS[view.language]
    _draw_clock(image, draw, fonts, local, words)
    if view.is_alerting:
        draw.rectangle((SIZE - 3, 0, SIZE - 1, 2), fill=RED)
    page = _message_page_now(view, fonts)
    if view.message is not None and page is not None:
        _draw_message(draw, fonts, view.message, page)
        return image
    draw_rule(draw, WEATHER_TOP - 1, is_marked=view.is_weather_stale)
    draw_weather(image, draw, fonts, view)
    is_bus_incomplete = view.bus is not None and bool(view.bus.failed_quays)
    draw_rule(draw, BUS_TOP - 1, is_marked=view.is_bus_stale or is_bus_incomplete)
    _draw_buses(draw, fonts, view, words)
    if view.fleet_alerts:
        _draw_fleet_alerts(draw, fonts, view.fleet_alerts)
    return image


def _draw_fleet_alerts(draw: ImageDraw.ImageDraw, fonts: Fonts,
                       alerts: tuple[str, ...]) -> None:
    """The first firing alert over the last bus row, their count in the corner."""
    count = str(len(alerts)) if len(alerts) < 100 else "99"
    draw.rectangle((0, FLEET_TOP, SIZE - 1, SIZE - 1), fill=FLEET_BACKGROUND)
    count_x = right_aligned_x(fonts.small, count, BUS_RIGHT)
    draw_text(draw, (count_x, FLEET_TOP + 1), count, fonts.small, YELLOW)
    draw_text(draw, (1, FLEET_TOP + 2), alerts[0], fonts.tiny, WHITE, max_width=count_x - 3)


def local_time(at: float, zone: tzinfo | None) -> datetime:
    """`at` in `zone`, or in the system's zone when `zone` is None."""
    instant = datetime.fromtimestamp(at, tz=UTC)
    return instant.astimezone(zone) if zone is not None else instant.astimezone()


def dim(color: Color, factor: float = STALE_DIM) -> Color:
    r, g, b = color
    return (round(r * factor), round(g * factor), round(b * factor))


def right_aligned_x(font: BitmapFont, text: str, right: int = SIZE - 1) -> int:
    """The x at which `text` must start for its last inked column to be `right`
    (a cell's last column is blank spacing)."""
    return right + 2 - font.width(text)


def draw_rule(draw: ImageDraw.ImageDraw, y: int, is_marked: bool) -> None:
    """The separator above a block; amber dashes on its right half mark old data."""
    draw.line((0, y, SIZE - 1, y), fill=RULE)
    if is_marked:
        for x in range(SIZE // 2, SIZE, 3):
            draw.line((x, y, x + 1, y), fill=AMBER)


# -- clock and date -------------------------------------------------------------------

def _draw_clock(image: Image.Image, draw: ImageDraw.ImageDraw, fonts: Fonts, local: datetime,
                words: Words) -> None:
    width = draw_big_text(image, (1, CLOCK_TOP), f"{local:%H:%M}", fonts, WHITE)
    left = 1 + width + 2
    room = SIZE - left
    weekday = words.weekdays[local.weekday()]
    day = words.day_first_format.format(day=local.day, month=words.months[local.month - 1])
    draw_text(draw, (left, 0), weekday, fonts.tiny, WHITE, max_width=room)
    draw_text(draw, (left, 6), day, fonts.tiny, GREY, max_width=room)


# -- weather ----------------------------------------------------------------------------

def draw_weather(image: Image.Image, draw: ImageDraw.ImageDraw, fonts: Fonts,
                 view: DashboardView, top: int = WEATHER_TOP + 1) -> None:
    """The weather block (icon, temperature, high/low, rain) with its top row at `top`;
    the `clock` page draws it lower down."""
    forecast = view.weather
    if forecast is None:
        icon = symbol_icon("")
        image.paste(_dimmed_icon(icon), (1, top), icon)
        draw_big_text(image, (16, top + 1), "--", fonts, dim(WHITE))
        return
    factor = STALE_DIM if view.is_weather_stale else 1.0
    icon = symbol_icon(forecast.symbol)
    image.paste(_dimmed_icon(icon, factor) if factor < 1 else icon, (1, top), icon)
    temperature = _whole_degrees(forecast.temperature_c)
    text_color = dim(COOL if temperature < 0 else WHITE, factor)
    left = 1 + ICON_SIZE + 3
    width = draw_big_text(image, (left, top + 1), str(temperature), fonts, text_color)
    _draw_degree_sign(draw, left + width + 1, top + 1, text_color)
    column = left + width + 6
    room = SIZE - column
    x = column
    for part, color in zip(_high_low(forecast, fonts.tiny, room), (WARM, GREY, COOL),
                           strict=False):
        x += draw_text(draw, (x, top), part, fonts.tiny, dim(color, factor))
    rain = _rain_text(forecast, view.language, fonts.tiny, room)
    if rain:
        draw_text(draw, (column, top + 6), rain, fonts.tiny, dim(RAIN, factor))


def _dimmed_icon(icon: Image.Image, factor: float = STALE_DIM) -> Image.Image:
    return icon.convert("RGB").point(lambda v: round(v * factor))


def _whole_degrees(celsius: float) -> int:
    """Rounded half away from zero, as a thermometer reads; never "-0"."""
    value = math.floor(abs(celsius) + 0.5)
    return -value if celsius < 0 and value else value


def _draw_degree_sign(draw: ImageDraw.ImageDraw, x: int, y: int, color: Color) -> None:
    draw.point([(x + 1, y), (x, y + 1), (x + 2, y + 1), (x + 1, y + 2)], fill=color)


def _high_low(forecast: Forecast, font: BitmapFont, room: int) -> tuple[str, ...]:
    """Today's high, a slash and the low; only the high when both do not fit."""
    if forecast.high_c is None or forecast.low_c is None:
        return ()
    high, low = str(_whole_degrees(forecast.high_c)), str(_whole_degrees(forecast.low_c))
    for parts in ((high, "/", low), (high,)):
        if font.width("".join(parts)) <= room + 1:
            return parts
    return ()


def _rain_text(forecast: Forecast, language: Language, font: BitmapFont, room: int) -> str:
    amount = forecast.precipitation_mm
    if amount is None or amount <= 0:
        return ""
    number = f"{amount:.1f}" if amount < 9.95 else f"{amount:.0f}"
    if language == "no":
        number = number.replace(".", ",")
    for text in (f"{number}mm", number):
        if font.width(text) <= room + 1:
            return text
    return ""


# -- buses --------------------------------------------------------------------------------

def upcoming(departures: tuple[Departure, ...], now: float) -> list[Departure]:
    """The departures that have not left at `now`, soonest first."""
    return sorted((d for d in departures if d.departs_at >= now), key=lambda d: d.departs_at)


def minutes_text(departure: Departure, now: float, zone: tzinfo | None, words: Words) -> str:
    """"nå"/"now" within the minute, whole minutes (rounded down: never promise time
    that is not there) within the hour, then the local departure time."""
    seconds = departure.departs_at - now
    if seconds < 60:
        return words.now
    if seconds < 3600:
        return str(int(seconds // 60))
    return f"{local_time(departure.departs_at, zone):%H:%M}"


def urgency_color(departure: Departure, view: DashboardView) -> Color:
    seconds = departure.departs_at - view.now
    if seconds < view.walk_seconds:
        return RED
    if seconds < view.soon_seconds:
        return YELLOW
    return WHITE


def _draw_buses(draw: ImageDraw.ImageDraw, fonts: Fonts, view: DashboardView,
                words: Words) -> None:
    board = view.bus
    if board is None:
        draw_centered(draw, fonts.small, words.no_data, BUS_TOP + 14, dim(WHITE))
        return
    rows = upcoming(board.departures, view.now)[: (SIZE - BUS_TOP) // BUS_ROW_PITCH]
    factor = STALE_DIM if view.is_bus_stale else 1.0
    if not rows:
        draw_centered(draw, fonts.small, words.no_departures, BUS_TOP + 14,
                       dim(GREY, factor))
        return
    line_font, label_font = fonts.small, fonts.tiny
    line_width = max(line_font.width(sanitize(d.line)[:3]) for d in rows)
    for index, departure in enumerate(rows):
        y = BUS_TOP + 1 + index * BUS_ROW_PITCH
        draw_text(draw, (1, y), departure.line[:3], line_font, dim(LINE_COLOR, factor))
        minutes = minutes_text(departure, view.now, view.zone, words)
        # Clock times are longer: they take the small font so the label keeps its room.
        minutes_font = line_font if ":" not in minutes else label_font
        minutes_x = right_aligned_x(minutes_font, minutes, BUS_RIGHT)
        minutes_y = y if minutes_font is line_font else y + 1
        draw_text(draw, (minutes_x, minutes_y), minutes, minutes_font,
                  dim(urgency_color(departure, view), factor))
        label = departure.destination if view.bus_label == "destination" else departure.quay
        label_x = 1 + line_width + 2
        draw_text(draw, (label_x, y + 1), label, label_font, dim(GREY, factor),
                  max_width=minutes_x - 2 - label_x)


def draw_centered(draw: ImageDraw.ImageDraw, font: BitmapFont, text: str, y: int,
                   color: Color) -> None:
    text = font.fit(sanitize(text), SIZE)
    draw_text(draw, ((SIZE - font.width(text) + 1) // 2, y), text, font, color)


# -- the display message ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MessagePage:
    """The lines of a message shown at one instant, and where they sit among the pages."""

    lines: tuple[str, ...]
    number: int  # 1-based
    count: int


MESSAGE_LINES_PER_PAGE = 5
MESSAGE_TEXT_WIDTH = SIZE - 4


def message_page(message: DisplayMessage, now: float, font: BitmapFont, width: int,
                 lines_per_page: int, page_seconds: float,
                 break_seconds: float = 0.0) -> MessagePage | None:
    """Wrap `message` to `width` pixels and pick the page shown at `now`, or None during
    the break. From `posted_at`, each page shows for `page_seconds`, then the dashboard
    for `break_seconds`, round after round. At most `MESSAGE_MAX_PAGES`, the last one
    ending in "..." when the text goes on."""
    lines = wrap(message.text, font, width)
    while lines and not lines[-1]:
        lines.pop()
    lines = lines or [""]
    capacity = lines_per_page * MESSAGE_MAX_PAGES
    if len(lines) > capacity:
        lines = lines[:capacity]
        per_line = (width + 1) // font.cell_width
        lines[-1] = lines[-1][: max(0, per_line - 3)] + "..."
    count = -(-len(lines) // lines_per_page)
    elapsed = max(0.0, now - message.posted_at) % (count * page_seconds + break_seconds)
    index = int(elapsed // page_seconds)
    if index >= count:
        return None
    page = lines[index * lines_per_page: (index + 1) * lines_per_page]
    return MessagePage(lines=tuple(page), number=index + 1, count=count)


def _message_page_now(view: DashboardView, fonts: Fonts) -> MessagePage | None:
    if view.message is None or not view.message.is_shown_at(view.now):
        return None
    return message_page(view.message, view.now, fonts.small, MESSAGE_TEXT_WIDTH,
                        MESSAGE_LINES_PER_PAGE, view.message_page_seconds,
                        view.message_break_seconds)


def _draw_message(draw: ImageDraw.ImageDraw, fonts: Fonts, message: DisplayMessage,
                  page: MessagePage) -> None:
    top = WEATHER_TOP - 1
    draw.rectangle((0, top, SIZE - 1, SIZE - 1), outline=MESSAGE_FRAME, fill=BLACK)
    font, pitch = fonts.small, 8
    for index, line in enumerate(page.lines):
        draw_text(draw, (2, top + 2 + index * pitch), line, font, WHITE,
                  max_width=MESSAGE_TEXT_WIDTH)
    draw_message_footer(draw, fonts, message, page)


def draw_message_footer(draw: ImageDraw.ImageDraw, fonts: Fonts, message: DisplayMessage,
                        page: MessagePage) -> None:
    """The bottom row of a message in its frame: `-author`, and `2/3` when it pages."""
    footer_y = SIZE - 8
    counter = f"{page.number}/{page.count}" if page.count > 1 else ""
    counter_x = right_aligned_x(fonts.tiny, counter, SIZE - 3) if counter else SIZE - 2
    if counter:
        draw_text(draw, (counter_x, footer_y), counter, fonts.tiny, MESSAGE_FRAME)
    draw_text(draw, (2, footer_y), f"-{message.author}", fonts.tiny, GREY,
              max_width=counter_x - 2 - 2)
