"""`[[monitor]]` kind `heartbeat`: a device or a job that says "I am alive" on a schedule.

The device calls `POST /ping/<name>` (served by `hub.web`); each ping is a success
`Outcome`. Silence is detected by the health machine itself: the component's policy gets
`stale_after_seconds = period_seconds + grace_seconds`, so every stretch of that much
silence counts as one failure (`error_type = "stale"`), and the usual debounce applies
(`failures_before_alert`, default 3: set `[policy.<name>] failures_before_alert = 1` to
alert at the first missed ping). The machine must be added before the pipeline is
subscribed (`HealthMachines.add`), so that a device that never pings at all is caught too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hub.settings_table import Table
from machines import Outcome, Policy

KIND = "heartbeat"


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

    def policy(self, base: Policy) -> Policy:
        """`base` (the component's `[policy]`) with staleness set from period + grace."""
        return replace(base, stale_after_seconds=self.silence_limit_seconds)

    def ping(self, at: float) -> Outcome:
        return Outcome.success(self.name, at)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], path: Path, index: int) -> HeartbeatMonitor:
        """Validate one `[[monitor]]` table (without `kind`); errors name file and key."""
        reader = Table.monitor(table, path, index, KIND)
        reader.only_keys({"name", "period_seconds", "grace_seconds"})
        # Both are required: a guessed default would silently decide when you get alerted.
        return cls(
            name=reader.name(),
            period_seconds=reader.number(
                "period_seconds", above=0, meaning="how often the device pings, in seconds"),
            grace_seconds=reader.number(
                "grace_seconds", minimum=0,
                meaning="how late a ping may be before it counts as missed"),
        )
