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
from hub.display.screens import render_page
from tests.display.scenes import PAGE_SCENES, SCENES

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


def golden_path(scene: str) -> Path:
    return GOLDEN_DIR / f"{scene}.png"


def page_golden_path(scene: str) -> Path:
    return GOLDEN_DIR / f"page_{scene}.png"


def frames() -> dict[Path, Image.Image]:
    """Every golden scene's frame, by the path of its golden."""
    found = {golden_path(name): render(scene()) for name, scene in SCENES.items()}
    for name, page_scene in PAGE_SCENES.items():
        found[page_golden_path(name)] = render_page(*page_scene())
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.display.regenerate",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=Path, metavar="DIR",
                        help="also write each frame scaled ×8 to DIR")
    args = parser.parse_args(argv)
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    if args.large:
        args.large.mkdir(parents=True, exist_ok=True)
    for path, frame in frames().items():
        frame.save(path, format="PNG")
        sys.stdout.write(f"{path}\n")
        if args.large:
            large = args.large / f"{path.stem}-x8.png"
            frame.resize((512, 512), Image.Resampling.NEAREST).save(large, format="PNG")
            sys.stdout.write(f"{large}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
