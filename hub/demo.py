"""`divoom-hub demo`: the daemon's wiring on an embedded default, with no outside world.

Simulated sources report on a fixed cadence; a script takes `weather` down for a while
so that within about a minute and a half a newcomer sees a whole incident — alert,
reminder, recovery — printed by the console transport. The simulation is a pure
function of the scheduler's clock, so tests run the same demo on virtual time.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from dataclasses import dataclass

import reactivex
from reactivex import Observable, abc
from reactivex import operators as ops
from reactivex.scheduler.eventloop import AsyncIOScheduler

from hub.notify.console import console_line
from hub.streams import health_notices, to_seconds
from machines import HealthMachines, Notice, NoticeKind, Outcome, Policy

#: Short enough that a whole incident fits in ~90 s; real defaults are in DESIGN.md.
DEMO_POLICY = Policy(
    failures_before_alert=3,
    failing_for_seconds=0,
    successes_before_recovery=2,
    remind_after_seconds=20,
    remind_backoff=2.0,
    remind_max_seconds=120,
    settle_seconds=15,
)


@dataclass(frozen=True, slots=True)
class SimulatedSource:
    component: str
    every_seconds: float
    outage: tuple[float, float] | None = None  # seconds after start: [from, to)
    error_type: str = ""
    detail: str = ""

    def outcome(self, elapsed: float, at: float) -> Outcome:
        if self.outage is not None and self.outage[0] <= elapsed < self.outage[1]:
            return Outcome.failure(self.component, at, self.error_type, self.detail)
        return Outcome.success(self.component, at, latency_seconds=0.05)


DEMO_SOURCES = (
    SimulatedSource("bus", every_seconds=5),
    SimulatedSource("weather", every_seconds=4, outage=(8, 60), error_type="http_503",
                    detail="503 Service Unavailable from the weather API"),
    SimulatedSource("pixoo", every_seconds=3),
)


def simulated_outcomes(scheduler: abc.SchedulerBase,
                       sources: tuple[SimulatedSource, ...] = DEMO_SOURCES
                       ) -> Observable[Outcome]:
    """Every source polled on its own interval, on `scheduler`'s clock."""
    started = to_seconds(scheduler.now)

    def polls(source: SimulatedSource) -> Observable[Outcome]:
        def look(_: int) -> Outcome:
            now = to_seconds(scheduler.now)
            return source.outcome(now - started, now)

        return reactivex.interval(source.every_seconds, scheduler=scheduler).pipe(ops.map(look))

    return reactivex.merge(*(polls(source) for source in sources))


def demo_notices(scheduler: abc.SchedulerBase,
                 sources: tuple[SimulatedSource, ...] = DEMO_SOURCES) -> Observable[Notice]:
    machines = HealthMachines()
    started = to_seconds(scheduler.now)
    for source in sources:
        machines.add(source.component, DEMO_POLICY, started)
    return health_notices(simulated_outcomes(scheduler, sources), machines, scheduler)


class DemoError(RuntimeError):
    """The demo's wiring failed; the message says how."""


def run_demo(write: Callable[[str], None], seconds: float | None = None) -> None:
    """Run until Ctrl-C/SIGTERM (or `seconds`), writing one line per notice."""
    asyncio.run(_run(seconds, write))


async def _run(seconds: float | None, out: Callable[[str], None]) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    scheduler = AsyncIOScheduler(loop)
    now = to_seconds(scheduler.now)

    def lifecycle(kind: NoticeKind, details: tuple[tuple[str, str], ...]) -> None:
        out(console_line(Notice(kind=kind, component="divoom-hub", at=to_seconds(scheduler.now),
                                details=details)))

    lifecycle(NoticeKind.STARTED, (
        ("mode", "demo (simulated sources, console transport)"),
        ("components", ", ".join(s.component for s in DEMO_SOURCES)),
        ("scripted outage", "weather, 8 s to 60 s after start"),
    ))
    failures: list[Exception] = []

    def on_error(error: Exception) -> None:
        failures.append(error)
        stop.set()

    subscription = demo_notices(scheduler).subscribe(
        lambda notice: out(console_line(notice)), on_error)
    try:
        if seconds is None:
            await stop.wait()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=seconds)
    finally:
        subscription.dispose()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    if failures:
        raise DemoError(f"stopped by an error: {failures[0]!r}") from failures[0]
    lifecycle(NoticeKind.STOPPED, (("ran for", f"{to_seconds(scheduler.now) - now:.0f} s"),))
