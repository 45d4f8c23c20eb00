"""The preview device: each frame as `frame.png` and a ×8 copy, replaced atomically."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PIL import Image

from hub.display.frame import FrameError
from hub.display.preview import PreviewDevice
from hub.display.render import render
from tests.display.scenes import SCENES, rainy_morning


def read_png(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image.convert("RGB")


def test_push_writes_the_frame_and_a_large_nearest_neighbour_copy(tmp_path: Path) -> None:
    state_dir = tmp_path / "state" / "nested"  # created on the first push
    device = PreviewDevice(state_dir)
    frame = render(rainy_morning())
    device.push(frame)
    assert read_png(state_dir / "frame.png").tobytes() == frame.tobytes()
    large = read_png(state_dir / "frame-large.png")
    assert large.size == (512, 512)
    for x, y in ((0, 0), (5, 20), (33, 47), (63, 63)):
        for dx, dy in ((0, 0), (7, 7), (3, 5)):
            assert large.getpixel((8 * x + dx, 8 * y + dy)) == frame.getpixel((x, y))
    assert sorted(p.name for p in state_dir.iterdir()) == ["frame-large.png", "frame.png"]


def test_each_push_replaces_the_previous_frame(tmp_path: Path) -> None:
    device = PreviewDevice(tmp_path, scale=2)
    frames = [render(scene()) for scene in SCENES.values()]
    for frame in frames:
        device.push(frame)
        assert read_png(device.frame_path).tobytes() == frame.tobytes()
        assert read_png(device.large_path).size == (128, 128)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frame-large.png", "frame.png"]


def test_a_reader_never_sees_half_a_file(tmp_path: Path) -> None:
    """A reader polling the files while frames are pushed always gets a whole PNG that is
    one of the pushed frames (os.replace swaps the file in one step)."""
    device = PreviewDevice(tmp_path, scale=2)
    frames = [render(scene()) for scene in SCENES.values()]
    known = {frame.tobytes() for frame in frames}
    device.push(frames[0])
    done = threading.Event()
    seen: list[bytes] = []
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            while not done.is_set() or not seen:
                seen.append(read_png(device.frame_path).tobytes())
        except (OSError, SyntaxError) as err:  # a truncated PNG raises one of these
            errors.append(err)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(8):
            for frame in frames:
                device.push(frame)
    finally:
        done.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert errors == []
    assert seen and set(seen) <= known


def test_a_frame_of_the_wrong_size_is_refused_and_nothing_written(tmp_path: Path) -> None:
    device = PreviewDevice(tmp_path)
    with pytest.raises(FrameError, match="64x64"):
        device.push(Image.new("RGB", (32, 32)))
    assert list(tmp_path.iterdir()) == []


def test_a_frame_in_another_mode_is_written_as_rgb(tmp_path: Path) -> None:
    device = PreviewDevice(tmp_path)
    device.push(Image.new("RGBA", (64, 64), (10, 20, 30, 255)))
    assert read_png(device.frame_path).getpixel((0, 0)) == (10, 20, 30)


def test_an_unwritable_state_dir_raises_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the directory should be")
    device = PreviewDevice(blocker)
    with pytest.raises(OSError):
        device.push(render(rainy_morning()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]


def test_a_failed_write_leaves_the_previous_frame_and_no_temporary_file(
        tmp_path: Path) -> None:
    device = PreviewDevice(tmp_path)
    first = render(rainy_morning())
    device.push(first)
    device.frame_path.unlink()
    device.frame_path.mkdir()  # os.replace cannot put a file over a directory
    with pytest.raises(OSError):
        device.push(render(SCENES["start_up"]()))
    device.frame_path.rmdir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frame-large.png"]
    assert read_png(device.large_path).size == (512, 512)


def test_scale_must_be_at_least_one(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="scale"):
        PreviewDevice(tmp_path, scale=0)
