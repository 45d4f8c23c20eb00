"""The `status` reply's embed: every machine's state, plus how the hub itself is doing
(pure; built from the published `HubStatus`)."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from hub.formatting import duration, iso, sanitize, truncate
from hub.notify.embeds import COLOURS, discord_time, fit_embed
from hub.sources.channels import ChannelActivity
from hub.status.model import HubStatus
from machines import HealthState, NoticeKind, Snapshot

_MARK = {
    HealthState.HEALTHY: "🟢",
    HealthState.SUSPECT: "🟡",
    HealthState.ALERTING: "🔴",
    HealthState.REMINDING: "🔴",
    HealthState.RECOVERED: "🟢",
}


def machine_line(snapshot: Snapshot, now: float, incident: str | None = None) -> str:
    """`🔴 alerting for 12 min · bus#3 · 5 failures · last success 14:01 · timeout · …`"""
    parts = [f"{_MARK[snapshot.state]} {snapshot.state.value} for "
             f"{duration(now - snapshot.since)}"]
    if incident is not None:
        parts.append(incident)
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


def _with_numbers(line: str, status: HubStatus, component: str) -> str:
    """The machine's line, then its latency percentiles, uptime and failures by type."""
    stats = status.stats_of(component)
    words = stats.words() if stats is not None else ""
    return f"{line}\n{words}" if words else line


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


def status_embed(status: HubStatus, zone: tzinfo | None = None) -> dict[str, Any]:
    """The reply; `zone` is `[hub] timezone` (None: the system's), for silences' ends."""
    open_incidents = [s for s in status.machines if s.state.is_incident_open]
    colour = COLOURS[NoticeKind.ALERT] if open_incidents else COLOURS[NoticeKind.RECOVERY]
    summary = (f"{len(open_incidents)} of {len(status.machines)} components failing"
               if open_incidents else f"all {len(status.machines)} components healthy")
    fields = [{"name": s.component,
               "value": _with_numbers(machine_line(s, status.at,
                                                   status.incident_of(s.component)),
                                      status, s.component), "inline": False}
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
    silences = [f"🔕 {sanitize(s.describe(zone), markdown=True)}" for s in status.silences]
    if not status.notifications:
        silences.insert(0, "🔕 notifications are off (`[hub] notifications = false`)")
    if status.held_notices:
        silences.append(f"{len(status.held_notices)} notices held lately (the page lists them)")
    return fit_embed({
        "title": f"📋 {status.hub_name}: {summary}",
        "description": "\n".join([" · ".join(hub_line), *silences,
                                  *(channel_line(c) for c in status.channels)]),
        "color": colour,
        "fields": fields[:25],
        "footer": {"text": status.hub_name if len(fields) <= 25
                   else f"{status.hub_name} · {len(fields) - 25} more components not shown"},
        "timestamp": iso(status.at),
    })
