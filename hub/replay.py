"""`divoom-hub replay`: run a recorded history through the machines in virtual time.

The policy dry-run owners use before changing thresholds. The history is JSON lines
`{"at": seconds, "component": str, "ok": bool, "error": str?, "scenario": str?}` in time
order; each scenario gets its own machines; each component's machine starts at its
first event. The same `health_notices` wiring as the daemon runs on a
`HistoricalScheduler`, so timers fire at their exact due instants.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from reactivex import Subject, abc
from reactivex.scheduler import HistoricalScheduler

from hub.config import Config
from hub.streams import EPOCH, health_notices, to_datetime
from machines import HealthMachines, Notice, Outcome

DEFAULT_SCENARIO = "default"
_KEYS = {"at", "component", "ok", "error", "scenario"}


class ReplayError(ValueError):
    """A history line is invalid; the message names the source and line number."""


@dataclass(frozen=True, slots=True)
class ReplayEvent:
    at: float
    component: str
    ok: bool
    error: str
    scenario: str
    line: int

    def outcome(self) -> Outcome:
        if self.ok:
            return Outcome.success(self.component, self.at)
        return Outcome.failure(self.component, self.at, self.error or "error", self.error)


def parse_history(lines: Iterable[str], source: str = "<history>") -> list[ReplayEvent]:
    """Validate every line; the first bad one raises `ReplayError` naming it."""
    events: list[ReplayEvent] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        event = _parse_line(text, f"{source}:{number}", number)
        if events and event.at < events[-1].at:
            raise ReplayError(
                f"{source}:{number}: events must be in time order: at {event.at:g} comes "
                f"after at {events[-1].at:g} (line {events[-1].line})")
        events.append(event)
    return events


def _parse_line(text: str, where: str, number: int) -> ReplayEvent:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ReplayError(f"{where}: not valid JSON: {err.msg}") from None
    if not isinstance(data, dict):
        raise ReplayError(f"{where}: expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        known = ", ".join(sorted(_KEYS))
        raise ReplayError(f"{where}: unknown key {unknown[0]!r} (known: {known})")
    at = data.get("at")
    if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at) or at < 0:
        raise ReplayError(f"{where}: 'at' must be a number of seconds >= 0, got {at!r}")
    component = data.get("component")
    if not isinstance(component, str) or not component.strip():
        raise ReplayError(f"{where}: 'component' must be a non-empty string, got {component!r}")
    ok = data.get("ok")
    if not isinstance(ok, bool):
        raise ReplayError(f"{where}: 'ok' must be true or false, got {ok!r}")
    error = data.get("error", "")
    if not isinstance(error, str):
        raise ReplayError(f"{where}: 'error' must be a string, got {error!r}")
    scenario = data.get("scenario", DEFAULT_SCENARIO)
    if not isinstance(scenario, str) or not scenario:
        raise ReplayError(f"{where}: 'scenario' must be a non-empty string, got {scenario!r}")
    return ReplayEvent(at=float(at), component=component, ok=ok, error=error,
                       scenario=scenario, line=number)


def replay(events: list[ReplayEvent], config: Config,
           until: float | None = None) -> list[tuple[str, Notice]]:
    """Every notice the machines emit for `events` up to `until` (inclusive), in order."""
    if until is None:
        until = events[-1].at if events else 0.0
    # Start just before 0: advance_to(t) is a no-op when the clock already reads t, and
    # events at 0 with --until 0 must still run.
    scheduler = HistoricalScheduler(EPOCH - timedelta(seconds=1))
    emitted: list[tuple[str, Notice]] = []
    feeds: dict[str, Subject[Outcome]] = {}
    subscriptions = []

    def feed_for(scenario: str) -> Subject[Outcome]:
        if scenario not in feeds:
            feed: Subject[Outcome] = Subject()
            feeds[scenario] = feed

            def collect(notice: Notice, scenario: str = scenario) -> None:
                emitted.append((scenario, notice))

            def fail(error: Exception) -> None:
                raise error

            subscriptions.append(
                health_notices(feed, HealthMachines(), scheduler, config.policy_for)
                .subscribe(collect, fail))
        return feeds[scenario]

    def deliver(_: abc.SchedulerBase,
                delivery: tuple[Subject[Outcome], Outcome] | None) -> None:
        assert delivery is not None
        feed, outcome = delivery
        feed.on_next(outcome)

    for event in events:
        if event.at > until:
            break
        scheduler.schedule_absolute(to_datetime(event.at), deliver,
                                    state=(feed_for(event.scenario), event.outcome()))
    scheduler.advance_to(to_datetime(until))
    for subscription in subscriptions:
        subscription.dispose()
    return emitted


def notice_record(scenario: str, notice: Notice) -> dict[str, Any]:
    """The `replay` output line of one notice (DESIGN.md, "The user-facing contract")."""
    record: dict[str, Any] = {
        "scenario": scenario,
        "at": _number(notice.at),
        "component": notice.component,
        "kind": notice.kind.value,
        "state": notice.state.value if notice.state is not None else None,
        "failures": notice.failures,
        "failing_for": _number(notice.failing_for_seconds),
    }
    if notice.reminder is not None:
        record["reminder"] = notice.reminder
    if notice.downtime_seconds is not None:
        record["downtime"] = _number(notice.downtime_seconds)
    return record


def _number(value: float) -> float | int:
    """Whole seconds print as integers; the rest at microsecond precision."""
    rounded = round(value, 6)
    return int(rounded) if rounded == int(rounded) else rounded

