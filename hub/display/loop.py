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

import logging
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, Protocol

import reactivex
from PIL import Image
from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable

from hub.streams import hand_back, to_seconds
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
    Subscribe once: each subscription runs its own loop.
    """

    def subscribe(observer: abc.ObserverBase[Outcome],
                  _: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        is_pushing = False
        is_writing = False
        is_running = True
        render_failed = False
        write_failed = False

        def tick(_: Any) -> None:
            nonlocal render_failed
            now = to_seconds(scheduler.now)
            try:
                frame = render(now)
                brightness = brightness_at(now)
            except Exception:  # noqa: BLE001 - the tick is the display's supervisor: a
                # renderer bug costs this frame, never the clock; logged once per outbreak.
                if not render_failed:
                    log.exception("rendering the frame for %.0f failed; the display keeps "
                                  "its previous frame", now)
                render_failed = True
                return
            if render_failed:
                log.info("rendering works again")
                render_failed = False
            if on_frame is not None:
                write(on_frame, frame)
            if device is not None:
                push(frame, brightness, now)

        def write(sink: Callable[[Image.Image], None], frame: Image.Image) -> None:
            nonlocal is_writing
            if is_writing:
                return
            is_writing = True
            try:
                executor.submit(sink, frame).add_done_callback(written)
            except RuntimeError:  # the executor is shutting down: so are we
                is_writing = False

        def written(future: Future[None]) -> None:  # on a worker thread
            error = None if future.cancelled() else future.exception()
            hand_back(scheduler, lambda: after_write(error))

        def after_write(error: BaseException | None) -> None:
            nonlocal is_writing, write_failed
            is_writing = False
            if error is not None and not write_failed:
                log.error("writing the frame failed: %s", error, exc_info=error)
            elif error is None and write_failed:
                log.info("writing the frame works again")
            write_failed = error is not None

        def push(frame: Image.Image, brightness: int, now: float) -> None:
            nonlocal is_pushing
            if is_pushing or device is None:
                return
            is_pushing = True
            try:
                future = executor.submit(device.update, frame, brightness)
            except RuntimeError:  # the executor is shutting down: so are we
                is_pushing = False
                return
            future.add_done_callback(lambda done: pushed(done, now))

        def pushed(future: Future[list[Outcome]], started: float) -> None:  # on a worker
            outcomes = _outcomes(component, future, started)
            hand_back(scheduler, lambda: deliver(outcomes))

        def deliver(outcomes: list[Outcome]) -> None:  # back on the scheduler
            nonlocal is_pushing
            is_pushing = False
            if is_running:
                for outcome in outcomes:
                    observer.on_next(outcome)

        def stop() -> None:
            nonlocal is_running
            is_running = False

        ticks = reactivex.timer(0.0, every_seconds, scheduler=scheduler).subscribe(
            tick, scheduler=scheduler)
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
