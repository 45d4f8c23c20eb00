"""`divoom-hub replay`: run a recorded history through the machines in virtual time.

The policy dry-run owners use before changing thresholds or silencing things. The
history is JSON lines, each an outcome
`{"at": seconds, "component": str, "ok": bool, "error": str?, "scenario": str?}` or an
operator's action `{"at", "action": "ack"|"mute"|"unmute", "component": name|"*",
"for_seconds"?, "by"?, "scenario"?}` (a `null` counts as an absent optional field), in
time order within each scenario. Each scenario gets its own health machines and its own
notification policy (machines/notification.py) after them, with the config's maintenance
windows, kill switch, flapping keys and `depends_on`; each component's machine starts at
its first outcome.

The same `health_notices` wiring as the daemon runs on a `HistoricalScheduler`, so
timers fire at their exact due instants, and at one instant the order is DESIGN.md's:
silence expiries and flap settles first (the policy ticks before anything else it is
told), then the machines' timers, then the lines in file order; parents before children
in the policy's own steps. Errors name the line and speak JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeGuard

from reactivex import Subject, abc
from reactivex.scheduler import HistoricalScheduler

from hub.config import Config
from hub.incidents.runner import PolicyRunner
from hub.streams import EPOCH, health_notices, to_datetime
from machines import HealthMachines, Notice, NotificationPolicy, Outcome, Refused
from machines.silences import MAX_MUTE_SECONDS

DEFAULT_SCENARIO = "default"
_OUTCOME_KEYS = {"at", "component", "ok", "error", "scenario"}
_ACTION_KEYS = {"at", "action", "component", "for_seconds", "by", "scenario"}
_KEYS = _OUTCOME_KEYS | _ACTION_KEYS
ACTIONS = ("ack", "mute", "unmute")
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


@dataclass(frozen=True, slots=True)
class ReplayAction:
    """An operator's `ack`, `mute` (for `for_seconds`) or `unmute` of `component` (or `*`)."""

    at: float
    action: str
    component: str
    scenario: str
    line: int
    for_seconds: float | None = None
    by: str = ""

    def apply(self, runner: PolicyRunner) -> None:
        """Do the operator's command through `runner`; `Refused` says why not."""
        if self.action == "ack":
            runner.ack(self.component, self.by)
        elif self.action == "mute":
            assert self.for_seconds is not None  # parse_history requires it
            runner.mute(self.component, self.for_seconds, self.by)
        else:
            runner.unmute(self.component)


Line = ReplayEvent | ReplayAction


def parse_history(lines: Iterable[str | bytes],
                  source: str = "<history>") -> list[Line]:
    """Validate every line (text, or UTF-8 bytes); the first bad one raises `ReplayError`
    naming it. Lines are in time order within each scenario."""
    events: list[Line] = []
    latest: dict[str, Line] = {}  # each scenario's last line so far
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


def _parse_line(text: str, where: str, number: int) -> Line:
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
    # A null counts as an absent optional field (JSON writers emit one for "no value").
    given = {key for key, value in data.items() if value is not None}
    at = data.get("at")
    # A range test, not `math.isfinite`: NaN fails it too, and it takes an integer of any
    # size, where converting it to a float would overflow.
    if isinstance(at, bool) or not isinstance(at, int | float) or not 0 <= at <= LAST_AT:
        raise ReplayError(f"{where}: 'at' must be a number of seconds from 0 to {LAST_AT} "
                          f"(the year 9999), got {_got(data, 'at')}")
    component = data.get("component")
    if not _is_text(component) or not component.strip():
        raise _bad_string(where, "component", data)
    scenario = data.get("scenario")
    scenario = DEFAULT_SCENARIO if scenario is None else scenario
    if not _is_text(scenario) or not scenario:
        raise _bad_string(where, "scenario", data)
    if "action" in given:
        return _parse_action(data, given, where, number, float(at), component, scenario)
    misplaced = sorted(given - _OUTCOME_KEYS)
    if misplaced:
        raise ReplayError(f"{where}: {misplaced[0]!r} belongs to an operator's action, and "
                          "this line has no 'action'")
    ok = data.get("ok")
    if not isinstance(ok, bool):
        raise ReplayError(f"{where}: 'ok' must be true or false, got {_got(data, 'ok')}")
    error = data.get("error")
    error = "" if error is None else error
    if not _is_text(error):
        raise _bad_string(where, "error", data)
    return ReplayEvent(at=float(at), component=component, ok=ok, error=error,
                       scenario=scenario, line=number)


def _parse_action(data: dict[str, Any], given: set[str], where: str, number: int, at: float,
                  component: str, scenario: str) -> ReplayAction:
    action = data["action"]
    if action not in ACTIONS:
        raise ReplayError(f"{where}: 'action' must be \"ack\", \"mute\" or \"unmute\", got "
                          f"{_got(data, 'action')}")
    misplaced = sorted(given - _ACTION_KEYS)
    if misplaced:
        raise ReplayError(f"{where}: {misplaced[0]!r} belongs to an outcome, not to an "
                          "operator's action")
    for_seconds = data.get("for_seconds")
    if action != "mute" and for_seconds is not None:
        raise ReplayError(f"{where}: 'for_seconds' is for \"mute\" only, not {action!r}")
    if action == "mute" and (isinstance(for_seconds, bool)
                             or not isinstance(for_seconds, int | float)
                             or not 0 < for_seconds <= MAX_MUTE_SECONDS):
        raise ReplayError(f"{where}: 'for_seconds' must be a number of seconds above 0 and "
                          f"at most {MAX_MUTE_SECONDS} (7 days), got "
                          f"{_got(data, 'for_seconds')}")
    by = data.get("by")
    by = "" if by is None else by
    if not _is_text(by):
        raise _bad_string(where, "by", data)
    return ReplayAction(at=at, action=action, component=component, scenario=scenario,
                        line=number, for_seconds=None if for_seconds is None
                        else float(for_seconds), by=by)


def _bad_string(where: str, key: str, data: dict[str, Any]) -> ReplayError:
    expected = "a string" if key in ("error", "by") else "a non-empty string"
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


def replay(events: list[Line], config: Config, until: float | None = None,
           on_refused: Callable[[ReplayAction, str], None] | None = None,
           ) -> list[tuple[str, Notice]]:
    """Every notice the notification policy decides for `events` up to `until`
    (inclusive), in order: sent ones and held ones (`Notice.held`). An action the policy
    refuses (an ack with no open incident) is told to `on_refused` with the reason."""
    if until is None:  # the last event of any scenario: each is in order only in itself
        until = max((event.at for event in events), default=0.0)
    # Start just before 0: advance_to(t) is a no-op when the clock already reads t, and
    # events at 0 with --until 0 must still run.
    scheduler = HistoricalScheduler(EPOCH - timedelta(seconds=1))
    emitted: list[tuple[str, Notice]] = []
    runs: dict[str, _ScenarioRun] = {}
    for scenario in dict.fromkeys(event.scenario for event in events):
        mine = [event for event in events if event.scenario == scenario]
        runs[scenario] = _ScenarioRun(scenario, mine, config, scheduler, emitted, on_refused)

    def begin(_: abc.SchedulerBase, lines: list[Line] | None) -> None:
        # Scheduled before any timer, this runs first at its instant; the lines go after
        # the machines' timers due then (DESIGN.md: timers, then lines in file order).
        assert lines is not None
        scheduler.schedule(step, state=(lines, 0))

    def step(_: abc.SchedulerBase, state: tuple[list[Line], int] | None) -> None:
        # One line per turn: an outcome goes through the health stream's own turn on the
        # scheduler, which is queued before the next line's.
        assert state is not None
        lines, index = state
        runs[lines[index].scenario].take(lines[index])
        if index + 1 < len(lines):
            scheduler.schedule(step, state=(lines, index + 1))

    # Each scenario's lines of one instant, in file order (another scenario's may come
    # between them); later lines of one scenario may follow earlier ones of another, so
    # `until` cuts each line on its own.
    instants: dict[tuple[str, float], list[Line]] = {}
    for event in events:
        if event.at <= until:
            instants.setdefault((event.scenario, event.at), []).append(event)
    for (_, at), lines in instants.items():
        scheduler.schedule_absolute(to_datetime(at), begin, state=lines)
    scheduler.advance_to(to_datetime(until))
    for run in runs.values():
        run.dispose()
    return emitted


class _ScenarioRun:
    """One scenario's health machines and the notification policy after them, wired as
    the daemon wires them (hub/incidents/runner.py), on the replay's scheduler."""

    def __init__(self, scenario: str, lines: list[Line], config: Config,
                 scheduler: HistoricalScheduler, emitted: list[tuple[str, Notice]],
                 on_refused: Callable[[ReplayAction, str], None] | None) -> None:
        self.scenario = scenario
        self.on_refused = on_refused
        components = dict.fromkeys(e.component for e in lines if isinstance(e, ReplayEvent))
        policy = NotificationPolicy(notifications=config.hub.notifications,
                                    components=components,
                                    policy_for=config.policy_for)
        self.runner = PolicyRunner(
            policy, scheduler,
            lambda notices: emitted.extend((scenario, notice) for notice in notices),
            maintenance=config.maintenance, zone=config.hub.zone())
        self.feed: Subject[Outcome] = Subject()

        def fail(error: Exception) -> None:
            raise error

        health = health_notices(self.feed, HealthMachines(), scheduler, config.policy_for,
                                parents_first=config.parents_first)
        self.subscription = health.subscribe(self.runner.observe, fail)

    def take(self, line: Line) -> None:
        if isinstance(line, ReplayEvent):
            self.feed.on_next(line.outcome())
            return
        try:
            line.apply(self.runner)
        except Refused as refusal:
            if self.on_refused is not None:
                self.on_refused(line, str(refusal))

    def dispose(self) -> None:
        self.subscription.dispose()
        self.runner.dispose()


def notice_record(scenario: str, notice: Notice) -> dict[str, Any]:
    """The `replay` output line of one notice (DESIGN.md, "The user-facing contract" and
    "`replay` for all of this"): `held` (or `folded_into`) only on what was not sent.
    Exactly those keys: the figures of an error-rate incident ("7 of 12 checks failed")
    are in its embed (`--embeds`), not in the line."""
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
    record["incident"] = notice.incident
    if notice.held is not None:
        record["held"] = notice.held.value
    if notice.folded_into is not None:
        record["folded_into"] = notice.folded_into
    return record


def _number(value: float) -> float | int:
    """Whole seconds print as integers; the rest at microsecond precision."""
    rounded = round(value, 6)
    return int(rounded) if rounded == int(rounded) else rounded

