"""The numbers people ask for, per component: latency p50/p95/p99 over the last hour,
uptime % over 24 h and 7 days, and failures by error type.

`ComponentStats` lives with the owner of the machines (not thread-safe, like them): the
recorder feeds it every outcome and `freeze` gives the immutable `Stats` that go into
`HubStatus` for `status`, `/api/status`, `/metrics` and the page.

Memory is bounded whatever the polling rate (docs/alerting-rules.md, "Numbers"):

* latency: one bucket per minute for the last hour, each a count per latency bin, the
  bins 2^(1/8) apart (9 % wide) from 1 ms: at most 60 × ~140 counts per component. A
  percentile is the upper edge of the bin it falls in, so it is at most 9 % high, never
  low (a limit set from it holds);
* uptime: the share of successful outcomes, in 10-minute buckets for 7 days (1008
  buckets of two counts); the 24 h figure is the last 144 of them, so the window's edge
  is exact to 10 minutes;
* failures by error type: one count per type since start (a source has a handful).
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass

from machines import Outcome

MINUTE_SECONDS = 60.0
HOUR_SECONDS = 3600.0
#: Uptime buckets: 10 minutes keeps 7 days in 1008 buckets, and is finer than any
#: outage anyone reads an uptime figure for.
UPTIME_BUCKET_SECONDS = 600.0
DAY_SECONDS = 24 * HOUR_SECONDS
WEEK_SECONDS = 7 * DAY_SECONDS
#: Latency bins: 8 per doubling (each 9 % wide), from 1 ms; anything faster is 1 ms.
BINS_PER_DOUBLING = 8
SMALLEST_LATENCY_SECONDS = 0.001
PERCENTILES = (50, 95, 99)


def _bin(latency_seconds: float) -> int:
    if latency_seconds <= SMALLEST_LATENCY_SECONDS:
        return 0
    return math.ceil(BINS_PER_DOUBLING * math.log2(latency_seconds / SMALLEST_LATENCY_SECONDS))


def _upper_edge(index: int) -> float:
    return SMALLEST_LATENCY_SECONDS * 2 ** (index / BINS_PER_DOUBLING)


@dataclass(frozen=True, slots=True)
class Stats:
    """One component's numbers at `HubStatus.at`; None where nothing was measured."""

    component: str
    #: (p50, p95, p99) of the latencies of the last hour, seconds; None without any.
    latency_seconds: tuple[float, float, float] | None
    latency_count: int
    #: Successful outcomes / all outcomes, percent, over 24 h and 7 days.
    uptime_24h_percent: float | None
    uptime_7d_percent: float | None
    #: Failures since start by error type: ((error_type, count), ...), sorted by type.
    failures_by_type: tuple[tuple[str, int], ...]

    def words(self) -> str:
        """`p50 120 ms · p95 410 ms · p99 900 ms · up 99.2 % (24 h), 98.9 % (7 d) ·
        failures: timeout 3, http_503 1`: the status reply and the page say it alike."""
        parts = []
        if self.latency_seconds is not None:
            parts.append(" · ".join(f"p{p} {_ms(v)}"
                                    for p, v in zip(PERCENTILES, self.latency_seconds,
                                                    strict=True)))
        if self.uptime_24h_percent is not None and self.uptime_7d_percent is not None:
            parts.append(f"up {self.uptime_24h_percent:.1f} % (24 h), "
                         f"{self.uptime_7d_percent:.1f} % (7 d)")
        if self.failures_by_type:
            parts.append("failures: " + ", ".join(f"{error} {count}"
                                                   for error, count in self.failures_by_type))
        return " · ".join(parts)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


class ComponentStats:
    """The bounded per-minute and per-10-minute buckets of every component."""

    def __init__(self) -> None:
        self._latency: dict[str, deque[tuple[int, Counter[int]]]] = {}
        self._uptime: dict[str, deque[list[int]]] = {}  # [bucket, ok, total]
        self._failures: dict[str, Counter[str]] = {}
        #: The last `Stats` of each component, with the outcome count and the minute it
        #: was computed for: publishing runs every second, and a component whose buckets
        #: did not change in the same minute has the same numbers.
        self._frozen: dict[str, tuple[int, int, Stats]] = {}
        self._seen: Counter[str] = Counter()

    def observe(self, outcome: Outcome) -> None:
        component, at = outcome.component, outcome.at
        self._seen[component] += 1
        if outcome.latency_seconds is not None:
            minutes = self._latency.setdefault(component, deque())
            minute = int(at // MINUTE_SECONDS)
            if not minutes or minutes[-1][0] != minute:
                minutes.append((minute, Counter()))
                while minutes[0][0] <= minute - HOUR_SECONDS / MINUTE_SECONDS:
                    minutes.popleft()
            minutes[-1][1][_bin(outcome.latency_seconds)] += 1
        buckets = self._uptime.setdefault(component, deque())
        bucket = int(at // UPTIME_BUCKET_SECONDS)
        if not buckets or buckets[-1][0] != bucket:
            buckets.append([bucket, 0, 0])
            while buckets[0][0] <= bucket - WEEK_SECONDS / UPTIME_BUCKET_SECONDS:
                buckets.popleft()
        buckets[-1][1] += outcome.ok
        buckets[-1][2] += 1
        if not outcome.ok:
            self._failures.setdefault(component, Counter())[outcome.error_type or "error"] += 1

    def freeze(self, at: float) -> tuple[Stats, ...]:
        minute = int(at // MINUTE_SECONDS)
        result = []
        for component in sorted(self._seen):
            seen = self._seen[component]
            frozen = self._frozen.get(component)
            if frozen is None or frozen[0] != seen or frozen[1] != minute:
                frozen = (seen, minute, self._stats(component, at))
                self._frozen[component] = frozen
            result.append(frozen[2])
        return tuple(result)

    def _stats(self, component: str, at: float) -> Stats:
        counts: Counter[int] = Counter()
        first_minute = int(at // MINUTE_SECONDS) - int(HOUR_SECONDS / MINUTE_SECONDS) + 1
        for minute, bins in self._latency.get(component, ()):
            if minute >= first_minute:
                counts.update(bins)
        total = sum(counts.values())
        return Stats(
            component=component,
            latency_seconds=_percentiles(counts, total) if total else None,
            latency_count=total,
            uptime_24h_percent=self._uptime_percent(component, at, DAY_SECONDS),
            uptime_7d_percent=self._uptime_percent(component, at, WEEK_SECONDS),
            failures_by_type=tuple(sorted(self._failures.get(component, Counter()).items())),
        )

    def _uptime_percent(self, component: str, at: float, span: float) -> float | None:
        first = int(at // UPTIME_BUCKET_SECONDS) - int(span / UPTIME_BUCKET_SECONDS) + 1
        ok = total = 0
        for bucket, good, seen in self._uptime.get(component, ()):
            if bucket >= first:
                ok += good
                total += seen
        return 100.0 * ok / total if total else None


def _percentiles(counts: Counter[int], total: int) -> tuple[float, float, float]:
    """The upper edges of the bins holding p50, p95 and p99 (nearest rank)."""
    ranks = [max(1, math.ceil(p / 100 * total)) for p in PERCENTILES]
    found: list[float] = []
    seen = 0
    for index in sorted(counts):
        seen += counts[index]
        while len(found) < len(ranks) and seen >= ranks[len(found)]:
            found.append(_upper_edge(index))
    return found[0], found[1], found[2]
