"""`HubStatus`: the immutable picture of the hub that the owner of the machines publishes.

The bot's `status` reply, the status page, `/api/status`, `/metrics`, the systemd status
line and the liveness check all read this one value (DESIGN.md rule 2); none of them
touches a machine.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.fleet.model import FleetStatus
from hub.incidents.operations import Silence
from hub.notify.delivery import DeliveryStatus
from hub.sources.channels import ChannelActivity
from hub.status.history import ComponentHistory
from hub.status.stats import Stats
from machines import Notice, Snapshot


@dataclass(frozen=True, slots=True)
class HubStatus:
    """An immutable picture of the hub, published by the owner of the machines."""

    hub_name: str
    at: float
    started_at: float
    machines: tuple[Snapshot, ...]
    delivery: DeliveryStatus | None
    outbox_depth: int
    discord_latency_seconds: float | None = None
    #: The latest notices, oldest first, bounded by the publisher (the status page).
    recent_notices: tuple[Notice, ...] = ()
    #: Notices emitted since start, per kind: ((kind, count), ...) (the metrics).
    notices_by_kind: tuple[tuple[str, int], ...] = ()
    #: The latest outcome's latency per component: ((component, seconds), ...).
    source_latency_seconds: tuple[tuple[str, float], ...] = ()
    #: The latest reading of each threshold monitor: ((component, value), ...).
    values: tuple[tuple[str, float], ...] = ()
    #: Each watched Discord channel's counters today ([[channel]], hub.sources.channels).
    channels: tuple[ChannelActivity, ...] = ()
    #: Each component's state changes over the last 24 h (the timeline picture).
    history: tuple[ComponentHistory, ...] = ()
    #: Why `state_dir` refuses writes (`state_dir is full: notices kept in memory, 3
    #: waiting`), or None while it takes them (hub/selfcheck.py).
    storage_problem: str | None = None
    #: Liveness (hub/status/liveness.py), on a monotonic clock at `at`: how long the hub's own
    #: check has waited to reach the machines (0: it arrived), and for each component
    #: that reports on a schedule, (component, seconds since its last outcome, every).
    pipeline_lag_seconds: float = 0.0
    outcome_ages: tuple[tuple[str, float, float], ...] = ()
    #: Each component's latency percentiles, uptime and failures by type (hub/status/stats.py).
    stats: tuple[Stats, ...] = ()

    def stats_of(self, component: str) -> Stats | None:
        return next((s for s in self.stats if s.component == component), None)
    #: The notification policy (hub/incidents): each open incident as (component,
    #: `<component>#<n>`), the silences in force, the latest notices it held or folded
    #: (oldest first, bounded like `recent_notices`), how many it held since start per
    #: reason, and whether notifications are on at all (`[hub] notifications`).
    incidents: tuple[tuple[str, str], ...] = ()
    silences: tuple[Silence, ...] = ()
    held_notices: tuple[Notice, ...] = ()
    held_by_reason: tuple[tuple[str, int], ...] = ()
    notifications: bool = True

    def incident_of(self, component: str) -> str | None:
        """The open incident of `component`, if any."""
        return next((i for c, i in self.incidents if c == component), None)
    #: Forwarding to Alertmanager, its silences, and the fleet's alerts (hub/fleet/).
    fleet: FleetStatus = FleetStatus()
