"""The render tick and push pipeline on virtual time, against the fake Pixoo.

Ticks run on a `TestScheduler`; device work runs on an executor, either one that runs
jobs when the test says so (deterministic) or a real thread pool (a device that hangs).
The client's clock is the scheduler's, so pacing and backoff are virtual too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import requests
from PIL import Image
from reactivex.testing import TestScheduler

from hub.display.brightness import BrightnessSchedule
from hub.display.loop import display_outcomes
from hub.display.pixoo import PixooClient, PixooSettings
from hub.streams import health_notices, to_seconds
from machines import HealthMachines, NoticeKind, Outcome, Policy
from tests.fakes.pixoo import FakePixoo, fake_pixoo

T0 = datetime(2024, 6, 21, 12, 0, tzinfo=UTC).timestamp()


class StepExecutor(Executor):
    """Holds submitted jobs and runs them in the test's thread on `run_all()`."""

    def __init__(self) -> None:
        self.held: list[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = []

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        future: Future[Any] = Future()
        self.held.append((future, fn, args))
        return future

    def run_all(self) -> None:
        held, self.held = self.held, []
        for future, fn, args in held:
            try:
                future.set_result(fn(*args))
            except Exception as err:  # noqa: BLE001 - hand the job's error to its future
                future.set_exception(err)


def pattern(now: float) -> Image.Image:
    """A frame that differs every second, like a clock with seconds."""
    second = int(now)
    image = Image.new("RGB", (64, 64), (second % 256, (second // 256) % 256, 40))
    image.putpixel((second % 64, 0), (255, 255, 255))
    return image


class Renderer:
    """Renders `pattern` and remembers when it was asked to, and what it drew."""

    def __init__(self) -> None:
        self.frames: dict[float, Image.Image] = {}

    def __call__(self, now: float) -> Image.Image:
        self.frames[now] = pattern(now)
        return self.frames[now]


@contextmanager
def pixoo(fake: FakePixoo, scheduler: TestScheduler, **settings: Any) -> Iterator[PixooClient]:
    values: dict[str, Any] = {"url": f"http://{fake.address}/post", "timeout_seconds": 0.5}
    values.update(settings)
    with requests.Session() as session:
        yield PixooClient(PixooSettings(**values), session,
                          lambda: to_seconds(scheduler.now), fallback_port=fake.port)


def started_at(start: float) -> TestScheduler:
    scheduler = TestScheduler()
    scheduler.advance_to(start)
    return scheduler


def run_seconds(scheduler: TestScheduler, executor: StepExecutor, seconds: int) -> None:
    """Advance second by second, letting the device work after every tick."""
    start = to_seconds(scheduler.now)
    for second in range(seconds + 1):
        scheduler.advance_to(start + second + 0.5)
        executor.run_all()
    scheduler.advance_to(start + seconds + 0.9)  # deliver the last outcomes


def test_frames_decoded_by_the_device_equal_the_rendered_images():
    scheduler, executor, renderer = started_at(T0), StepExecutor(), Renderer()
    with fake_pixoo() as fake, pixoo(fake, scheduler) as client:
        seen: list[Outcome] = []
        display_outcomes(renderer, scheduler, executor, device=client).subscribe(seen.append)
        run_seconds(scheduler, executor, 10)
        assert sorted(renderer.frames) == [T0 + s for s in range(11)]
        assert [f.image.tobytes() for f in fake.frames] == [
            renderer.frames[T0 + s].tobytes() for s in range(11)]
        assert seen and all(o.ok and o.component == "pixoo" for o in seen)


def test_every_frame_also_goes_to_on_frame():
    scheduler, executor, renderer = started_at(T0), StepExecutor(), Renderer()
    written: list[Image.Image] = []
    display_outcomes(renderer, scheduler, executor, on_frame=written.append).subscribe()
    run_seconds(scheduler, executor, 5)
    assert [w.tobytes() for w in written] == [renderer.frames[T0 + s].tobytes()
                                              for s in range(6)]


def test_a_push_in_flight_is_skipped_not_queued_and_rendering_goes_on():
    scheduler, executor, renderer = started_at(T0), StepExecutor(), Renderer()
    with fake_pixoo() as fake, pixoo(fake, scheduler) as client:
        display_outcomes(renderer, scheduler, executor, device=client).subscribe()
        scheduler.advance_to(T0 + 10.5)  # the device has not finished its first job
        assert len(renderer.frames) == 11
        assert len(executor.held) == 1
        executor.run_all()
        scheduler.advance_to(T0 + 11.5)  # delivered, then the next tick pushes again
        assert len(executor.held) == 1
        executor.run_all()
        assert [f.image.tobytes() for f in fake.frames] == [
            renderer.frames[T0].tobytes(), renderer.frames[T0 + 11].tobytes()]


def test_a_hanging_device_does_not_delay_render_ticks():
    scheduler, renderer = started_at(T0), Renderer()
    render_times: list[float] = []

    def render(now: float) -> Image.Image:
        render_times.append(to_seconds(scheduler.now))
        return renderer(now)

    seen: list[Outcome] = []
    with fake_pixoo() as fake, pixoo(fake, scheduler, timeout_seconds=30) as client, \
            ThreadPoolExecutor(max_workers=2, thread_name_prefix="display") as executor:
        fake.hang()
        display_outcomes(render, scheduler, executor, device=client).subscribe(seen.append)
        scheduler.advance_to(T0 + 0.5)
        assert fake.wait_for(lambda f: f.hung == 1)  # the first request hangs on a worker
        scheduler.advance_to(T0 + 30.5)
        # Every tick rendered at its exact instant while the push hung; no second push.
        assert render_times == [T0 + s for s in range(31)]
        assert fake.hung == 1 and len(fake.commands) == 1 and seen == []
        fake.release()  # the device closes the connection without an answer
        executor.shutdown(wait=True)  # the worker has handed its outcomes to the scheduler
        scheduler.advance_to(T0 + 31.5)
    assert seen[0].ok is False and seen[0].error_type == "connect"
    assert "without a reply" in seen[0].detail


def test_an_offline_device_alerts_through_the_health_machines_and_recovers():
    scheduler, executor, renderer = started_at(T0), StepExecutor(), Renderer()
    with fake_pixoo() as fake, pixoo(fake, scheduler) as client:
        fake.offline()
        outcomes = display_outcomes(renderer, scheduler, executor, device=client)
        notices = []
        health_notices(outcomes, HealthMachines(), scheduler,
                       lambda _: Policy(failures_before_alert=3)).subscribe(notices.append)
        run_seconds(scheduler, executor, 30)
        assert [(n.kind, n.component, n.error_type) for n in notices] == [
            (NoticeKind.ALERT, "pixoo", "connect")]
        fake.online()
        run_seconds(scheduler, executor, 90)
        assert [n.kind for n in notices] == [NoticeKind.ALERT, NoticeKind.RECOVERY]
        assert fake.frames[-1].image.tobytes() == renderer.frames[
            max(renderer.frames)].tobytes()


def test_an_offline_device_is_not_hammered_while_the_clock_ticks_on():
    scheduler, executor, renderer = started_at(T0), StepExecutor(), Renderer()
    with fake_pixoo() as fake, pixoo(fake, scheduler, ping_every_seconds=300) as client:
        fake.offline()
        seen: list[Outcome] = []
        display_outcomes(renderer, scheduler, executor, device=client).subscribe(seen.append)
        run_seconds(scheduler, executor, 300)
        assert len(renderer.frames) == 301
        # (the device works half a second after each tick: see run_seconds)
        pushes = [o.at - T0 - 0.5 for o in seen if o.error_type == "connect"]
        # a ping and a push at 0, then pushes spaced 2, 4, 8, 16, 32, 60, 60, ... seconds,
        # and the next ping at 300: eleven attempts in five minutes, not three hundred
        assert pushes == [0, 0, 2, 6, 14, 30, 62, 122, 182, 242, 300]


def test_brightness_follows_the_schedule_through_the_loop():
    evening = datetime(2024, 6, 21, 21, 59, 55, tzinfo=UTC).timestamp()
    schedule = BrightnessSchedule(day=90, night=5, day_hours=(7 * 60, 22 * 60), zone=UTC)
    scheduler, executor = started_at(evening), StepExecutor()
    with fake_pixoo() as fake, pixoo(fake, scheduler) as client:
        display_outcomes(pattern, scheduler, executor, device=client,
                         brightness_at=schedule.brightness_at).subscribe()
        run_seconds(scheduler, executor, 4)
        assert fake.brightness_log == [90]
        run_seconds(scheduler, executor, 4)  # 22:00 has passed
        assert fake.brightness_log == [90, 5]


def test_a_frame_of_the_wrong_size_is_a_crash_outcome_and_the_loop_goes_on():
    scheduler, executor = started_at(T0), StepExecutor()
    sizes = iter([(32, 32)] + [(64, 64)] * 10)

    def render(now: float) -> Image.Image:
        size = next(sizes)
        return pattern(now) if size == (64, 64) else Image.new("RGB", size)

    with fake_pixoo() as fake, pixoo(fake, scheduler) as client:
        seen: list[Outcome] = []
        display_outcomes(render, scheduler, executor, device=client).subscribe(seen.append)
        run_seconds(scheduler, executor, 3)
        crash = [o for o in seen if o.error_type == "crash"]
        assert len(crash) == 1 and "FrameError" in crash[0].detail
        assert crash[0].at == T0 and seen[0] == crash[0]  # nothing was sent for that frame
        assert len(fake.frames) == 3 and fake.frames[0].pic_id == 1


def test_a_renderer_that_raises_costs_that_frame_only():
    scheduler, executor, renderer = started_at(T0), StepExecutor(), Renderer()

    def render(now: float) -> Image.Image:
        if now == T0 + 2:
            raise ZeroDivisionError("a renderer bug")
        return renderer(now)

    written: list[Image.Image] = []
    display_outcomes(render, scheduler, executor, on_frame=written.append).subscribe()
    run_seconds(scheduler, executor, 4)
    assert sorted(renderer.frames) == [T0, T0 + 1, T0 + 3, T0 + 4]
    assert len(written) == 4


def test_a_failing_frame_sink_does_not_stop_the_device():
    scheduler, executor, renderer = started_at(T0), StepExecutor(), Renderer()

    def broken_sink(_: Image.Image) -> None:
        raise OSError("disk full")

    with fake_pixoo() as fake, pixoo(fake, scheduler) as client:
        display_outcomes(renderer, scheduler, executor, device=client,
                         on_frame=broken_sink).subscribe()
        run_seconds(scheduler, executor, 3)
        assert len(fake.frames) == 4


def test_disposing_stops_ticks_and_outcomes():
    scheduler, executor, renderer = started_at(T0), StepExecutor(), Renderer()
    with fake_pixoo() as fake, pixoo(fake, scheduler) as client:
        seen: list[Outcome] = []
        subscription = display_outcomes(renderer, scheduler, executor,
                                        device=client).subscribe(seen.append)
        scheduler.advance_to(T0 + 0.5)
        subscription.dispose()
        executor.run_all()  # the push in flight finishes after the dispose
        scheduler.advance_to(T0 + 10)
        assert list(renderer.frames) == [T0] and seen == []
        assert len(fake.frames) == 1  # the push itself was not cut off
