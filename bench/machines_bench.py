"""What the health machines cost: throughput, cost per outcome, setup and memory.

Run from the project root:

    .venv/bin/python bench/machines_bench.py           # the full run (under 2 min)
    .venv/bin/python bench/machines_bench.py --quick   # a smaller run (about 30 s)

It prints readable tables; it asserts nothing about timings. The figures and what they
mean are written up in docs/performance.md.

1. Outcomes per second through `hub.streams.health_notices` (a `HistoricalScheduler`
   fed by a `Subject`, as `divoom-hub replay` does) and through `HealthMachines.observe`
   alone, for 1, 100 and 10,000 components, on a mixed workload.
2. The cost of one outcome next to bare `transitions` triggers measured in the same run.
3. Setup time and memory per component: one shared `Machine` with `add_model` per
   component (what `HealthMachines` does) versus one `Machine` per component.
4. The cost of one outcome with the error-rate window and the latency/uptime numbers on
   (`--rules-only` runs this section alone), next to the same workload without them.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import statistics
import sys
import time
import timeit
import tracemalloc
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.metadata import version
from typing import Any

from reactivex import Subject, abc
from reactivex import operators as ops
from reactivex.scheduler import HistoricalScheduler
from transitions import Machine

from hub.status.stats import ComponentStats
from hub.streams import health_notices, to_datetime
from machines import HealthMachines, Notice, Outcome, Policy
from machines.health import H, Incident, new_machine

# -- the workload ---------------------------------------------------------------------

#: Seconds between two outcomes of one component. The policies below are scaled to it
#: (reminders after 60 s, settling after 60 s) so that every phase of the machine occurs
#: within a few rounds; what one event costs does not depend on the durations.
PERIOD = 10.0
#: Chance that a healthy stretch turns into a failure burst at a given outcome.
BURST_START = 0.01
#: Half the bursts are blips (1–2 failures: suspect, then healthy again, no message);
#: the other half are incidents of 3–40 failures (alert, reminders, recovery, settle).
BLIP_SHARE = 0.5
INCIDENT_LENGTH = (3, 40)

BASE_POLICY = Policy(
    failures_before_alert=3,
    remind_after_seconds=60.0,
    remind_backoff=2.0,
    remind_max_seconds=600.0,
    settle_seconds=60.0,
)
#: Every other component is also watched for silence: each of its outcomes reschedules
#: its staleness timer (dispose + schedule_absolute), as a heartbeat monitor would.
STALE_POLICY = Policy(
    failures_before_alert=3,
    remind_after_seconds=60.0,
    remind_backoff=2.0,
    remind_max_seconds=600.0,
    settle_seconds=60.0,
    stale_after_seconds=3.5 * PERIOD,
)


def policy_of(index: int) -> Policy:
    return STALE_POLICY if index % 2 == 0 else BASE_POLICY


def component_name(index: int) -> str:
    return f"c{index:05d}"


#: Rounds fed through `HealthMachines.observe` before any timing starts, so the timed
#: rounds begin with machines in every state (some mid-incident, reminders pending).
WARMUP_ROUNDS = 8


@dataclass
class Workload:
    components: int
    rounds: int  # timed rounds
    #: The untimed warm-up rounds, then the timed ones; one list per round of
    #: (instant, outcome), in time order.
    warmup: list[list[tuple[datetime, Outcome]]]
    schedule: list[list[tuple[datetime, Outcome]]]
    failures: int  # in the timed rounds

    @property
    def outcomes(self) -> int:
        return self.components * self.rounds


def make_workload(components: int, rounds: int, seed: int = 20261122) -> Workload:
    """Each component polled every PERIOD s, the components spread evenly over a period.

    Each component's pattern comes from its own seeded generator that has already run for
    50 steps, so at the start some components are in the middle of a burst.
    """
    total = WARMUP_ROUNDS + rounds
    patterns: list[list[bool]] = []
    for index in range(components):
        rng = random.Random(seed * 100_003 + index)
        remaining = 0
        pattern: list[bool] = []
        for step in range(50 + total):
            if remaining == 0 and rng.random() < BURST_START:
                remaining = (rng.randint(1, 2) if rng.random() < BLIP_SHARE
                             else rng.randint(*INCIDENT_LENGTH))
            ok = remaining == 0
            if not ok:
                remaining -= 1
            if step >= 50:
                pattern.append(ok)
        patterns.append(pattern)

    spacing = PERIOD / components
    schedule: list[list[tuple[datetime, Outcome]]] = []
    failures = 0
    for r in range(total):
        row: list[tuple[datetime, Outcome]] = []
        for index in range(components):
            at = r * PERIOD + index * spacing
            name = component_name(index)
            if patterns[index][r]:
                outcome = Outcome.success(name, at, latency_seconds=0.05)
            else:
                failures += r >= WARMUP_ROUNDS
                outcome = Outcome.failure(name, at, "http_503", "503 Service Unavailable")
            row.append((to_datetime(at), outcome))
        schedule.append(row)
    return Workload(components, rounds, schedule[:WARMUP_ROUNDS], schedule[WARMUP_ROUNDS:],
                    failures)


def warm_machines(work: Workload,
                  policy_for: Callable[[int], Policy] = policy_of) -> HealthMachines:
    """Fresh machines for every component, fed the warm-up rounds (not timed)."""
    machines = HealthMachines()
    for index in range(work.components):
        machines.add(component_name(index), policy_for(index), now=0.0)
    for row in work.warmup:
        for _, outcome in row:
            machines.observe(outcome, outcome.at)
    return machines


def feed_rounds(work: Workload, scheduler: HistoricalScheduler, feed: Subject[Outcome]) -> float:
    """Schedule each timed round's outcomes at their instants and advance through the round.

    The scheduled deliveries stand for the pollers' timers; `run_feed_only` measures them.
    """

    def deliver(_: abc.SchedulerBase, outcome: Outcome | None) -> None:
        feed.on_next(outcome)  # type: ignore[arg-type]

    schedule_absolute = scheduler.schedule_absolute
    gc.collect()
    started = time.perf_counter()
    for r, row in enumerate(work.schedule, start=WARMUP_ROUNDS):
        for at, outcome in row:
            schedule_absolute(at, deliver, state=outcome)
        scheduler.advance_to(to_datetime((r + 1) * PERIOD))
    return time.perf_counter() - started


def timed_start() -> HistoricalScheduler:
    """A virtual scheduler whose clock reads just before the first timed round."""
    return HistoricalScheduler(to_datetime(WARMUP_ROUNDS * PERIOD) - timedelta(seconds=1))


def run_streams(work: Workload) -> tuple[float, Counter[str]]:
    """`health_notices` on a virtual scheduler: seconds for the timed rounds, and notices."""
    machines = warm_machines(work)
    scheduler = timed_start()
    feed: Subject[Outcome] = Subject()
    kinds: Counter[str] = Counter()

    def on_notice(notice: Notice) -> None:
        kinds[notice.kind.value] += 1

    def on_error(error: Exception) -> None:
        raise error

    subscription = health_notices(feed, machines, scheduler).subscribe(on_notice, on_error)
    # Not timed: schedule every machine's deadline; fire those already due.
    scheduler.advance_to(to_datetime(WARMUP_ROUNDS * PERIOD))
    kinds.clear()
    elapsed = feed_rounds(work, scheduler, feed)
    subscription.dispose()
    return elapsed, kinds


def run_feed_only(work: Workload) -> tuple[float, Counter[str]]:
    """The same scheduling and Subject with a do-nothing subscriber: the harness alone."""
    scheduler = timed_start()
    feed: Subject[Outcome] = Subject()
    subscription = feed.subscribe(lambda _: None)
    elapsed = feed_rounds(work, scheduler, feed)
    subscription.dispose()
    return elapsed, Counter()


def run_observe_on(work: Workload) -> tuple[float, Counter[str]]:
    """The harness plus `observe_on(scheduler)`: the hop `health_notices` took for every
    outcome until it handled outcomes on the owner's thread directly (`OwnerHop`)."""
    scheduler = timed_start()
    feed: Subject[Outcome] = Subject()
    subscription = feed.pipe(ops.observe_on(scheduler)).subscribe(lambda _: None)
    elapsed = feed_rounds(work, scheduler, feed)
    subscription.dispose()
    return elapsed, Counter()


def run_direct(work: Workload) -> tuple[float, Counter[str]]:
    """`HealthMachines.observe` in time order; timers fire at each component's next outcome."""
    machines = warm_machines(work)
    kinds: Counter[str] = Counter()
    observe = machines.observe
    gc.collect()
    started = time.perf_counter()
    for row in work.schedule:
        for _, outcome in row:
            for notice in observe(outcome, outcome.at):
                kinds[notice.kind.value] += 1
    elapsed = time.perf_counter() - started
    return elapsed, kinds


# -- small helpers --------------------------------------------------------------------


def repeat(measure: Callable[[], float], times: int) -> list[float]:
    return [measure() for _ in range(times)]


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], text_columns: int = 1) -> str:
    """A Markdown table; the first `text_columns` columns left-aligned, the rest right."""
    cells = [list(map(str, headers))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(
            c.ljust(w) if i < text_columns else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))) + " |"

    rule = "|" + "|".join("-" * (w + 2) if i < text_columns else "-" * (w + 1) + ":"
                          for i, w in enumerate(widths)) + "|"
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f}"


def thousands(value: float) -> str:
    return f"{value:,.0f}"


# -- 1. throughput --------------------------------------------------------------------


def bench_throughput(sizes: Sequence[tuple[int, int]], repeats: int) -> dict[str, float]:
    print("\n## 1. Outcomes per second (virtual time, mixed workload)\n")
    print(f"Each component reports every {PERIOD:g} s of virtual time; bursts start with "
          f"probability {BURST_START:g} per outcome,\n{BLIP_SHARE:.0%} blips of 1-2 "
          f"failures, the rest incidents of {INCIDENT_LENGTH[0]}-{INCIDENT_LENGTH[1]} "
          "failures; failures_before_alert 3, reminders after 60 s\n(x2, max 600 s), "
          "settle 60 s; every other component has stale_after 35 s (a timer rescheduled "
          f"on every outcome).\nEach run starts from fresh machines warmed by "
          f"{WARMUP_ROUNDS} untimed rounds of observe; median of {repeats} runs "
          "(min-max in brackets).\n")
    rows = []
    notice_rows = []
    per_outcome: dict[str, float] = {}
    for components, rounds in sizes:
        work = make_workload(components, rounds)
        results: dict[str, tuple[list[float], Counter[str]]] = {}
        for label, runner in (("streams + machines", run_streams),
                              ("HealthMachines.observe", run_direct),
                              ("feeding harness alone", run_feed_only),
                              ("harness + observe_on", run_observe_on)):
            times: list[float] = []
            kinds: Counter[str] = Counter()
            for _ in range(repeats):
                elapsed, kinds = runner(work)
                times.append(elapsed)
            results[label] = (times, kinds)
            median = statistics.median(times)
            per_outcome[f"{label}/{components}"] = median / work.outcomes
            rows.append([
                f"{components:,}", label, thousands(work.outcomes),
                thousands(work.outcomes / median),
                f"{us(median / work.outcomes)} [{us(min(times) / work.outcomes)}-"
                f"{us(max(times) / work.outcomes)}]",
            ])
        streams_kinds = results["streams + machines"][1]
        direct_kinds = results["HealthMachines.observe"][1]
        notice_rows.append([
            f"{components:,}", f"{rounds:,}", thousands(work.outcomes),
            f"{work.failures / work.outcomes:.1%}",
            "/".join(str(streams_kinds[k]) for k in ("alert", "reminder", "recovery")),
            "/".join(str(direct_kinds[k]) for k in ("alert", "reminder", "recovery")),
        ])
    print(table(["components", "path", "outcomes", "outcomes/s", "µs/outcome"], rows,
                text_columns=2))
    print("\nWhat happened (notices: alert/reminder/recovery). Without streams nothing "
          "fires between outcomes:\na timer is only run at the component's next outcome, "
          "so a few reminders fall together or later.\n")
    print(table(["components", "rounds", "outcomes", "failures", "notices (streams)",
                 "notices (observe)"], notice_rows))
    return per_outcome


# -- 2. cost per outcome next to bare transitions -------------------------------------


class Flip:
    state: str
    flip: Callable[[], bool]


class Trivial:
    """A model for the health table whose guards and callbacks do nothing."""

    state: Any
    trigger: Callable[..., bool]

    def record(self, event: Any) -> None:
        pass

    def threshold_met(self, event: Any) -> bool:
        return False

    recovery_met = reminder_due = settled = error_rate_met = error_rate_cleared = threshold_met
    mark_since = close_incident = emit_alert = emit_reminder = emit_recovery = record


def per_call(body: Callable[[int], None], calls: int, repeats: int) -> list[float]:
    def once() -> float:
        gc.collect()
        started = time.perf_counter()
        body(calls)
        return (time.perf_counter() - started) / calls
    once()  # warm-up
    return repeat(once, repeats)


def bench_per_outcome(calls: int, repeats: int, mixed: dict[str, float]) -> None:
    print("\n## 2. Cost of one event, from a bare transitions trigger to the full path\n")
    print(f"{calls:,} calls per run, median of {repeats} runs (min in brackets).\n")
    rows: list[list[str]] = []

    def add(label: str, times: list[float]) -> None:
        rows.append([label, f"{us(statistics.median(times))} [{us(min(times))}]"])

    flip = Flip()
    Machine(model=flip, states=["a", "b"], initial="a", auto_transitions=False,
            transitions=[{"trigger": "flip", "source": "a", "dest": "b"},
                         {"trigger": "flip", "source": "b", "dest": "a"}])

    def flips(n: int) -> None:
        f = flip.flip
        for _ in range(n):
            f()
    add("bare Machine, 2 states, 1 trigger: model.flip() (state changes)",
        per_call(flips, calls, repeats))

    trivial = Trivial()
    table_machine = new_machine()
    table_machine.add_model(trivial, initial=H)
    sample = Outcome.success("x", 0.0)

    def internal(n: int) -> None:
        t = trivial.trigger
        for i in range(n):
            t("success", now=float(i), outcome=sample)
    add("health table, trivial model: success in healthy (internal)",
        per_call(internal, calls, repeats))

    fail = Outcome.failure("x", 0.0, "http_503")

    def toggles(n: int) -> None:
        t = trivial.trigger
        for i in range(n // 2):
            t("failure", now=float(i), outcome=fail)  # healthy -> suspect
            t("success", now=float(i), outcome=sample)  # suspect -> healthy
    add("health table, trivial model: failure/success, healthy <-> suspect",
        per_call(toggles, calls, repeats))

    incident = Incident("x", BASE_POLICY, 0.0)
    new_machine().add_model(incident, initial=H)

    def real_trigger(n: int) -> None:
        t = incident.trigger
        for i in range(n):
            t("success", now=float(i), outcome=sample)
    add("health table, real Incident: trigger('success') in healthy",
        per_call(real_trigger, calls, repeats))

    machines = HealthMachines()
    machines.add("x", BASE_POLICY, 0.0)

    def observes(n: int) -> None:
        observe = machines.observe
        for i in range(n):
            observe(sample, float(i))
    add("HealthMachines.observe(success) in healthy (tick + trigger + drain)",
        per_call(observes, calls, repeats))

    stale = HealthMachines()
    stale.add("x", STALE_POLICY, 0.0)

    def observes_stale(n: int) -> None:
        observe = stale.observe
        for i in range(n):
            observe(sample, float(i))
    add("  the same with stale_after set (staleness deadline checked)",
        per_call(observes_stale, calls, repeats))

    for size in (100, 10_000):
        for label, key in (("HealthMachines.observe", "HealthMachines.observe"),
                           ("streams + machines", "streams + machines"),
                           ("feeding harness alone", "feeding harness alone"),
                           ("harness + observe_on", "harness + observe_on")):
            value = mixed.get(f"{key}/{size}")
            if value is not None:
                rows.append([f"mixed workload, {size:,} components: {label} (from 1.)",
                             us(value)])
    print(table(["event", "µs/event"], rows))


# -- 4. the error rate and the numbers ------------------------------------------------

#: The error rate as docs/alerting-rules.md's example sets it: at one outcome every
#: PERIOD s, the 900 s window holds 90 outcomes per component.
RATE = {"error_rate_threshold": 0.3, "error_rate_window_seconds": 900.0,
        "error_rate_min_outcomes": 10}


def rate_policy_of(index: int) -> Policy:
    return policy_of(index).with_overrides(RATE)


def run_rules(work: Workload, rate: bool, numbers: bool) -> tuple[float, Counter[str]]:
    """`run_direct` with the error rate on (`rate`) and every outcome also counted for
    the percentiles, uptime and failures by type (`numbers`, as the recorder does)."""
    machines = warm_machines(work, rate_policy_of if rate else policy_of)
    stats = ComponentStats()
    for row in work.warmup:
        for _, outcome in row:
            stats.observe(outcome)
    kinds: Counter[str] = Counter()
    observe, count = machines.observe, stats.observe
    gc.collect()
    started = time.perf_counter()
    for row in work.schedule:
        for _, outcome in row:
            if numbers:
                count(outcome)
            for notice in observe(outcome, outcome.at):
                kinds[notice.kind.value] += 1
    return time.perf_counter() - started, kinds


def bench_rules(sizes: Sequence[tuple[int, int]], repeats: int) -> None:
    print("\n## 4. One outcome with the error-rate window and the numbers on\n")
    print(f"`HealthMachines.observe` on the mixed workload of section 1, as it is "
          f"(`today`), with error_rate_threshold 0.3 over 900 s (90 outcomes per window), "
          f"and with ComponentStats.observe too\n(latency bins per minute, uptime per 10 "
          f"min, failures by type). Median of {repeats} runs (min-max in brackets). Freezing "
          f"the numbers for a publication is timed per component.\n")
    rows = []
    for components, rounds in sizes:
        if components < 100:
            continue
        work = make_workload(components, rounds)
        for label, rate, numbers in (("today", False, False),
                                     ("error rate on", True, False),
                                     ("error rate + numbers on", True, True)):
            times: list[float] = []
            kinds: Counter[str] = Counter()
            for _ in range(repeats):
                elapsed, kinds = run_rules(work, rate, numbers)
                times.append(elapsed)
            median = statistics.median(times)
            rows.append([f"{components:,}", label, thousands(work.outcomes),
                         f"{us(median / work.outcomes)} [{us(min(times) / work.outcomes)}-"
                         f"{us(max(times) / work.outcomes)}]",
                         "/".join(str(kinds[k]) for k in ("alert", "reminder", "recovery"))])
        stats = ComponentStats()
        for row in [*work.warmup, *work.schedule]:
            for _, outcome in row:
                stats.observe(outcome)
        at = work.schedule[-1][-1][1].at
        # A minute later each time, so every call recomputes (within a minute, a component
        # with no new outcome is served from the cache).
        freezes = per_call(lambda n, stats=stats, at=at: [stats.freeze(at + 60.0 * (i + 1))
                                                          for i in range(n)], 3, repeats)
        rows.append([f"{components:,}", "ComponentStats.freeze, per component", "",
                     us(statistics.median(freezes) / components), ""])
    print(table(["components", "path", "outcomes", "µs/outcome", "alert/reminder/recovery"],
                rows, text_columns=2))


# -- 3. setup and memory per component ------------------------------------------------


class SharedLayout:
    """What `HealthMachines` does: one `Machine` over the table, one model per component."""

    label = "one shared Machine + add_model"

    def __init__(self) -> None:
        self.machine = new_machine()

    def add(self, incidents: list[Incident]) -> SharedLayout:
        for incident in incidents:
            self.machine.add_model(incident, initial=H)
        return self


class EachLayout:
    """The alternative: a `Machine` over the same table for every component."""

    label = "one Machine per component"

    def __init__(self) -> None:
        self.machines: list[Machine] = []

    def add(self, incidents: list[Incident]) -> EachLayout:
        for incident in incidents:
            machine = new_machine()
            machine.add_model(incident, initial=H)
            self.machines.append(machine)
        return self


def build_hub(count: int) -> HealthMachines:
    machines = HealthMachines()
    for index in range(count):
        machines.add(component_name(index), BASE_POLICY, 0.0)
    return machines


def incidents_for(count: int) -> list[Incident]:
    return [Incident(component_name(i), BASE_POLICY, 0.0) for i in range(count)]


def timed_build(layout: type[SharedLayout | EachLayout], count: int,
                collect: bool = True) -> tuple[float, float]:
    """(seconds for all, seconds for the last tenth) of adding `count` incidents.

    `collect=False` runs the build with the cyclic garbage collector disabled.
    """
    incidents = incidents_for(count)
    head, tail = incidents[: count - count // 10], incidents[count - count // 10:]
    gc.collect()
    if not collect:
        gc.disable()
    try:
        started = time.perf_counter()
        built = layout().add(head)
        middle = time.perf_counter()
        built.add(tail)
        ended = time.perf_counter()
    finally:
        gc.enable()
    del built
    return ended - started, ended - middle


def traced_bytes(make: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = make()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    gc.collect()
    return after - before


def bench_setup(counts: Sequence[int], repeats: int) -> None:
    print("\n## 3. Setup and memory per component\n")
    print(f"Time: median of {repeats} builds after a discarded one, gc enabled as in the "
          "daemon ('gc off': disabled during the build);\n'last 10%' is the cost of each "
          "of the last tenth of the components added: how the cost grows with the number\n"
          "already there. Memory: tracemalloc, bytes allocated and still alive per "
          "component; the machine layouts exclude the Incident\nitself (given on its own).\n")

    def median_build(layout: type[SharedLayout | EachLayout], count: int,
                     collect: bool) -> tuple[float, float]:
        # The first build after a large release pays page faults: run one more, drop it.
        runs = [timed_build(layout, count, collect) for _ in range(repeats + 1)][1:]
        return (statistics.median(r[0] for r in runs) / count,
                statistics.median(r[1] for r in runs) / (count // 10))

    rows = []
    for count in counts:
        for layout in (SharedLayout, EachLayout):
            total, tail = median_build(layout, count, collect=True)
            incidents = incidents_for(count)
            memory = traced_bytes(
                lambda layout=layout, incidents=incidents: layout().add(incidents))
            del incidents
            rows.append([f"{count:,}", layout.label, us(total), us(tail),
                         thousands(memory / count)])
        if count == max(counts):
            for layout in (SharedLayout, EachLayout):
                total, tail = median_build(layout, count, collect=False)
                rows.append([f"{count:,}", f"{layout.label} (gc off)", us(total), us(tail), ""])
        hub_times = []
        for _ in range(repeats + 1):
            gc.collect()
            started = time.perf_counter()
            kept = build_hub(count)
            hub_times.append(time.perf_counter() - started)
            del kept
        # Memory of the real thing only once: per component it does not depend on count.
        hub_memory = (thousands(traced_bytes(lambda count=count: build_hub(count)) / count)
                      if count == min(counts) else "")
        rows.append([f"{count:,}", "HealthMachines.add (Incident included)",
                     us(statistics.median(hub_times[1:]) / count), "", hub_memory])
        incident_memory = traced_bytes(lambda count=count: incidents_for(count))
        rows.append([f"{count:,}", "the Incident alone (no machine)", "", "",
                     thousands(incident_memory / count)])
    print(table(["components", "layout", "µs/component", "last 10% µs/comp.",
                 "bytes/component"], rows, text_columns=2))

    # Why the shared layout's cost grows: Machine.add_model checks `model not in
    # self.models`, a scan of a list holding every model added so far.
    count = max(counts)
    models = incidents_for(count)
    newcomer = incidents_for(1)[0]
    scans = 200
    scan = min(timeit.repeat(lambda: newcomer in models, number=scans, repeat=5)) / scans
    print(f"\nThe membership check inside Machine.add_model (`model not in self.models`) "
          f"with {count:,} models: {us(scan)} µs.")


# -- main -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller, faster run")
    parser.add_argument("--rules-only", action="store_true",
                        help="only section 4: the error rate and the numbers")
    args = parser.parse_args(argv)

    if args.quick:
        sizes = [(1, 5_000), (100, 50), (10_000, 3)]
        repeats, calls, setup_counts, setup_repeats = 2, 5_000, (1_000,), 1
    else:
        sizes = [(1, 15_000), (100, 150), (10_000, 6)]
        repeats, calls, setup_counts, setup_repeats = 3, 10_000, (1_000, 10_000), 2

    print("# Divoom Hub: health machine benchmark" + (" (--quick)" if args.quick else ""))
    print()
    print(f"python {platform.python_version()} ({platform.python_implementation()}), "
          f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
          f"{platform.release()}")
    print(f"transitions {version('transitions')}, reactivex {version('reactivex')}")
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    started = time.perf_counter()
    if args.rules_only:
        bench_rules(sizes, repeats)
        print(f"\n(section 4: {time.perf_counter() - started:.0f} s)")
        return

    mixed = bench_throughput(sizes, repeats)
    print(f"\n(section 1: {time.perf_counter() - started:.0f} s)")
    mark = time.perf_counter()
    bench_per_outcome(calls, repeats * 2 - 1, mixed)
    print(f"\n(section 2: {time.perf_counter() - mark:.0f} s)")
    mark = time.perf_counter()
    bench_setup(setup_counts, setup_repeats)
    print(f"\n(section 3: {time.perf_counter() - mark:.0f} s)")
    mark = time.perf_counter()
    bench_rules(sizes, repeats)
    print(f"\n(section 4: {time.perf_counter() - mark:.0f} s)")

    print(f"\nload average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"total {time.perf_counter() - started:.0f} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
