"""A frame as the Pixoo takes it: `Draw/SendHttpGif`'s `PicData` is the base64 of the
64×64×3 RGB bytes, row by row from the top left."""

from __future__ import annotations

import base64
import binascii

from PIL import Image

FRAME_SIZE = 64
FRAME_BYTES = FRAME_SIZE * FRAME_SIZE * 3


class FrameError(ValueError):
    """A frame is not 64×64 RGB, or `PicData` does not decode to one."""


def encode_frame(image: Image.Image) -> str:
    """The `PicData` for `image` (64×64; converted to RGB if it is another mode)."""
    if image.size != (FRAME_SIZE, FRAME_SIZE):
        raise FrameError(f"a frame must be {FRAME_SIZE}x{FRAME_SIZE} pixels, got "
                         f"{image.width}x{image.height}")
    if image.mode != "RGB":
        image = image.convert("RGB")
    return base64.b64encode(image.tobytes()).decode("ascii")


def decode_frame(pic_data: str) -> Image.Image:
    """The image a `PicData` string holds (what a fake device records)."""
    try:
        raw = base64.b64decode(pic_data, validate=True)
    except (binascii.Error, ValueError) as err:
        raise FrameError(f"PicData is not valid base64: {err}") from None
    if len(raw) != FRAME_BYTES:
        raise FrameError(f"PicData holds {len(raw)} bytes, expected {FRAME_BYTES} "
                         f"({FRAME_SIZE}x{FRAME_SIZE} RGB)")
    return Image.frombytes("RGB", (FRAME_SIZE, FRAME_SIZE), raw)
