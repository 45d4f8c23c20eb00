"""`[[monitor]]` kind `heartbeat`: a device or a job that says "I am alive" on a schedule.

The device calls `POST /ping/<name>` (served by `hub.web.server`); each ping is a success
`Outcome`. Silence is detected by the health machine itself: the component's policy gets
`stale_after_seconds = period_seconds + grace_seconds`, so every stretch of that much
silence counts as one failure (`error_type = "stale"`). The grace is the heartbeat's
debounce, so the first missed ping alerts: the policy's `failures_before_alert` is 1 and
its `failing_for_seconds` 0, unless `[policy.<name>]` sets them (then each further missed
period counts as one more failure). The machine must be added before the pipeline is
subscribed (`HealthMachines.add`), so that a device that never pings at all is caught too.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.settings_table import Table
from machines import Outcome, Policy

KIND = "heartbeat"
#: Without `grace_seconds`, a ping may be late by this share of its period: a nightly
#: backup that runs long is late, not missing (a day's period allows 2.4 hours) …
GRACE_SHARE = 0.1
#: … and by a minute at least, so a job pinging every minute survives a slow start.
MIN_GRACE_SECONDS = 60.0
#: The debounce a heartbeat has unless `[policy.<name>]` sets it: the grace already
#: waited, so a missed ping is no blip to debounce again.
ALERT_AT_ONCE: Mapping[str, Any] = {"failures_before_alert": 1, "failing_for_seconds": 0.0}


def default_grace_seconds(period_seconds: float) -> float:
    """The grace when `grace_seconds` is not given (see GRACE_SHARE)."""
    return max(period_seconds * GRACE_SHARE, MIN_GRACE_SECONDS)


@dataclass(frozen=True, slots=True)
class HeartbeatMonitor:
    """One configured heartbeat: a ping is expected at least every `period_seconds`."""

    name: str
    period_seconds: float
    grace_seconds: float

    @property
    def silence_limit_seconds(self) -> float:
        """Silence longer than this is a failure."""
        return self.period_seconds + self.grace_seconds

    def policy(self, base: Policy, owner_keys: Collection[str] = ()) -> Policy:
        """`base` (the component's policy) with staleness set from period + grace, alerting
        at the first missed ping unless the owner's `[policy.<name>]` (whose keys are
        `owner_keys`) says otherwise."""
        at_once = {key: value for key, value in ALERT_AT_ONCE.items() if key not in owner_keys}
        return base.with_overrides(
            {**at_once, "stale_after_seconds": self.silence_limit_seconds})

    def ping(self, at: float) -> Outcome:
        return Outcome.success(self.name, at)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], path: Path, index: int) -> HeartbeatMonitor:
        """Validate one `[[monitor]]` table (without `kind`); errors name file and key."""
        reader = Table.monitor(table, path, index, KIND)
        reader.only_keys({"name", "period_seconds", "grace_seconds"})
        # The period is required: only the owner knows how often the job runs.
        period_seconds = reader.number(
            "period_seconds", above=0, meaning="how often the device pings, in seconds")
        return cls(
            name=reader.name(),
            period_seconds=period_seconds,
            grace_seconds=reader.number(
                "grace_seconds", default_grace_seconds(period_seconds), minimum=0,
                meaning="how late a ping may be before it counts as missed"),
        )
