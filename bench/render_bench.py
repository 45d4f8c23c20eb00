"""What a dashboard frame costs: render, encode for the Pixoo, write as the preview.

Run from the project root:

    .venv/bin/python bench/render_bench.py               # 2,000 frames per scene
    .venv/bin/python bench/render_bench.py --frames 300  # a quicker run

Each frame is rendered at the next second of a scripted minute, so the clock and the bus
countdowns change between frames as they do on the device. It prints per-frame times
(wall clock: mean, p50, p95, max; CPU time of the thread: mean, p50) and asserts nothing
about them; the figures are written up in docs/performance.md. On a busy machine the
wall-clock tail measures the neighbours; the CPU columns measure the work.

- render: `hub.display.render.render(view)` (fonts and icons already loaded), and for the
  other pages `hub.display.screens.render_page(page, view)`;
- encode: `hub.display.frame.encode_frame(image)`, the `PicData` string of a push;
- preview: `PreviewDevice.push(image)`, the PNG and its ×8 copy written atomically to a
  temporary directory (the demo's cost per frame);
- cold start: loading the fonts and drawing the icons once, in this process.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `tests.display.scenes`

from hub.display.frame import encode_frame  # noqa: E402
from hub.display.icons import icon_for  # noqa: E402
from hub.display.pages import PageKind  # noqa: E402
from hub.display.preview import PreviewDevice  # noqa: E402
from hub.display.render import render  # noqa: E402
from hub.display.screens import render_page  # noqa: E402
from hub.display.text import load_fonts  # noqa: E402
from hub.display.view import DashboardView, DisplayMessage  # noqa: E402
from hub.sources.data import BusBoard  # noqa: E402
from machines.states import HealthState  # noqa: E402
from tests.display.scenes import (  # noqa: E402
    LONG_MESSAGE,
    MORNING,
    departure,
    page_view,
    rainy_morning,
    twelve_alerts,
)


def busy_view() -> DashboardView:
    """Everything at once: a full board with a clock-time row, rain with high/low, a
    failed quay, and an open incident."""
    view = rainy_morning()
    board = BusBoard(fetched_at=MORNING - 20, failed_quays=("B",), departures=tuple(
        departure(line, destination, seconds, MORNING)
        for line, destination, seconds in (
            ("31", "Tonsenhagen", 70), ("37", "Helsfyr", 260), ("31", "Fornebu", 480),
            ("20", "Galgeberg", 1100), ("110", "Lillestrøm", 4100), ("25", "Løren", 5000))))
    return dataclasses.replace(view, bus=board, health=MappingProxyType({
        "bus": HealthState.ALERTING, "weather": HealthState.HEALTHY}))


def message_view() -> DashboardView:
    text = ("Husk å ta inn syklene før det blir mørkt, og kjøp melk, brød og smør på "
            "veien hjem fra jobben i dag. Middag klokka 18!")
    return dataclasses.replace(busy_view(), message=DisplayMessage(
        text=text, author="Åse", posted_at=MORNING - 3, expires_at=None))


SCENES: Mapping[str, Callable[[], DashboardView]] = MappingProxyType({
    "busy dashboard": busy_view, "message overlay (paged)": message_view})
#: The other pages, each drawn from a full view (ten departures, twelve alerts).
PAGES: Mapping[str, tuple[PageKind, Callable[[], DashboardView]]] = MappingProxyType({
    "clock page": (PageKind.CLOCK, lambda: page_view("no")),
    "bus page (10 departures)": (PageKind.BUS, lambda: page_view("no")),
    "alerts page (12 alerts)": (PageKind.ALERTS,
                                lambda: page_view("no", alerts=twelve_alerts(MORNING))),
    "message page": (PageKind.MESSAGE, lambda: page_view("no", message=LONG_MESSAGE)),
})

T = TypeVar("T")


@dataclass
class Samples:
    """Per-call wall-clock time and CPU time of this thread (which excludes the time the
    process waited for a core, so it stays meaningful on a busy machine)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def measure(self, action: Callable[[], T]) -> T:
        wall, cpu = time.perf_counter(), time.thread_time()
        result = action()
        self.cpu.append(time.thread_time() - cpu)
        self.wall.append(time.perf_counter() - wall)
        return result

    def row(self) -> str:
        wall = sorted(s * 1e6 for s in self.wall)
        cpu = sorted(s * 1e6 for s in self.cpu)
        p95 = wall[min(len(wall) - 1, round(0.95 * (len(wall) - 1)))]
        return (f"{statistics.fmean(wall):9,.0f} {statistics.median(wall):9,.0f} "
                f"{p95:9,.0f} {wall[-1]:9,.0f} {statistics.fmean(cpu):9,.0f} "
                f"{statistics.median(cpu):9,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000, help="frames per scene")
    args = parser.parse_args()

    print(f"Python {platform.python_version()} ({platform.python_implementation()}), "
          f"Pillow {version('Pillow')}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}, {args.frames} frames per scene")

    load_fonts.cache_clear()
    icon_for.cache_clear()
    cold = Samples()
    cold.measure(load_fonts)
    cold.measure(lambda: render(busy_view()))
    print(f"cold start: load_fonts {cold.wall[0] * 1e3:.1f} ms, first busy frame (icons "
          f"drawn) {cold.wall[1] * 1e3:.1f} ms\n")

    header = (f"{'scene':<24} {'step':<8} {'mean µs':>9} {'p50 µs':>9} {'p95 µs':>9} "
              f"{'max µs':>9} {'cpu mean':>9} {'cpu p50':>9}")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as state_dir:
        device = PreviewDevice(state_dir)
        drawn: dict[str, tuple[Callable[[DashboardView], Image.Image],
                               Callable[[], DashboardView]]]
        drawn = {name: (render, scene) for name, scene in SCENES.items()}
        for name, (page, scene) in PAGES.items():
            drawn[name] = (functools.partial(render_page, page), scene)
        for name, (draw, scene) in drawn.items():
            base = scene()
            views = [dataclasses.replace(base, now=base.now + second)
                     for second in range(args.frames)]
            renders, encodes, pushes = Samples(), Samples(), Samples()
            for view in views:
                frame = renders.measure(functools.partial(draw, view))
                encodes.measure(lambda frame=frame: encode_frame(frame))  # type: ignore[misc]
            for view in views[: max(1, args.frames // 10)]:
                frame = draw(view)
                pushes.measure(lambda frame=frame: device.push(frame))  # type: ignore[misc]
            print(f"{name:<24} {'render':<8} {renders.row()}")
            print(f"{'':<24} {'encode':<8} {encodes.row()}")
            print(f"{'':<24} {'preview':<8} {pushes.row()}  ({len(pushes.wall)} pushes)")


if __name__ == "__main__":
    main()
