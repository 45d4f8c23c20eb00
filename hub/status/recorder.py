"""What the owner of the machines remembers for the status picture, and its publication.

The machines know states; the status page and `/metrics` also want the latest notices,
how many of each kind were emitted, each source's latest latency and each threshold's
latest reading, and each machine's state changes of the last day (the timeline).
`StatusRecorder` keeps those on the owner's scheduler (it is not
thread-safe, like the machines) and `publish` freezes everything into a `HubStatus`,
which other threads and the web server read without touching anything mutable.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping

from hub.fleet.model import FleetStatus
from hub.incidents.operations import Silence
from hub.notify.delivery import DeliveryStatus
from hub.sources.channels import ChannelActivity
from hub.status.history import StateHistory
from hub.status.model import HubStatus
from hub.status.stats import ComponentStats
from hub.storage.incidents import held_reason
from machines import Notice, Outcome, Snapshot

#: Enough for an evening's incidents on the page; older ones are in Discord.
RECENT_NOTICES_MAX = 20


class StatusRecorder:
    def __init__(self, hub_name: str, started_at: float,
                 recent_max: int = RECENT_NOTICES_MAX, *,
                 expected_every: Mapping[str, float] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        """`expected_every`: the components that report on a schedule, and how often (s);
        their outcomes' ages are published for the liveness check (hub/status/liveness.py)."""
        self._hub_name = hub_name
        self._started_at = started_at
        self._recent: deque[Notice] = deque(maxlen=recent_max)
        self._held: deque[Notice] = deque(maxlen=recent_max)
        self._held_reasons: Counter[str] = Counter()
        self._kinds: Counter[str] = Counter()
        self._latency: dict[str, float] = {}
        self._values: dict[str, float] = {}
        self._expected_every = dict(expected_every or {})
        self._monotonic = monotonic
        started = monotonic()
        self._heard_at = {component: started for component in self._expected_every}
        #: State changes seen while publishing; a restart may `record` journaled ones first.
        self.history = StateHistory()
        self.stats = ComponentStats()
        self.latest = HubStatus(hub_name, started_at, started_at, (), None, 0)

    def notice(self, notice: Notice) -> None:
        """A notice was emitted (call it where notices are put into the outbox)."""
        self._recent.append(notice)
        self._kinds[notice.kind.value] += 1

    def held(self, notice: Notice) -> None:
        """The notification policy held or folded a notice (it journals it too)."""
        self._held.append(notice)
        self._held_reasons[held_reason(notice).split(" ")[0]] += 1

    def outcome(self, outcome: Outcome) -> None:
        """An outcome is on its way to the machines."""
        if outcome.component in self._heard_at:
            self._heard_at[outcome.component] = self._monotonic()
        self.stats.observe(outcome)
        if outcome.latency_seconds is not None:
            self._latency[outcome.component] = outcome.latency_seconds
        if isinstance(outcome.data, float):  # a threshold reading (see ThresholdMonitor.judge)
            self._values[outcome.component] = outcome.data

    def publish(self, at: float, machines: Iterable[Snapshot], delivery: DeliveryStatus | None,
                outbox_depth: int, discord_latency_seconds: float | None = None,
                channels: tuple[ChannelActivity, ...] = (),
                storage_problem: str | None = None,
                pipeline_lag_seconds: float = 0.0,
                incidents: tuple[tuple[str, str], ...] = (),
                silences: tuple[Silence, ...] = (),
                notifications: bool = True,
                fleet: FleetStatus | None = None) -> HubStatus:
        """Freeze the picture at `at`; it is also kept as `latest` for the web server.

        `channels`: the watched Discord channels' counters (`ChannelWatch.activity`);
        `storage_problem`, `pipeline_lag_seconds`, `incidents`, `silences`,
        `notifications` and `fleet`: see `HubStatus`."""
        snapshots = tuple(machines)
        self.history.observe(snapshots, at)
        self.latest = HubStatus(
            hub_name=self._hub_name, at=at, started_at=self._started_at,
            machines=snapshots, delivery=delivery, outbox_depth=outbox_depth,
            discord_latency_seconds=discord_latency_seconds,
            recent_notices=tuple(self._recent),
            notices_by_kind=tuple(sorted(self._kinds.items())),
            source_latency_seconds=tuple(sorted(self._latency.items())),
            values=tuple(sorted(self._values.items())),
            history=self.history.freeze(),
            channels=channels,
            storage_problem=storage_problem,
            pipeline_lag_seconds=pipeline_lag_seconds,
            outcome_ages=self._outcome_ages(),
            incidents=incidents, silences=silences,
            held_notices=tuple(self._held),
            held_by_reason=tuple(sorted(self._held_reasons.items())),
            notifications=notifications,
            stats=self.stats.freeze(at),
            fleet=fleet or FleetStatus(),
        )
        return self.latest

    def _outcome_ages(self) -> tuple[tuple[str, float, float], ...]:
        now = self._monotonic()
        return tuple((component, max(now - heard, 0.0), self._expected_every[component])
                     for component, heard in sorted(self._heard_at.items()))
