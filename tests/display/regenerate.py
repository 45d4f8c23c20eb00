"""Rewrite the golden frames after a deliberate change to the renderer.

    .venv/bin/python -m tests.display.regenerate              # rewrite tests/display/golden/
    .venv/bin/python -m tests.display.regenerate --large DIR  # also write ×8 copies to look at

Look at the ×8 copies (or the diff in review) before committing new goldens: the golden
tests only prove that the frames did not change, not that they are right.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

from hub.display.render import render
from tests.display.scenes import SCENES

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


def golden_path(scene: str) -> Path:
    return GOLDEN_DIR / f"{scene}.png"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.display.regenerate",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=Path, metavar="DIR",
                        help="also write each frame scaled ×8 to DIR")
    args = parser.parse_args(argv)
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    if args.large:
        args.large.mkdir(parents=True, exist_ok=True)
    for name, scene in SCENES.items():
        frame = render(scene())
        frame.save(golden_path(name), format="PNG")
        sys.stdout.write(f"{golden_path(name)}\n")
        if args.large:
            large = args.large / f"{name}-x8.png"
            frame.resize((512, 512), Image.Resampling.NEAREST).save(large, format="PNG")
            sys.stdout.write(f"{large}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
