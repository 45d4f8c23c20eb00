"""The world the daemon watches: where outcomes come from and where frames go.

`real_world` builds it from the config (Entur, MET, `[[monitor]]`s, the Pixoo) for
`divoom-hub run`; the demo builds a simulated one (`hub.demo.demo_world`). Either way
the composition root (`hub.app.run_daemon`) wires the same machines, outbox, transports,
display loop and status server around it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests
from reactivex import Observable, abc

from hub.config import Config
from hub.display.loop import Device, full_brightness
from hub.display.pixoo import PixooClient
from hub.poller import poll_outcomes
from hub.sources.bus import BusSource
from hub.sources.http import check_http
from hub.sources.threshold import read_threshold
from hub.sources.weather import WeatherSource
from machines import Outcome, Policy


@dataclass(frozen=True, slots=True)
class Watched:
    """A component watched from the start, with its policy, and how often at least it
    reports when it does so on a schedule (a polled source: its interval plus its
    timeout; the liveness check counts on it, hub/status/liveness.py)."""

    name: str
    policy: Policy
    every_seconds: float | None = None


@dataclass(slots=True)
class World:
    watched: tuple[Watched, ...]
    sources: tuple[Observable[Outcome], ...]
    device: Device | None = None
    brightness_at: Callable[[float], int] = full_brightness
    #: What the **started** notice says about this world, e.g. the demo's script.
    details: tuple[tuple[str, str], ...] = ()
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for close in reversed(self.closers):
            close()


WorldFactory = Callable[[Config, abc.SchedulerBase], World]


@dataclass(frozen=True, slots=True)
class Poller:
    """A source read on a schedule: `poll()` blocks (run it on a worker) and never raises."""

    name: str
    every_seconds: float
    poll: Callable[[], Outcome]
    #: How long one poll may take before it fails: an outcome comes at least every
    #: `every_seconds + timeout_seconds` (the liveness check counts on it).
    timeout_seconds: float


def pollers(config: Config, session: Callable[[], requests.Session],
            clock: Callable[[], float] = time.time) -> list[Poller]:
    """Every polled source of `config`: `[bus]`, `[weather]`, each `[[monitor]]` of kind
    `http` and each polled threshold, each with `session()` (`run` gives every poller its
    own, `check` polls each once with one)."""
    found = []
    if config.bus is not None:
        bus = BusSource(session(), config.bus, clock)
        found.append(Poller("bus", config.bus.every_seconds, bus.poll,
                            config.bus.timeout_seconds))
    if config.weather is not None:
        weather = WeatherSource(session(), config.weather, clock, zone=config.hub.zone())
        found.append(Poller("weather", config.weather.every_seconds, weather.poll,
                            config.weather.timeout_seconds))
    for check in config.monitors:
        found.append(Poller(check.name, check.every_seconds,
                            functools.partial(check_http, session(), check, clock),
                            check.timeout_seconds))
    for threshold in config.thresholds:
        if not threshold.is_pushed:
            found.append(Poller(threshold.name, threshold.every_seconds,
                                functools.partial(read_threshold, session(), threshold, clock),
                                threshold.timeout_seconds))
    return found


def real_world(config: Config, scheduler: abc.SchedulerBase) -> World:
    """Every configured source, polled on its own worker, plus the Pixoo if configured."""
    sessions: list[requests.Session] = []

    def session() -> requests.Session:
        sessions.append(requests.Session())
        return sessions[-1]

    polled = pollers(config, session)
    # A worker per poller: a hanging target holds its own worker and nobody else's.
    executor = ThreadPoolExecutor(max_workers=max(len(polled), 1), thread_name_prefix="poll")
    sources = tuple(poll_outcomes(p.name, p.poll, p.every_seconds, scheduler, executor)
                    for p in polled)
    watched = [Watched(p.name, config.policy_for(p.name), p.every_seconds + p.timeout_seconds)
               for p in polled]
    watched += [Watched(hb.name, config.heartbeat_policy(hb)) for hb in config.heartbeats]
    watched += [Watched(t.name, config.policy_for(t.name))
                for t in config.thresholds if t.is_pushed]

    device: Device | None = None
    brightness_at: Callable[[float], int] = full_brightness
    if config.pixoo is not None:
        device = PixooClient(config.pixoo, session(), time.time)
        brightness_at = config.pixoo.schedule(config.hub.zone()).brightness_at
        watched.append(Watched("pixoo", config.policy_for("pixoo")))

    world = World(watched=tuple(watched), sources=sources, device=device,
                  brightness_at=brightness_at)
    world.closers.append(lambda: executor.shutdown(wait=False, cancel_futures=True))
    world.closers.extend(s.close for s in sessions)
    return world
