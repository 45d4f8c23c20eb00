"""Each machine's state changes over the last day, for the timeline picture.

`StateHistory` lives with the owner of the machines (it is not thread-safe, like them):
`observe` compares each published snapshot with the state last recorded for its
component and records a change at the snapshot's `since` (the instant the machine
entered that state, so a change is placed exactly even though publishing runs once a
second). `freeze` gives the immutable `ComponentHistory` values that go into `HubStatus`.

What is kept: the changes of the last `keep_seconds` (24 h) plus the one before them,
which says what state the day began in; at most `max_changes` per component, oldest
dropped first, so a component flapping all day cannot grow memory.

A restart begins with an empty history unless `seed` is given the journaled
transitions first (`Journal.history(since=now - DAY_SECONDS)`, hub/storage/journal.py).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from machines import HealthState, Snapshot

DAY_SECONDS = 24 * 3600.0
#: One change a minute on average all day, per component: far beyond any real incident
#: pattern, small enough (≈ 1440 × 2 floats) that twenty components stay under a MB.
MAX_CHANGES = 1440


@dataclass(frozen=True, slots=True)
class StateChange:
    at: float
    state: HealthState


@dataclass(frozen=True, slots=True)
class ComponentHistory:
    """A component's state changes, oldest first; the last one is its current state."""

    component: str
    changes: tuple[StateChange, ...]


class Transition(Protocol):
    """What `seed` needs of a journaled transition (hub.storage.journal.Transition has it)."""

    @property
    def component(self) -> str: ...
    @property
    def from_state(self) -> HealthState: ...
    @property
    def to_state(self) -> HealthState: ...
    @property
    def at(self) -> float: ...


class StateHistory:
    def __init__(self, keep_seconds: float = DAY_SECONDS,
                 max_changes: int = MAX_CHANGES) -> None:
        self._keep_seconds = keep_seconds
        self._max_changes = max_changes
        self._changes: dict[str, deque[StateChange]] = {}
        self._frozen: dict[str, ComponentHistory] = {}

    def record(self, component: str, at: float, state: HealthState) -> None:
        """`component` entered `state` at `at` (no-op if that is its recorded state)."""
        changes = self._changes.setdefault(component, deque(maxlen=self._max_changes))
        if changes and changes[-1].state is state:
            return
        # Never before the previous change: times stay ordered even if a snapshot's
        # `since` came from a restored (older) machine.
        at = max(at, changes[-1].at) if changes else at
        changes.append(StateChange(at, state))
        self._frozen.pop(component, None)

    def seed(self, transitions: Iterable[Transition], since: float) -> None:
        """Journaled transitions at or after `since`, oldest first: each component's
        first one also says what state it was in at `since`. Call before publishing."""
        for transition in transitions:
            if transition.component not in self._changes:
                self.record(transition.component, since, transition.from_state)
            self.record(transition.component, transition.at, transition.to_state)

    def observe(self, snapshots: Iterable[Snapshot], now: float) -> None:
        """Record what changed since the last snapshots, and forget what is too old."""
        for snapshot in snapshots:
            self.record(snapshot.component, snapshot.since, snapshot.state)
        self._prune(now)

    def _prune(self, now: float) -> None:
        horizon = now - self._keep_seconds
        for component, changes in self._changes.items():
            # Keep the last change before the horizon: it is the state at the horizon.
            pruned = False
            while len(changes) > 1 and changes[1].at <= horizon:
                changes.popleft()
                pruned = True
            if pruned:
                self._frozen.pop(component, None)

    def freeze(self) -> tuple[ComponentHistory, ...]:
        """Every component's history, sorted by name (cached until it changes)."""
        for component, changes in self._changes.items():
            if component not in self._frozen:
                self._frozen[component] = ComponentHistory(component, tuple(changes))
        return tuple(self._frozen[name] for name in sorted(self._frozen))
