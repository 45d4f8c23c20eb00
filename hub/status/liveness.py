"""Is the hub doing its job? The stalls a restart can cure, read from a published status.

A hub whose loop runs can still have stopped watching: a stream that died, a poller
that no longer ticks, a delivery loop that no longer steps. Each leaves a trace in the
`HubStatus` the owner publishes (measured on a monotonic clock, so a wall-clock step at
boot is not mistaken for a stall):

* `pipeline_lag_seconds`: the hub's own check (hub/selfcheck.py, every 10 s) travels the
  same stream as every source's outcomes; one that has not reached the machines after
  `PIPELINE_LAG_MAX_SECONDS` means the machines no longer get outcomes;
* `outcome_ages`: a component that reports on a schedule (a polled source, the hub's own
  check) and has not for `STALE_INTERVALS` of its intervals plus `STALE_SLACK_SECONDS`;
* `delivery.overdue_seconds`: the delivery loop is this far behind its own plan.

`/health` is unhealthy for any of them, and the systemd watchdog stops being pinged, so
systemd restarts the hub (hub/service.py, docs/restart.md). What a restart cannot cure
(a full disk, Discord refusing the webhook) is not a stall: the first is the `hub`
component's incident, the second keeps `/health` unhealthy without a restart loop.
"""

from __future__ import annotations

from hub.status.model import HubStatus

#: Six of the self-check's intervals: a loaded Pi is slow, never this slow.
PIPELINE_LAG_MAX_SECONDS = 60.0
#: A poll that times out still reports (a failure): a source's `every` is its interval
#: plus its timeout (hub/world.py), and three of those plus two minutes is no hiccup.
STALE_INTERVALS = 3
STALE_SLACK_SECONDS = 120.0
#: One send may take up to a minute (the bot's bound) after waiting for a login: three
#: minutes behind plan is a loop that stopped, not a slow Discord.
DELIVERY_OVERDUE_MAX_SECONDS = 180.0


def stalls(status: HubStatus) -> tuple[str, ...]:
    """Why the published `status` shows a hub that stopped doing its job (empty: none)."""
    found: list[str] = []
    if status.pipeline_lag_seconds > PIPELINE_LAG_MAX_SECONDS:
        found.append(f"outcomes have not reached the machines for "
                     f"{status.pipeline_lag_seconds:.0f} s (the monitoring pipeline is stuck)")
    for component, age, every in status.outcome_ages:
        if age > STALE_INTERVALS * every + STALE_SLACK_SECONDS:
            found.append(f"no outcome from {component} for {age:.0f} s (it reports every "
                         f"{every:g} s: its poller is stuck)")
    delivery = status.delivery
    if delivery is not None and delivery.overdue_seconds > DELIVERY_OVERDUE_MAX_SECONDS:
        found.append(f"delivery via {delivery.transport} is {delivery.overdue_seconds:.0f} s "
                     "behind (the outbox does not drain)")
    return tuple(found)
