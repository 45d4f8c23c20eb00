"""The render tick and the push pipeline: the clock keeps ticking whatever the device does.

Every `every_seconds` (at once, then every second) on the scheduler that owns time:

    now → render(now) → frame ─┬─ on_frame(frame)                 (worker, one at a time)
                               └─ device.update(frame, brightness) (worker, one at a time)
                                     → [Outcome, ...] → back on the scheduler → emitted

Rendering is pure and fast, so it runs on the tick. Everything that can block — the
device's HTTP calls, writing a preview PNG — runs on `executor`; while the previous
push (or write) is still in flight the tick skips it rather than queueing it, so a
hanging device costs one worker and delays no tick, and the frame it shows when it
comes back is the current one, not a backlog. The device's own limits (one frame a
second, backoff, resets) are enforced by the device client, not here.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Protocol

import reactivex
from PIL import Image
from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable

from hub.streams import to_seconds
from hub.trouble import Trouble
from hub.workers import OneAtATime
from machines import Outcome

log = logging.getLogger(__name__)

#: The Pixoo takes at most a frame a second, and the clock needs no more.
TICK_SECONDS = 1.0


class Device(Protocol):
    """What the loop pushes frames to (`hub.display.pixoo.PixooClient`)."""

    def update(self, frame: Image.Image | None, brightness: int) -> list[Outcome]:
        """Blocking device work for one tick; never raises; the outcomes to report."""
        ...


def full_brightness(_now: float) -> int:
    return 100


class DisplayLoop:
    """One display: `tick(now)` renders and hands the frame on; a step a test can call.

    Use from the scheduler that owns time. Outcomes of the device reach `emit` there.
    """

    def __init__(self, render: Callable[[float], Image.Image], scheduler: abc.SchedulerBase,
                 executor: Executor, emit: Callable[[Outcome], None], *,
                 device: Device | None = None,
                 brightness_at: Callable[[float], int] = full_brightness,
                 on_frame: Callable[[Image.Image], None] | None = None,
                 component: str = "pixoo") -> None:
        self._render = render
        self._emit = emit
        self._device = device
        self._brightness_at = brightness_at
        self._on_frame = on_frame
        self._component = component
        self._pushing: OneAtATime[list[Outcome]] = OneAtATime(executor, scheduler)
        self._writing: OneAtATime[None] = OneAtATime(executor, scheduler)
        self._render_trouble = Trouble(log, "rendering")
        self._write_trouble = Trouble(log, "writing the frame")
        self.is_running = True

    def tick(self, now: float) -> None:
        """Render the frame for `now`, then write it and push it unless one is in flight."""
        try:
            frame = self._render(now)
            brightness = self._brightness_at(now)
        except Exception as err:  # noqa: BLE001 - the tick is the display's supervisor: a
            # renderer bug costs this frame, never the clock; logged once per outbreak.
            self._render_trouble.happened("rendering the frame for %.0f failed; the display keeps "
                                     "its previous frame", now, exc_info=err)
            return
        self._render_trouble.cleared()
        if self._on_frame is not None:
            self._writing.submit(functools.partial(self._on_frame, frame), self._written)
        if self._device is not None:
            self._pushing.submit(functools.partial(self._device.update, frame, brightness),
                                 functools.partial(self._pushed, started=now))

    def _written(self, future: Future[None]) -> None:
        error = None if future.cancelled() else future.exception()
        if error is None:
            self._write_trouble.cleared()
        else:
            self._write_trouble.happened("writing the frame failed: %s", error,
                                           exc_info=error)

    def _pushed(self, future: Future[list[Outcome]], started: float) -> None:
        if self.is_running:
            for outcome in _outcomes(self._component, future, started):
                self._emit(outcome)


def display_outcomes(
    render: Callable[[float], Image.Image],
    scheduler: abc.SchedulerBase,
    executor: Executor,
    *,
    device: Device | None = None,
    brightness_at: Callable[[float], int] = full_brightness,
    on_frame: Callable[[Image.Image], None] | None = None,
    every_seconds: float = TICK_SECONDS,
    component: str = "pixoo",
) -> Observable[Outcome]:
    """Run the display while subscribed; emit the device's outcomes on `scheduler`.

    `render(now)` gets the scheduler's epoch seconds and returns the 64×64 frame.
    `scheduler` must accept calls from worker threads (`AsyncIOThreadSafeScheduler`, or
    a virtual one in tests); `executor` needs two workers so a hanging device does not
    hold up the preview. Without a `device` nothing is emitted (a preview-only display).
    Each subscription runs its own `DisplayLoop`.
    """

    def subscribe(observer: abc.ObserverBase[Outcome],
                  _: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        display = DisplayLoop(render, scheduler, executor, observer.on_next, device=device,
                              brightness_at=brightness_at, on_frame=on_frame,
                              component=component)

        def stop() -> None:
            display.is_running = False

        ticks = reactivex.timer(0.0, every_seconds, scheduler=scheduler).subscribe(
            lambda _: display.tick(to_seconds(scheduler.now)), scheduler=scheduler)
        return CompositeDisposable(ticks, Disposable(stop))

    return reactivex.create(subscribe)


def _outcomes(component: str, future: Future[list[Outcome]], started: float) -> list[Outcome]:
    """The device's outcomes; a device that raised (a bug: devices never raise) fails."""
    if future.cancelled():
        return []
    error = future.exception()
    if error is None:
        return future.result()
    log.error("the %s device raised; it must return failed Outcomes instead", component,
              exc_info=error)
    return [Outcome.failure(component, started, "crash",
                            f"{type(error).__name__} in the display: {str(error)[:80]}")]
