"""Generated scenarios for the health machines, and time driven through them the way its
owner (`hub.streams.health_notices`) drives it: before each outcome, every timer is fired
at its exact due instant (`next_due`), so a timer and an outcome at the same instant run
timer first.

The machines' properties (tests/machines/test_properties.py) and the properties of what
is built on them (restarts, replay) share these.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import settings
from hypothesis import strategies as st

from machines import HealthMachines, Notice, Outcome, Policy, Snapshot

COMPONENTS = ("bus", "weather", "pixoo")
ERRORS = ("timeout", "connect", "http_503")
#: Backoffs whose powers are exact binary fractions, so reminder times are exact floats
#: and "the spacing follows the backoff exactly" can be checked with `==`.
DYADIC_BACKOFFS = (1, 1.25, 1.5, 2, 3)
#: The heaviest properties run half the profile's examples, to keep the suite under a minute.
HALF = settings(max_examples=max(1, settings().max_examples // 2))


# -- generated inputs ---------------------------------------------------------------------

@st.composite
def policies(draw: st.DrawFn, stale: bool = True,
             backoffs: tuple[float, ...] = DYADIC_BACKOFFS) -> Policy:
    """Any valid policy, at scales where a history holds a few incidents and reminders."""
    remind_after = draw(st.one_of(st.just(0), st.integers(60, 900)))
    return Policy(
        failures_before_alert=draw(st.integers(1, 4)),
        failing_for_seconds=draw(st.one_of(st.just(0), st.integers(1, 600))),
        successes_before_recovery=draw(st.integers(1, 3)),
        remind_after_seconds=remind_after,
        remind_backoff=draw(st.sampled_from(backoffs)),
        remind_max_seconds=remind_after + draw(st.integers(0, 3600)),
        settle_seconds=draw(st.integers(0, 600)),
        stale_after_seconds=draw(st.sampled_from([0] * 6 + [60, 300, 900])) if stale else 0,
    )


#: Gaps between outcomes in quarter seconds (exact floats): mostly polling-like, some long.
gaps = st.one_of(st.integers(0, 240), st.integers(0, 4800)).map(lambda q: q / 4)


@st.composite
def histories(draw: st.DrawFn, components: tuple[str, ...] = COMPONENTS,
              max_size: int = 50) -> list[Outcome]:
    """Outcomes in time order (several may share an instant), starting at 1 s."""
    raw = draw(st.lists(
        st.tuples(gaps, st.sampled_from(components), st.booleans(),
                  st.sampled_from(ERRORS)),
        min_size=min(8, max_size), max_size=max_size))
    at, outcomes = 1.0, []
    for gap, component, ok, error in raw:
        at += gap
        outcomes.append(Outcome.success(component, at) if ok
                        else Outcome.failure(component, at, error, f"{error} at {at:g}"))
    return outcomes


@dataclass(frozen=True)
class Scenario:
    policies: dict[str, Policy]
    events: list[Outcome]
    until: float

    def policy(self, component: str) -> Policy:
        return self.policies[component]


@st.composite
def scenarios(draw: st.DrawFn, stale: bool = True,
              backoffs: tuple[float, ...] = DYADIC_BACKOFFS) -> Scenario:
    """A policy per component, a history, and how long to run past its last event."""
    # Mostly one or two components: each then sees enough outcomes for whole incidents.
    watched = draw(st.sampled_from([COMPONENTS[:1], COMPONENTS[:1], COMPONENTS[:2], COMPONENTS]))
    chosen = {c: draw(policies(stale=stale, backoffs=backoffs)) for c in watched}
    events = draw(histories(watched))
    last = events[-1].at if events else 1.0
    return Scenario(chosen, events, last + draw(st.sampled_from([0, 0.25, 60, 3600, 20_000])))


# -- driving time like the owner does -----------------------------------------------------

@dataclass(frozen=True)
class Emitted:
    notice: Notice
    #: the component's outcomes applied before the notice (including the one that caused it)
    seen: tuple[Outcome, ...]


class Run(list[Emitted]):
    """The notices of a run, in emission order, and how many steps the run took."""

    steps: int = 0


def drive(scenario: Scenario, restart_after_step: int | None = None) -> Run:
    """What `hub.streams.health_notices` does, on the pure machines.

    A step is one `tick` or `observe` call. With `restart_after_step = k`, after step k
    every machine is snapshotted, sent through JSON, and a fresh `HealthMachines` is
    restored from it (a hub restarting with its journal) to run the rest.
    """
    machines = HealthMachines()
    seen: dict[str, list[Outcome]] = {}
    emitted = Run()

    def record(component: str, notices: list[Notice]) -> None:
        nonlocal machines
        emitted.extend(Emitted(n, tuple(seen.get(component, ()))) for n in notices)
        emitted.steps += 1
        if emitted.steps == restart_after_step:
            machines = restarted(machines, scenario.policy)

    def fire_timers(upto: float) -> None:
        while (timer := next_timer(machines, upto)) is not None:
            due, component = timer
            record(component, machines.tick(component, due))

    if restart_after_step == 0:
        machines = restarted(machines, scenario.policy)
    for outcome in scenario.events:
        fire_timers(outcome.at)
        component = outcome.component
        if component not in machines:
            machines.add(component, scenario.policy(component), outcome.at)
        seen.setdefault(component, []).append(outcome)
        record(component, machines.observe(outcome, outcome.at))
    fire_timers(scenario.until)
    return emitted


def restarted(machines: HealthMachines,
              policy_for: Callable[[str], Policy]) -> HealthMachines:
    fresh = HealthMachines()
    for snapshot in machines.snapshots():
        stored = json.loads(json.dumps(snapshot.to_dict()))
        fresh.restore(Snapshot.from_dict(stored), policy_for(snapshot.component))
    return fresh


def next_timer(machines: HealthMachines, upto: float) -> tuple[float, str] | None:
    """The earliest timer due at or before `upto`, as (due, component); ties by name."""
    dues = [(due, c) for c in machines
            if (due := machines.next_due(c)) is not None and due <= upto]
    return min(dues) if dues else None
