"""The `status` reply: every machine's state, plus how the hub itself is doing (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.history import ComponentHistory
from hub.notify.delivery import DeliveryStatus
from hub.notify.embeds import COLOURS, discord_time, duration, fit_embed, iso, sanitize, truncate
from hub.sources.channels import ChannelActivity
from machines import HealthState, Notice, NoticeKind, Snapshot

_MARK = {
    HealthState.HEALTHY: "🟢",
    HealthState.SUSPECT: "🟡",
    HealthState.ALERTING: "🔴",
    HealthState.REMINDING: "🔴",
    HealthState.RECOVERED: "🟢",
}


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
    #: Liveness (hub/liveness.py), on a monotonic clock at `at`: how long the hub's own
    #: check has waited to reach the machines (0: it arrived), and for each component
    #: that reports on a schedule, (component, seconds since its last outcome, every).
    pipeline_lag_seconds: float = 0.0
    outcome_ages: tuple[tuple[str, float, float], ...] = ()


def machine_line(snapshot: Snapshot, now: float) -> str:
    """`🔴 alerting for 12 min · 5 failures · last success 14:01 · timeout · next reminder …`"""
    parts = [f"{_MARK[snapshot.state]} {snapshot.state.value} for "
             f"{duration(now - snapshot.since)}"]
    if snapshot.failures:
        parts.append(f"{snapshot.failures} failures")
    if snapshot.state is not HealthState.HEALTHY or snapshot.last_error_type:
        parts.append("last success " + (discord_time(snapshot.last_success_at)
                                        if snapshot.last_success_at is not None else "never"))
    if snapshot.failures and snapshot.last_error_type:
        error = snapshot.last_error_type
        if snapshot.last_error and snapshot.last_error != error:
            error += f": {truncate(' '.join(sanitize(snapshot.last_error).split()), 120)}"
        parts.append(f"`{error.replace('`', 'ˋ')}`")
    if snapshot.next_reminder_at is not None:
        parts.append(f"next reminder {discord_time(snapshot.next_reminder_at)}")
    return " · ".join(parts)


def channel_line(activity: ChannelActivity) -> str:
    """`📨 deploys: 14 messages today · 3 with keywords (`deploy*` 2, `rollback` 1) · last …`"""
    plural = "" if activity.messages_today == 1 else "s"
    parts = [f"📨 {activity.name}: {activity.messages_today} message{plural} today"]
    if activity.keyword_counts:
        found = ", ".join(f"`{keyword.replace('`', 'ˋ')}` {count}"
                          for keyword, count in activity.keyword_counts if count)
        parts.append(f"{activity.keyword_matches_today} with keywords"
                     + (f" ({found})" if found else ""))
    if activity.last_message_at is not None:
        parts.append(f"last {discord_time(activity.last_message_at)}")
    return " · ".join(parts)


def status_embed(status: HubStatus) -> dict[str, Any]:
    open_incidents = [s for s in status.machines if s.state.is_incident_open]
    colour = COLOURS[NoticeKind.ALERT] if open_incidents else COLOURS[NoticeKind.RECOVERY]
    summary = (f"{len(open_incidents)} of {len(status.machines)} components failing"
               if open_incidents else f"all {len(status.machines)} components healthy")
    fields = [{"name": s.component, "value": machine_line(s, status.at), "inline": False}
              for s in sorted(status.machines, key=lambda s: (not s.state.is_incident_open,
                                                               s.component))]
    hub_line = [f"up {duration(status.at - status.started_at)}",
                f"outbox {status.outbox_depth} queued"]
    if status.discord_latency_seconds is not None:
        hub_line.append(f"Discord latency {status.discord_latency_seconds * 1000:.0f} ms")
    if status.delivery is not None:
        delivery = f"delivery via {status.delivery.transport}: {status.delivery.state}"
        if status.delivery.detail:
            delivery += f" ({status.delivery.detail})"
        hub_line.append(delivery)
    return fit_embed({
        "title": f"📋 {status.hub_name}: {summary}",
        "description": "\n".join([" · ".join(hub_line),
                                  *(channel_line(c) for c in status.channels)]),
        "color": colour,
        "fields": fields[:25],
        "footer": {"text": status.hub_name if len(fields) <= 25
                   else f"{status.hub_name} · {len(fields) - 25} more components not shown"},
        "timestamp": iso(status.at),
    })
