"""Convert the X11 misc-fixed bitmap fonts to Pillow's format for `hub/display/fonts/`.

Run on a Debian machine with `xfonts-base` installed:

    apt-get install xfonts-base
    .venv/bin/python scripts/convert_fonts.py

The fonts are public domain ("Public domain font. Share and enjoy.", font-misc-misc);
their Latin-1 (ISO 8859-1) variants cover Norwegian æøå. The converted files are checked
in, so the hub never needs the package, a network or a font at run time. A few glyphs
are redrawn on the way (`GLYPH_FIXES`), so the checked-in files are exactly what this
script writes.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from PIL import Image, PcfFontFile

SOURCE = Path("/usr/share/fonts/X11/misc")
TARGET = Path(__file__).resolve().parents[1] / "hub" / "display" / "fonts"
SIZES = ("4x6", "5x7", "5x8", "6x10")

#: Glyphs redrawn after conversion, per font: each row of the cell, "#" for ink.
#: 5x7 "å": the original puts a 2×2 ring straight on the letter's top bar, which on the
#: panel reads as "d" ("nå", now, read "nd"). One row of ring and one blank row, as 4x6
#: draws its own "å", keep the letter whole and the ring apart. (4x6 already has the gap;
#: 5x8 and 6x10 are not drawn on the frame.)
GLYPH_FIXES: Mapping[str, Mapping[str, tuple[str, ...]]] = MappingProxyType({
    "5x7": MappingProxyType({
        "\u00e5": (".##..",
                   ".....",
                   ".###.",
                   "#..#.",
                   "#.##.",
                   ".#.#.",
                   "....."),
    }),
})


def redraw(font: PcfFontFile.PcfFontFile, fixes: Mapping[str, tuple[str, ...]]) -> None:
    """Replace the bitmaps of `fixes` in `font`, keeping each glyph's metrics."""
    for char, rows in fixes.items():
        metrics = font.glyph[ord(char)]
        assert metrics is not None, f"the font has no {char!r} to redraw"
        *placement, bitmap = metrics
        if (len(rows[0]), len(rows)) != bitmap.size:
            raise ValueError(f"{char!r}: {len(rows[0])}×{len(rows)} rows for a "
                             f"{bitmap.size[0]}×{bitmap.size[1]} glyph")
        image = Image.new("1", bitmap.size, 0)
        image.putdata([1 if pixel == "#" else 0 for row in rows for pixel in row])
        font.glyph[ord(char)] = (*placement, image)


def main() -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        source = SOURCE / f"{size}-ISO8859-1.pcf.gz"
        with gzip.open(source, "rb") as packed:
            font = PcfFontFile.PcfFontFile(io.BytesIO(packed.read()), charset_encoding="iso8859-1")
        redraw(font, GLYPH_FIXES.get(size, {}))
        font.save(str(TARGET / f"{size}.pil"))  # writes .pil and .pbm
        print(f"{source} -> {TARGET / size}.pil")


if __name__ == "__main__":
    main()
