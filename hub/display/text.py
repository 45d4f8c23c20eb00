"""Text on 64×64 pixels: the packaged bitmap fonts, and drawing that never overflows.

The fonts are the X11 misc-fixed fonts (Latin-1, monospaced; see `fonts/README.md`).
Everything here measures in whole character cells, so a string is cut before it is
drawn instead of being clipped mid-glyph (and ends in a narrow drawn ellipsis, so a cut
word never passes for a whole one), and any text at all can be drawn: characters the
fonts lack become `?` (a few typographic ones get their plain look-alike first, and
arrows, common as quay labels, get small drawn glyphs).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path(__file__).resolve().parent / "fonts"

Color = tuple[int, int, int]

#: What a font lacks becomes this.
REPLACEMENT = "?"

#: Look-alikes for characters that are common in typed text (phones turn quotes and
#: dashes into typographic ones) but are not in Latin-1.
_LOOKALIKES: Mapping[str, str] = MappingProxyType({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2212": "-", "\u2026": "...", "\u2022": "\xb7", "\u2032": "'", "\u2033": '"',
})

#: Drawn glyphs for characters outside Latin-1 that the display needs (quay labels
#: such as "↑" mark the direction of travel).
ARROWS = frozenset("\u2190\u2191\u2192\u2193")


def is_drawable(char: str) -> bool:
    """True if the fonts have a glyph for `char` (printable Latin-1) or we draw one."""
    code = ord(char)
    return 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF or char in ARROWS


def sanitize(text: str) -> str:
    """`text` as the fonts can draw it, on one line: composed (NFC), look-alikes for
    typographic punctuation, whitespace and control characters as spaces, and `?` for
    anything else the fonts lack (emoji, other scripts)."""
    out: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        if is_drawable(char):
            out.append(char)
        elif char in _LOOKALIKES:
            out.append(_LOOKALIKES[char])
        elif char.isspace() or unicodedata.category(char) == "Cc":
            out.append(" ")
        elif unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue  # a stray combining mark or a zero-width format character
        else:
            out.append(REPLACEMENT)
    return "".join(out)


@dataclass(frozen=True, slots=True, eq=False)
class BitmapFont:
    """One monospaced bitmap font: every character is one `cell_width`×`cell_height` cell."""

    name: str
    font: ImageFont.ImageFont
    cell_width: int
    cell_height: int

    def width(self, text: str) -> int:
        """Pixels `text` takes, including the blank column after its last character."""
        return len(text) * self.cell_width

    def fit(self, text: str, max_width: int) -> str:
        """The longest prefix of `text` whose characters fit in `max_width` pixels.

        The last character's trailing blank column may hang over by one pixel: it is
        blank, so nothing visible overflows."""
        return text[: max(0, (max_width + 1) // self.cell_width)]


@dataclass(frozen=True, slots=True, eq=False)
class Fonts:
    """The packaged fonts, loaded once (see `load_fonts`)."""

    tiny: BitmapFont  # 4x6
    small: BitmapFont  # 5x7
    medium: BitmapFont  # 5x8
    large: BitmapFont  # 6x10
    #: 4x6 digits and punctuation drawn at twice the size, for the clock.
    big: Mapping[str, Image.Image]
    #: The same at three times the size, for the `clock` page.
    huge: Mapping[str, Image.Image]


def _load_font(name: str) -> BitmapFont:
    font = ImageFont.load(str(FONT_DIR / f"{name}.pil"))
    width, height = (int(n) for n in name.split("x"))
    return BitmapFont(name=name, font=font, cell_width=width, cell_height=height)


@lru_cache(maxsize=1)
def load_fonts() -> Fonts:
    """Read the packaged fonts (the only file reads of the renderer), once per process."""
    tiny = _load_font("4x6")
    return Fonts(tiny=tiny, small=_load_font("5x7"), medium=_load_font("5x8"),
                 large=_load_font("6x10"), big=_big_glyphs(tiny, BIG_CHARS, scale=2),
                 huge=_big_glyphs(tiny, BIG_CHARS, scale=3))


#: The characters the big clock glyphs exist for.
BIG_CHARS = "0123456789:-?"
#: 4x6's zero has a bar across; doubled it reads as a theta, so the clock gets a plain one.
_BIG_REDRAWN: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "0": (".#.", "#.#", "#.#", "#.#", ".#."),
})


def _big_glyphs(font: BitmapFont, chars: str, scale: int) -> Mapping[str, Image.Image]:
    """Masks (mode "1") of `chars` scaled up: digits keep the full inked cell so the clock
    does not shift as they change; other characters are trimmed to their ink."""
    glyphs: dict[str, Image.Image] = {}
    for char in chars:
        cell = Image.new("1", (font.cell_width, font.cell_height), 0)
        if char in _BIG_REDRAWN:
            for y, row in enumerate(_BIG_REDRAWN[char]):
                for x, pixel in enumerate(row):
                    if pixel == "#":
                        cell.putpixel((x, y), 1)
        else:
            ImageDraw.Draw(cell).text((0, 0), char, font=font.font, fill=1)
        if char.isdigit():
            box = (0, 0, font.cell_width - 1, font.cell_height)  # the last column is spacing
        else:
            ink = cell.getbbox()
            box = (ink[0], 0, ink[2], font.cell_height) if ink else (0, 0, 1, font.cell_height)
        glyph = cell.crop(box)
        glyphs[char] = glyph.resize((glyph.width * scale, glyph.height * scale),
                                    Image.Resampling.NEAREST)
    return MappingProxyType(glyphs)


def _big_layout(glyphs: Mapping[str, Image.Image], text: str,
                gap: int) -> tuple[list[tuple[Image.Image, int]], int]:
    """Each big glyph of `text` with its x offset, and the total width. Two digits are
    `gap` apart; a narrow glyph such as the colon sits half a gap from its neighbours, so
    the clock stays compact without crowding its digits."""
    placed: list[tuple[Image.Image, int]] = []
    x = 0
    previous_is_narrow = False
    for char in text:
        glyph = glyphs.get(char, glyphs["?"])
        is_narrow = glyph.width <= gap * 2
        if placed:
            x += max(1, gap // 2) if is_narrow or previous_is_narrow else gap
        placed.append((glyph, x))
        x += glyph.width
        previous_is_narrow = is_narrow
    return placed, x


def big_text_width(fonts: Fonts, text: str, gap: int = 2, *, is_huge: bool = False) -> int:
    """The width `draw_big_text` would draw `text` in."""
    return _big_layout(fonts.huge if is_huge else fonts.big, text, gap)[1]


def draw_big_text(image: Image.Image, xy: tuple[int, int], text: str, fonts: Fonts,
                  fill: Color, gap: int = 2, *, is_huge: bool = False) -> int:
    """Draw `text` (digits and `:-?` only) with the big clock glyphs (`is_huge`: the
    three-times ones); returns the width."""
    placed, width = _big_layout(fonts.huge if is_huge else fonts.big, text, gap)
    for glyph, offset in placed:
        image.paste(fill, (xy[0] + offset, xy[1]), glyph)
    return width


def draw_text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, font: BitmapFont,
              fill: Color, max_width: int | None = None) -> int:
    """Draw one line of `text` at `xy`, cut to `max_width` pixels (whole characters, then
    an ellipsis when there is room for one); returns the width used. `text` is sanitized
    here, so anything may be passed."""
    text = sanitize(text)
    if max_width is not None and font.width(text) > max_width + 1:
        dots = _ellipsis(font)
        kept = font.fit(text, max_width - dots.width - 1).rstrip()
        if not kept:  # no room for a character and the dots: show what fits
            return _draw_run(draw, xy, font.fit(text, max_width), font, fill)
        width = _draw_run(draw, xy, kept, font, fill)
        draw.bitmap((xy[0] + width, xy[1]), dots, fill=fill)
        return width + dots.width + 1
    return _draw_run(draw, xy, text, font, fill)


@lru_cache(maxsize=8)
def _ellipsis(font: BitmapFont) -> Image.Image:
    """Three of the font's full stops one blank column apart (mode "1", a cell high): a
    third of "..." in whole cells, which would eat the room of the word it shortens."""
    cell = Image.new("1", (font.cell_width, font.cell_height), 0)
    ImageDraw.Draw(cell).text((0, 0), ".", font=font.font, fill=1)
    box = cell.getbbox()
    assert box is not None, f"{font.name} has an empty full stop"
    dot = cell.crop((box[0], 0, box[2], font.cell_height))
    dots = Image.new("1", (dot.width * 3 + 2, font.cell_height), 0)
    for index in range(3):
        dots.paste(dot, (index * (dot.width + 1), 0))
    return dots


def _draw_run(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, font: BitmapFont,
              fill: Color) -> int:
    """Draw `text` (sanitized, already cut) at `xy`; returns its width in whole cells."""
    x, y = xy
    for run, is_arrow in _runs(text):
        if is_arrow:
            for char in run:
                draw.point([(x + px, y + py) for px, py in _arrow_points(char, font.cell_width,
                                                                        font.cell_height)],
                           fill=fill)
                x += font.cell_width
        else:
            draw.text((x, y), run, font=font.font, fill=fill)
            x += font.width(run)
    return font.width(text)


def _runs(text: str) -> Iterator[tuple[str, bool]]:
    """Split `text` into runs of font characters and runs of drawn arrows."""
    start = 0
    for index in range(1, len(text) + 1):
        if index == len(text) or (text[index] in ARROWS) != (text[start] in ARROWS):
            yield text[start:index], text[start] in ARROWS
            start = index


@lru_cache(maxsize=64)
def _arrow_points(char: str, cell_width: int, cell_height: int) -> tuple[tuple[int, int], ...]:
    """An arrow the size of a capital letter in a `cell_width`×`cell_height` font."""
    size = 3 if cell_width < 6 else 5  # odd, so the shaft has a centre column
    length = max(3, cell_height - (1 if cell_height <= 6 else 2))  # the font's cap height
    half = size // 2
    points: list[tuple[int, int]] = []
    for along in range(length):
        points.append((half, along))  # the shaft, drawn as for "↓"
    for step in range(1, half + 1):
        points += [(half - step, length - 1 - step), (half + step, length - 1 - step)]
    if char == "\u2191":  # ↑: flip vertically
        points = [(x, length - 1 - y) for x, y in points]
    elif char in ("\u2190", "\u2192"):  # sideways: swap axes, centred on the cap height
        offset = (length - size) // 2
        points = [(y, x + offset) for x, y in points]
        if char == "\u2190":
            points = [(length - 1 - x, y) for x, y in points]
    return tuple(dict.fromkeys(points))


def wrap(text: str, font: BitmapFont, max_width: int) -> list[str]:
    """Greedy word wrap of `text` (sanitized; newlines kept as breaks) into lines of at
    most `max_width` pixels; a word longer than a line is broken across lines."""
    per_line = max(1, (max_width + 1) // font.cell_width)
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in sanitize(paragraph).split():
            while len(word) > per_line:  # a word that fits no line: break it
                room = per_line - len(line) - (1 if line else 0)
                if room <= 0:
                    lines.append(line)
                    line, room = "", per_line
                head, word = word[:room], word[room:]
                line = f"{line} {head}" if line else head
                lines.append(line)
                line = ""
            if not word:
                continue
            candidate = f"{line} {word}" if line else word
            if len(candidate) <= per_line:
                line = candidate
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines
