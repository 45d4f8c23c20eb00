"""Convert the X11 misc-fixed bitmap fonts to Pillow's format for `hub/display/fonts/`.

Run on a Debian machine with `xfonts-base` installed:

    apt-get install xfonts-base
    .venv/bin/python scripts/convert_fonts.py

The fonts are public domain ("Public domain font. Share and enjoy.", font-misc-misc);
their Latin-1 (ISO 8859-1) variants cover Norwegian æøå. The converted files are checked
in, so the hub never needs the package, a network or a font at run time.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

from PIL import PcfFontFile

SOURCE = Path("/usr/share/fonts/X11/misc")
TARGET = Path(__file__).resolve().parents[1] / "hub" / "display" / "fonts"
SIZES = ("4x6", "5x7", "5x8", "6x10")


def main() -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        source = SOURCE / f"{size}-ISO8859-1.pcf.gz"
        with gzip.open(source, "rb") as packed:
            font = PcfFontFile.PcfFontFile(io.BytesIO(packed.read()), charset_encoding="iso8859-1")
        font.save(str(TARGET / f"{size}.pil"))  # writes .pil and .pbm
        print(f"{source} -> {TARGET / size}.pil")


if __name__ == "__main__":
    main()
