"""The preview device: frames written as PNG files instead of pushed to a Pixoo.

Used by the demo and by anyone without a Pixoo: `<state_dir>/frame.png` is the frame
itself (64×64) and `frame-large.png` a copy scaled up for people (nearest neighbour, so
pixels stay square). Each file is written to a temporary name in the same directory and
moved into place with `os.replace`, so a viewer (the status page, an image viewer that
reloads) never reads half a file.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from PIL import Image

from hub.display.frame import FRAME_SIZE, FrameError

FRAME_NAME = "frame.png"
LARGE_NAME = "frame-large.png"


class PreviewDevice:
    """Writes each pushed frame to `frame.png` and `frame-large.png` in `state_dir`."""

    def __init__(self, state_dir: Path | str, scale: int = 8) -> None:
        if scale < 1:
            raise ValueError(f"scale: expected a whole number >= 1, got {scale}")
        self.state_dir = Path(state_dir)
        self.scale = scale

    @property
    def frame_path(self) -> Path:
        return self.state_dir / FRAME_NAME

    @property
    def large_path(self) -> Path:
        return self.state_dir / LARGE_NAME

    def push(self, image: Image.Image) -> None:
        """Write `image` (64×64) as the current frame. Raises `FrameError` for a wrong
        size and `OSError` when the directory cannot be written."""
        if image.size != (FRAME_SIZE, FRAME_SIZE):
            raise FrameError(f"a frame must be {FRAME_SIZE}x{FRAME_SIZE} pixels, got "
                             f"{image.width}x{image.height}")
        frame = image if image.mode == "RGB" else image.convert("RGB")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        _write_atomically(frame, self.frame_path)
        size = FRAME_SIZE * self.scale
        _write_atomically(frame.resize((size, size), Image.Resampling.NEAREST), self.large_path)


def scaled_png(image: Image.Image, scale: int = 8) -> bytes:
    """`image` scaled up `scale` times (nearest neighbour: square pixels) as PNG bytes:
    what `preview` and Discord's preview reply carry."""
    size = (image.width * scale, image.height * scale)
    buffer = io.BytesIO()
    image.convert("RGB").resize(size, Image.Resampling.NEAREST).save(buffer, format="PNG")
    return buffer.getvalue()


def _write_atomically(image: Image.Image, path: Path) -> None:
    # No fsync: a frame lost in a power cut is replaced a second later, and syncing once a
    # second would wear a Pi's SD card for nothing.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-",
                                         suffix=".png.tmp")
    try:
        os.fchmod(handle, 0o644)  # a frame is no secret; let a web server read it
        with os.fdopen(handle, "wb") as file:
            # Level 3 writes the ×8 copy in about half the time of the default 6 for a
            # few KB more (bench/render_bench.py); it is rewritten every second.
            image.save(file, format="PNG", compress_level=3)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
