"""`divoom-hub demo`: the daemon's wiring on an embedded default, with no outside world.

Simulated sources report on a fixed cadence; a script takes `weather` down for a while
so that within about a minute and a half a newcomer sees a whole incident — alert,
reminder, recovery — printed by the console transport. The simulation is a pure
function of the scheduler's clock, so tests run the same demo on virtual time.

`run_demo` is the real daemon (`hub.app.run_daemon`) on that simulated world: the same
machines, outbox, console (or Discord, if configured) transport, render loop writing
`frame.png`, and status page.
"""

from __future__ import annotations

import asyncio
import math
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import reactivex
from reactivex import Observable, abc
from reactivex import operators as ops

from hub.app import run_daemon
from hub.config import Config, HubSettings
from hub.secrets import Secrets
from hub.sources.data import BusBoard, Departure, Forecast
from hub.storage.journal import Journal
from hub.streams import health_notices, to_seconds
from hub.web.startup import PortWait
from hub.world import Watched, World
from machines import HealthMachines, Notice, Outcome, Policy

#: The status page of the demo; `--http-listen` changes it.
DEMO_LISTEN = "127.0.0.1:8787"

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
    data: Callable[[float], object] | None = None  # epoch seconds -> what a poll fetched

    def outcome(self, elapsed: float, at: float) -> Outcome:
        if self.outage is not None and self.outage[0] <= elapsed < self.outage[1]:
            return Outcome.failure(self.component, at, self.error_type, self.detail)
        data = self.data(at) if self.data is not None else None
        return Outcome.success(self.component, at, latency_seconds=0.05, data=data)


#: (line, destination, quay label, minutes between departures, offset in minutes)
DEMO_LINES = (
    ("31", "Tonsenhagen", "A", 10, 3),
    ("31", "Fornebu", "B", 10, 7),
    ("37", "Helsfyr", "A", 15, 1),
    ("20", "Galgeberg", "B", 12, 5),
)


def simulated_board(now: float) -> BusBoard:
    """Departures of a made-up stop, a pure function of time: lines leave on a timetable,
    and every third trip runs a minute or two late, as real-time data does."""
    departures: list[Departure] = []
    for line, destination, quay, every_minutes, offset_minutes in DEMO_LINES:
        period, offset = every_minutes * 60, offset_minutes * 60
        first = now - (now - offset) % period  # the latest timetabled call not after now
        for k in range(4):
            aimed = first + k * period
            trip = int(aimed // period)
            delay = 60.0 * (1 + trip % 2) if trip % 3 == 0 else 0.0
            if aimed + delay > now:
                departures.append(Departure(quay=quay, line=line, destination=destination,
                                            departs_at=aimed + delay, aimed_at=aimed,
                                            is_realtime=True))
    departures.sort(key=lambda d: d.departs_at)
    return BusBoard(fetched_at=now, departures=tuple(departures))


def simulated_forecast(now: float) -> Forecast:
    """A mild day: the temperature follows the hour, and it drizzles in some half-hours."""
    hour = (now % 86_400) / 3600
    temperature = 6.0 + 5.0 * math.sin((hour - 9) / 24 * 2 * math.pi)
    is_raining = int(now // 1800) % 3 == 0
    daytime = 7 <= hour < 19
    symbol = "lightrain" if is_raining else "partlycloudy_" + ("day" if daytime else "night")
    return Forecast(fetched_at=now, temperature_c=round(temperature, 1), symbol=symbol,
                    high_c=11.0, low_c=1.0, precipitation_mm=0.4 if is_raining else 0.0,
                    wind_speed_ms=3.2, updated_at=now - 600)


DEMO_SOURCES = (
    SimulatedSource("bus", every_seconds=5, data=simulated_board),
    SimulatedSource("weather", every_seconds=4, outage=(8, 60), error_type="http_503",
                    detail="503 Service Unavailable from the weather API",
                    data=simulated_forecast),
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


def demo_world(config: Config, scheduler: abc.SchedulerBase) -> World:
    """The simulated sources, with the demo's quick policy for every component."""
    return World(
        watched=tuple(Watched(source.component, DEMO_POLICY, source.every_seconds)
                      for source in DEMO_SOURCES),
        sources=(simulated_outcomes(scheduler),),
        details=(("mode", "demo (simulated bus, weather and pixoo)"),
                 ("scripted outage", "weather, 8 s to 60 s after start")))


def demo_config(state_dir: Path, http_listen: str) -> Config:
    return Config(hub=HubSettings(name="divoom-hub demo", state_dir=state_dir,
                                  http_listen=http_listen),
                  policy=DEMO_POLICY)


def run_demo(write: Callable[[str], None], secrets: Secrets, *, state_dir: Path,
             http_listen: str = DEMO_LISTEN, seconds: float | None = None) -> int:
    """The daemon on the simulated world until Ctrl-C/SIGTERM (or `seconds`).

    Every demo starts afresh: the machines journaled by an earlier demo in the same
    state dir are forgotten, so the scripted incident plays out as the README says.
    """
    with Journal(state_dir / "outbox.sqlite") as journal:
        journal.clear()

    async def main() -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        if seconds is not None:
            loop.call_later(seconds, stop.set)
        # A taken port is the user's to choose again, at once: no waiting as for a service.
        return await run_daemon(demo_config(state_dir, http_listen), secrets, write, stop,
                                world=demo_world, port_wait=PortWait(),
                                listen_setting="--http-listen")

    return asyncio.run(main())
