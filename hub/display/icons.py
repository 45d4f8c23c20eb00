"""Weather icons: MET symbol codes → a 12×12 pixel picture.

MET's `symbol_code` is a weather word plus an optional `_day`/`_night`/`_polartwilight`
suffix (e.g. `lightrainshowers_night`). It is mapped to one of a few groups a 12×12 icon
can show apart (clear, partly cloudy, cloudy, rain, heavy rain, sleet, snow, fog,
thunder); where the sky matters (clear, fair, partly cloudy, showers) the day variant
shows the sun and the night variant the moon. An unknown code gets a plain grey cloud.

The pictures are pixel art written out below, one letter per pixel (`.` is
transparent), and composed from layers so that a cloud is drawn once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from types import MappingProxyType

from PIL import Image

ICON_SIZE = 12


class SkyGroup(Enum):
    CLEAR = "clear"
    PARTLY_CLOUDY = "partly_cloudy"
    CLOUDY = "cloudy"
    RAIN = "rain"
    HEAVY_RAIN = "heavy_rain"
    SLEET = "sleet"
    SNOW = "snow"
    FOG = "fog"
    THUNDER = "thunder"
    UNKNOWN = "unknown"


class Light(Enum):
    DAY = "day"
    NIGHT = "night"
    NONE = "none"  # the picture shows no sun or moon


@dataclass(frozen=True, slots=True)
class Sky:
    """What a symbol code means for the picture."""

    group: SkyGroup
    light: Light


_WORDS = frozenset({
    "clearsky", "fair", "partlycloudy", "cloudy", "fog",
    "rain", "lightrain", "heavyrain", "rainshowers", "lightrainshowers", "heavyrainshowers",
    "sleet", "lightsleet", "heavysleet", "sleetshowers", "lightsleetshowers",
    "heavysleetshowers", "snow", "lightsnow", "heavysnow", "snowshowers", "lightsnowshowers",
    "heavysnowshowers",
})


def classify(symbol: str) -> Sky:
    """The group and light of a MET symbol code; anything unrecognised is UNKNOWN."""
    word, _, suffix = symbol.strip().lower().partition("_")
    if suffix not in ("", "day", "night", "polartwilight"):
        return Sky(SkyGroup.UNKNOWN, Light.NONE)
    # Polar twilight is light outside with the sun below the horizon: drawn as day.
    light = Light.NIGHT if suffix == "night" else Light.DAY
    if "thunder" in word and word.replace("andthunder", "").replace("ss", "s") in _WORDS:
        return Sky(SkyGroup.THUNDER, Light.NONE)  # MET spells some of these "lightss…"
    if word not in _WORDS:
        return Sky(SkyGroup.UNKNOWN, Light.NONE)
    if word == "clearsky":
        return Sky(SkyGroup.CLEAR, light)
    if word in ("fair", "partlycloudy"):
        return Sky(SkyGroup.PARTLY_CLOUDY, light)
    if word == "cloudy":
        return Sky(SkyGroup.CLOUDY, Light.NONE)
    if word == "fog":
        return Sky(SkyGroup.FOG, Light.NONE)
    shows_sky = light if "showers" in word and suffix else Light.NONE
    if "sleet" in word:
        return Sky(SkyGroup.SLEET, shows_sky)
    if "snow" in word:
        return Sky(SkyGroup.SNOW, shows_sky)
    if word.startswith("heavyrain"):
        return Sky(SkyGroup.HEAVY_RAIN, shows_sky)
    return Sky(SkyGroup.RAIN, shows_sky)


PALETTE: Mapping[str, tuple[int, int, int]] = MappingProxyType({
    "Y": (255, 200, 0),  # sun
    "O": (255, 140, 0),  # sun, rim
    "M": (235, 225, 150),  # moon
    "s": (120, 120, 90),  # a faint star
    "W": (215, 220, 230),  # cloud
    "G": (130, 135, 150),  # cloud, shade / grey cloud
    "D": (85, 88, 105),  # storm cloud
    "B": (40, 130, 255),  # rain
    "C": (200, 235, 255),  # snow
    "L": (255, 230, 40),  # lightning
    "F": (140, 145, 150),  # fog
})

_SUN = (
    ".....Y.....",
    ".Y...Y...Y.",
    "..Y.....Y..",
    "....OOO....",
    "...OYYYO...",
    "YY.OYYYO.YY",
    "...OYYYO...",
    "....OOO....",
    "..Y.....Y..",
    ".Y...Y...Y.",
    ".....Y.....",
)
_MOON = (
    "...MMM.....",
    "..MM.....s.",
    ".MM........",
    ".MM........",
    "MMM........",
    "MMM......s.",
    "MMMM.......",
    ".MMMMM..MM.",
    ".MMMMMMMMM.",
    "..MMMMMMM..",
    "....MMM....",
)
_SMALL_SUN = (
    "..Y...Y",
    "Y..OOO.",
    "..OYYYO",
    "Y.OYYYO",
    "..OYYYO",
)
_SMALL_MOON = (
    "..MMM..",
    ".MM....",
    "MM.....",
    "MM.....",
    "MMM....",
)
_CLOUD = (
    ".....WWW....",
    "..WWWWWWWW..",
    ".WWWWWWWWWW.",
    "WWWWWWWWWWWW",
    "WWWWWWWWWWWW",
    ".GGGGGGGGGG.",
)
_SMALL_CLOUD = (
    "...GGG..",
    ".GGGGGG.",
    "GGGGGGGG",
    ".GGGGGG.",
)
_RAIN = (
    "...B...B....",
    "..B...B...B.",
    ".....B...B..",
    "....B...B...",
)
_HEAVY_RAIN = (
    ".B..B..B..B.",
    "B..B..B..B..",
    "..B..B..B..B",
    ".B..B..B..B.",
    "B..B..B..B..",
)
_SLEET = (
    "..B......C..",
    ".B..C...CCC.",
    "...CCC...C..",
    "....C...B...",
    "..B....B....",
)
_SNOW = (
    "..C......C..",
    ".CCC....CCC.",
    "..C..C...C..",
    "....CCC.....",
    ".....C......",
)
_BOLT = (
    ".....LL.",
    "....LL..",
    "...LLLL.",
    ".....LL.",
    ".....L..",
)
_FOG = (
    "............",
    "............",
    ".FFFFFFFFF..",
    "............",
    "...FFFFFFFFF",
    "............",
    "FFFFFFFFF...",
    "............",
    "..FFFFFFFFF.",
    "............",
)

Layer = tuple[tuple[str, ...], int, int, Mapping[str, str]]  # art, x, y, recolour


def _layer(art: tuple[str, ...], x: int, y: int, **recolour: str) -> Layer:
    return art, x, y, MappingProxyType(recolour)


_PEEK = {Light.DAY: _layer(_SMALL_SUN, 5, 0), Light.NIGHT: _layer(_SMALL_MOON, 5, 0)}


def _layers(sky: Sky) -> list[Layer]:
    """The layers of an icon, back to front."""
    group = sky.group
    if group is SkyGroup.CLEAR:
        return [_layer(_SUN if sky.light is Light.DAY else _MOON, 0, 0)]
    if group is SkyGroup.PARTLY_CLOUDY:
        body = _SUN if sky.light is Light.DAY else _MOON
        return [_layer(body, 3, -1), _layer(_CLOUD, 0, 6)]
    if group is SkyGroup.CLOUDY:
        return [_layer(_SMALL_CLOUD, 4, 2), _layer(_CLOUD, 0, 5)]
    if group is SkyGroup.FOG:
        return [_layer(_FOG, 0, 1)]
    if group is SkyGroup.UNKNOWN:
        return [_layer(_CLOUD, 0, 4, W="G", G="D")]
    peek = [_PEEK[sky.light]] if sky.light in _PEEK else []
    if group is SkyGroup.THUNDER:
        return [_layer(_CLOUD, 0, 1, W="D", G="D"), _layer(_BOLT, 2, 7)]
    if group is SkyGroup.HEAVY_RAIN:
        return [*peek, _layer(_CLOUD, 0, 1, W="G", G="D"), _layer(_HEAVY_RAIN, 0, 7)]
    precipitation = {SkyGroup.RAIN: _RAIN, SkyGroup.SLEET: _SLEET, SkyGroup.SNOW: _SNOW}[group]
    return [*peek, _layer(_CLOUD, 0, 2), _layer(precipitation, 0, 8)]


@lru_cache(maxsize=32)
def icon_for(sky: Sky) -> Image.Image:
    """The 12×12 RGBA picture of `sky` (cached; callers paste it and never change it)."""
    image = Image.new("RGBA", (ICON_SIZE, ICON_SIZE), (0, 0, 0, 0))
    for art, left, top, recolour in _layers(sky):
        for row, line in enumerate(art):
            for column, letter in enumerate(line):
                x, y = left + column, top + row
                if letter != "." and 0 <= x < ICON_SIZE and 0 <= y < ICON_SIZE:
                    image.putpixel((x, y), (*PALETTE[recolour.get(letter, letter)], 255))
    return image


def symbol_icon(symbol: str) -> Image.Image:
    """The icon for a MET symbol code (a grey cloud for codes this version does not know)."""
    return icon_for(classify(symbol))
