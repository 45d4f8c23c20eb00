"""What the `alerts` page lists: open incidents (and, later, fleet alerts), worst first.

An `Alert` is display data only: a name, since when, and how bad. The daemon builds them
from the health machines' published snapshots (`incident_alerts`); alerts from other
sources (a fleet's Alertmanager) join them through `Dashboard`'s `extra_alerts`, and
`worst_first` orders them all the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from machines import Snapshot
from machines.states import HealthState

Severity = Literal["critical", "warning"]
#: The order of severities, the worst first.
SEVERITIES: tuple[Severity, ...] = ("critical", "warning")


@dataclass(frozen=True, slots=True)
class Alert:
    """One line of the `alerts` page."""

    name: str  # the component, or the fleet alert's name
    since: float  # epoch seconds: when it opened
    severity: Severity = "critical"
    detail: str = ""  # the last error, if it fits


def incident_alerts(snapshots: Iterable[Snapshot]) -> tuple[Alert, ...]:
    """An alert per machine with an open incident (alerting or reminding); an incident
    that was reminded of has been open longer than one that was not, so it is critical
    either way."""
    return tuple(Alert(name=s.component, since=s.first_failure_at or s.since,
                       detail=s.last_error)
                 for s in snapshots if s.state.is_incident_open)


def worst_first(alerts: Iterable[Alert]) -> tuple[Alert, ...]:
    """Critical before warning; within a severity, the longest open first (then by name,
    so the order never flickers between frames)."""
    return tuple(sorted(alerts, key=lambda a: (SEVERITIES.index(a.severity), a.since,
                                               a.name)))


def open_incidents(health: Iterable[tuple[str, HealthState]]) -> frozenset[str]:
    """The components whose incident is open, from (component, state) pairs."""
    return frozenset(name for name, state in health if state.is_incident_open)
