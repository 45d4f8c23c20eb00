"""`divoom-hub replay`: run a recorded history through the machines in virtual time.

The policy dry-run owners use before changing thresholds. The history is JSON lines
`{"at": seconds, "component": str, "ok": bool, "error": str?, "scenario": str?}` (a
`null` counts as an absent optional field), in time order within each scenario; each
scenario gets its own machines; each component's machine starts at its first event.
The same `health_notices` wiring as the daemon runs on a `HistoricalScheduler`, so
timers fire at their exact due instants. Errors name the line and speak JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeGuard

from reactivex import Subject, abc
from reactivex.scheduler import HistoricalScheduler

from hub.config import Config
from hub.streams import EPOCH, health_notices, to_datetime
from machines import HealthMachines, Notice, Outcome

DEFAULT_SCENARIO = "default"
_KEYS = {"at", "component", "ok", "error", "scenario"}
#: The latest instant a history may name, 9999-01-01T00:00:00Z: a year short of the
#: calendar's end, so every deadline after it (a policy holds at most 30 days) has a date.
LAST_AT = 253_370_764_800
#: A value shown in an error is cut to this many characters.
SHOWN_MAX_CHARS = 80


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


def parse_history(lines: Iterable[str | bytes],
                  source: str = "<history>") -> list[ReplayEvent]:
    """Validate every line (text, or UTF-8 bytes); the first bad one raises `ReplayError`
    naming it. Events are in time order within each scenario."""
    events: list[ReplayEvent] = []
    latest: dict[str, ReplayEvent] = {}  # each scenario's last event so far
    for number, line in enumerate(lines, start=1):
        where = f"{source}:{number}"
        text = _decoded(line, where) if isinstance(line, bytes) else line
        if not text.strip():
            continue
        event = _parse_line(text, where, number)
        before = latest.get(event.scenario)
        if before is not None and event.at < before.at:
            raise ReplayError(
                f"{where}: events must be in time order within a scenario: at {event.at:g} "
                f"comes after at {before.at:g} (line {before.line}, scenario "
                f"{_shown(event.scenario)})")
        latest[event.scenario] = event
        events.append(event)
    return events


def check_until(text: str) -> float:
    """`--until T`: seconds from 0 to `LAST_AT`, or a `ReplayError` naming the option."""
    expected = f"--until: expected a number of seconds from 0 to {LAST_AT} (the year 9999)"
    try:
        until = float(text)
    except ValueError:
        raise ReplayError(f"{expected}, got {text!r}") from None
    if not 0 <= until <= LAST_AT:
        raise ReplayError(f"{expected}, got {text}")
    return until


def _decoded(line: bytes, where: str) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ReplayError(f"{where}: not UTF-8 text (byte 0x{line[err.start]:02x} at column "
                          f"{err.start + 1}): save the history as UTF-8") from None


def _parse_line(text: str, where: str, number: int) -> ReplayEvent:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ReplayError(f"{where}: not valid JSON: {err.msg}") from None
    except ValueError:  # `int()` refuses more than 4300 digits
        raise ReplayError(f"{where}: not valid JSON: a number with too many digits") from None
    except RecursionError:
        raise ReplayError(f"{where}: not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise ReplayError(f"{where}: expected a JSON object, got {_json_type(data)}")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        known = ", ".join(sorted(_KEYS))
        raise ReplayError(f"{where}: unknown key {_shown(unknown[0])} (known: {known})")
    at = data.get("at")
    # A range test, not `math.isfinite`: NaN fails it too, and it takes an integer of any
    # size, where converting it to a float would overflow.
    if isinstance(at, bool) or not isinstance(at, int | float) or not 0 <= at <= LAST_AT:
        raise ReplayError(f"{where}: 'at' must be a number of seconds from 0 to {LAST_AT} "
                          f"(the year 9999), got {_got(data, 'at')}")
    component = data.get("component")
    if not _is_text(component) or not component.strip():
        raise _bad_string(where, "component", data)
    ok = data.get("ok")
    if not isinstance(ok, bool):
        raise ReplayError(f"{where}: 'ok' must be true or false, got {_got(data, 'ok')}")
    # A null counts as an absent optional field (JSON writers emit one for "no value").
    error = data.get("error")
    error = "" if error is None else error
    if not _is_text(error):
        raise _bad_string(where, "error", data)
    scenario = data.get("scenario")
    scenario = DEFAULT_SCENARIO if scenario is None else scenario
    if not _is_text(scenario) or not scenario:
        raise _bad_string(where, "scenario", data)
    return ReplayEvent(at=float(at), component=component, ok=ok, error=error,
                       scenario=scenario, line=number)


def _bad_string(where: str, key: str, data: dict[str, Any]) -> ReplayError:
    expected = "a string" if key == "error" else "a non-empty string"
    value = data.get(key)
    why = " (a lone surrogate is not a character)" \
        if isinstance(value, str) and not _is_text(value) else ""
    return ReplayError(f"{where}: {key!r} must be {expected}, got {_got(data, key)}{why}")


def _is_text(value: Any) -> TypeGuard[str]:
    """A string of Unicode characters: JSON's `"\\ud800"` escapes decode to a lone
    surrogate, which is none, and which no output could print."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_type(value: Any) -> str:
    """JSON's name for the type of a decoded value."""
    return ("an array" if isinstance(value, list) else "a string" if isinstance(value, str)
            else "null" if value is None else "a boolean" if isinstance(value, bool)
            else "a number")


def _got(data: dict[str, Any], key: str) -> str:
    """What a line holds for `key`: its JSON, or that it is missing."""
    return _shown(data[key]) if key in data else "nothing (the key is missing)"


def _shown(value: Any) -> str:
    """`value` as JSON writes it (`null`, `true`), cut short; a lone surrogate escaped."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**21:
        return f"a number of {int(math.log10(abs(value))) + 1} digits"
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > SHOWN_MAX_CHARS:
        text = text[:SHOWN_MAX_CHARS - 1] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def replay(events: list[ReplayEvent], config: Config,
           until: float | None = None) -> list[tuple[str, Notice]]:
    """Every notice the machines emit for `events` up to `until` (inclusive), in order."""
    if until is None:  # the last event of any scenario: each is in order only in itself
        until = max((event.at for event in events), default=0.0)
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
            continue  # later events of this scenario may follow earlier ones of another
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

