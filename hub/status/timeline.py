"""Every machine's states over the last day as a picture: coloured bands and time marks
(pure).

    ┌──────────────────────────────────────────────────────────────────────┐
    │ last 24 h · Europe/Oslo                                    now 14:05 │
    │ bus       ███████████████████████████████████████████████████████████ │
    │ weather   ███████████████▓▓▓▓████████████░░░░░░░████████████████████ │
    │           |    |    |    |    |    |    |    |    |    |    |    |   │
    │           16:00     20:00     00:00 …                                │
    │ ■ healthy ■ suspect ■ alerting ■ reminding ■ recovered ■ no data     │
    └──────────────────────────────────────────────────────────────────────┘

`timeline_png(history, now, zone)` draws it from `HubStatus.history` for the status page
(`/timeline.png`) and the bot's `status` reply (attached as `timeline.png`). Time runs
left to right, linearly, to `now`, from `now − 24 h` — or, while the recorded history is
shorter (a hub started ten minutes ago), from where it begins, so the picture shows the
data rather than a day of "no data"; `MIN_SPAN_SECONDS` at least (`span_start`). The
header says the span; the marks fall on the full hours of `zone`, or on its whole
minutes for a short span. A state shorter than a pixel still shows as one pixel when it
is an incident (suspect, alerting, reminding), so a short outage is never drawn away.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw, ImageFont

from hub.formatting import duration
from hub.status.history import DAY_SECONDS, ComponentHistory
from machines import HealthState

RGB = tuple[int, int, int]

#: The band colours: the page's state colours, recovered a lighter green than healthy.
BAND_COLOURS: dict[HealthState, RGB] = {
    HealthState.HEALTHY: (47, 158, 68),      # green
    HealthState.SUSPECT: (250, 204, 21),     # yellow
    HealthState.ALERTING: (229, 72, 77),     # red
    HealthState.REMINDING: (247, 107, 21),   # orange
    HealthState.RECOVERED: (140, 233, 154),  # light green
}
#: Before the first recorded state (the hub was not running, or had not started yet).
NO_DATA: RGB = (222, 226, 230)
BACKGROUND: RGB = (255, 255, 255)
TEXT: RGB = (33, 37, 41)
MUTED: RGB = (134, 142, 150)
TICK: RGB = (73, 80, 87)
GRID: RGB = (233, 236, 239)
#: Drawn last, in this order, at least one pixel wide: what must never disappear.
_INCIDENTS = (HealthState.SUSPECT, HealthState.REMINDING, HealthState.ALERTING)

DEFAULT_WIDTH = 960  # readable on a phone in Discord, and across the status page
MIN_WIDTH = 320
LABEL_WIDTH = 120    # component names, left of the bands
RIGHT_MARGIN = 16
HEADER_HEIGHT = 30
ROW_HEIGHT = 20
ROW_GAP = 6
AXIS_HEIGHT = 30     # ticks and time labels
LEGEND_HEIGHT = 28
FONT_SIZE = 12
#: Labels at least this far apart (a label "00:00" is about 32 px wide).
LABEL_SPACING_PX = 44
#: (label every, mark every) in minutes, finest first: the first whose labels are far
#: enough apart is used. From an hour up the marks stay on the full hours.
_MARK_STEPS_MINUTES = ((1, 1), (2, 1), (5, 1), (10, 5), (15, 5), (30, 10), (60, 60),
                       (120, 60), (180, 60), (240, 60), (360, 60), (720, 60))
#: The shortest span drawn, however new the history: a minute is then 80 px or so at the
#: default width, and the first seconds after a start are not stretched across it all.
MIN_SPAN_SECONDS = 10 * 60.0


@dataclass(frozen=True, slots=True)
class TimelineLayout:
    """Where things are in the picture: time → x, component → row."""

    width: int
    rows: int
    start: float
    now: float

    @property
    def left(self) -> int:
        return LABEL_WIDTH

    @property
    def right(self) -> int:
        """One past the last band pixel."""
        return self.width - RIGHT_MARGIN

    def x_of(self, at: float) -> float:
        return self.left + (at - self.start) / (self.now - self.start) * (self.right - self.left)

    def row_top(self, index: int) -> int:
        return HEADER_HEIGHT + index * (ROW_HEIGHT + ROW_GAP)

    @property
    def axis_top(self) -> int:
        return self.row_top(self.rows) - ROW_GAP + 4

    @property
    def height(self) -> int:
        return self.axis_top + AXIS_HEIGHT + LEGEND_HEIGHT


def span_start(history: Sequence[ComponentHistory], now: float) -> float:
    """Where the picture begins: 24 h before `now`, or the first recorded change when
    that is later, but at least `MIN_SPAN_SECONDS` before `now`."""
    first = min((h.changes[0].at for h in history if h.changes), default=now)
    return min(max(first, now - DAY_SECONDS), now - MIN_SPAN_SECONDS)


def span_label(start: float, now: float) -> str:
    """The span in words, to the minute: "24 h", "10 min", "3 h 25 min"."""
    return duration(round((now - start) / 60) * 60) if now - start < DAY_SECONDS else "24 h"


def layout(history: Sequence[ComponentHistory], now: float,
           width: int = DEFAULT_WIDTH) -> TimelineLayout:
    if width < MIN_WIDTH:
        raise ValueError(f"width: at least {MIN_WIDTH} px, got {width}")
    return TimelineLayout(width, max(len(history), 1), span_start(history, now), now)


@dataclass(frozen=True, slots=True)
class TimeMark:
    at: float
    label: str  # "" for an unlabelled mark; the date at midnight ("14 Nov")
    is_midnight: bool


def _local(at: float, zone: ZoneInfo | None) -> datetime:
    """`at` on the wall clock of `zone` (None: the system's zone)."""
    return datetime.fromtimestamp(at, tz=UTC).astimezone(zone)


def time_marks(start: float, now: float, zone: ZoneInfo | None, label_minutes: int = 60,
               mark_minutes: int = 60) -> list[TimeMark]:
    """The whole `mark_minutes` of `zone`'s wall clock in `(start, now]`, labelled every
    `label_minutes` (a multiple of it), and with the date at midnight.

    Steps are in real time, so a daylight-saving change gives 23 or 25 hours of marks and
    labels that skip or repeat an hour, as the wall clock does.
    """
    local = _local(start, zone)
    first = local.replace(minute=local.minute - local.minute % mark_minutes, second=0,
                          microsecond=0)
    step = mark_minutes * 60.0
    at = first.timestamp()
    while at <= start:
        at += step
    marks = []
    while at <= now:
        moment = _local(at, zone)
        is_midnight = moment.hour == 0 and moment.minute == 0
        label = ""
        if is_midnight:
            label = f"{moment.day} {moment:%b}"
        elif (moment.hour * 60 + moment.minute) % label_minutes == 0:
            label = f"{moment:%H:%M}"
        marks.append(TimeMark(at, label, is_midnight))
        at += step
    return marks


def mark_steps(place: TimelineLayout) -> tuple[int, int]:
    """(label every, mark every) in minutes for the span and width of `place`."""
    per_minute = (place.right - place.left) / ((place.now - place.start) / 60)
    return next(((label, mark) for label, mark in _MARK_STEPS_MINUTES
                 if label * per_minute >= LABEL_SPACING_PX), (1440, 60))


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow < 10.1 or built without FreeType
        return ImageFont.load_default()


def timeline_png(history: Sequence[ComponentHistory], now: float, zone: ZoneInfo | None,
                 width: int = DEFAULT_WIDTH) -> bytes:
    """The picture as PNG bytes: one row per component, in the order given; times on the
    wall clock of `zone` (None: the system's zone, as `[hub] timezone` means)."""
    return _png(timeline_image(history, now, zone, width))


def timeline_image(history: Sequence[ComponentHistory], now: float, zone: ZoneInfo | None,
                   width: int = DEFAULT_WIDTH) -> Image.Image:
    place = layout(history, now, width)
    image = Image.new("RGB", (place.width, place.height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = _font(FONT_SIZE)
    clock = _local(now, zone)
    zone_name = zone.key if zone is not None else f"local time ({clock:%Z})"
    span = f"last {span_label(place.start, now)}"
    if now - place.start < DAY_SECONDS:
        span += f" · since {_local(place.start, zone):%H:%M}"
    draw.text((8, 8), f"{span} · {zone_name}", fill=MUTED, font=font)
    stamp = f"now {clock:%H:%M}"
    draw.text((place.right - draw.textlength(stamp, font=font), 8), stamp, fill=MUTED,
              font=font)
    marks = time_marks(place.start, now, zone, *mark_steps(place))
    chart_bottom = place.axis_top
    for mark in marks:  # grid first: the bands cover it, the gaps between rows show it
        x = int(place.x_of(mark.at))
        draw.line([(x, HEADER_HEIGHT - 4), (x, chart_bottom)], fill=GRID)
    if not history:
        draw.text((place.left + 8, place.row_top(0) + 3), "no state changes recorded yet",
                  fill=MUTED, font=font)
    for index, component in enumerate(history):
        _draw_row(draw, place, index, component, font)
    for mark in marks:
        x = int(place.x_of(mark.at))
        tick = 8 if mark.is_midnight or mark.label else 4
        draw.line([(x, chart_bottom), (x, chart_bottom + tick)], fill=TICK,
                  width=2 if mark.is_midnight else 1)
        if mark.label:
            text_width = draw.textlength(mark.label, font=font)
            left = min(max(x - text_width / 2, place.left - 12), place.width - text_width - 2)
            draw.text((left, chart_bottom + 10), mark.label, fill=TEXT if mark.is_midnight
                      else MUTED, font=font)
    _draw_legend(draw, place, font)
    return image


def _draw_row(draw: ImageDraw.ImageDraw, place: TimelineLayout, index: int,
              component: ComponentHistory, font: ImageFont.FreeTypeFont | ImageFont.ImageFont
              ) -> None:
    top = place.row_top(index)
    bottom = top + ROW_HEIGHT - 1
    name = _fit(draw, component.component, LABEL_WIDTH - 16, font)
    draw.text((8, top + 3), name, fill=TEXT, font=font)
    bands: list[tuple[float, float, RGB, HealthState | None]] = []
    changes = component.changes
    first_at = changes[0].at if changes else place.now
    if first_at > place.start:
        bands.append((place.start, min(first_at, place.now), NO_DATA, None))
    for i, change in enumerate(changes):
        end = changes[i + 1].at if i + 1 < len(changes) else place.now
        begin, end = max(change.at, place.start), min(end, place.now)
        if end > begin:
            bands.append((begin, end, BAND_COLOURS[change.state], change.state))
    for begin, end, colour, _ in bands:
        x0, x1 = round(place.x_of(begin)), round(place.x_of(end))
        if x1 > x0:
            draw.rectangle([(x0, top), (x1 - 1, bottom)], fill=colour)
    # An incident narrower than a pixel would be painted over by its neighbours.
    for state in _INCIDENTS:
        for begin, end, colour, band_state in bands:
            if band_state is state and round(place.x_of(end)) - round(place.x_of(begin)) < 1:
                x = min(int(place.x_of(begin)), place.right - 1)
                draw.line([(x, top), (x, bottom)], fill=colour)


def _draw_legend(draw: ImageDraw.ImageDraw, place: TimelineLayout,
                 font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> None:
    x = float(place.left)
    y = place.axis_top + AXIS_HEIGHT + 4
    entries = [(state.value, BAND_COLOURS[state]) for state in HealthState] + \
        [("no data", NO_DATA)]
    for label, colour in entries:
        draw.rectangle([(round(x), y + 2), (round(x) + 11, y + 13)], fill=colour)
        draw.text((x + 16, y), label, fill=MUTED, font=font)
        x += 16 + draw.textlength(label, font=font) + 14


def _fit(draw: ImageDraw.ImageDraw, text: str, width: float,
         font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> str:
    """`text` cut with an ellipsis to fit `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()

