"""Slow answers: a success slower than `slow_after_seconds` is a failure of type `slow`.

One rule for every source that has the setting (`[[monitor]] kind = "http"`, `[bus]`,
`[weather]`): the latency the source measured with its injected clock is judged here, so
the words ("answered in 9.2 s, limit 5 s") and the reading of the key are the same for all.
"""

from __future__ import annotations

from dataclasses import replace

from hub.settings_table import Table
from machines import Outcome

SLOW = "slow"
KEY = "slow_after_seconds"


def judged_for_speed(outcome: Outcome, slow_after_seconds: float) -> Outcome:
    """`outcome`, or a failure `slow` when it succeeded slower than the limit (0 = off).

    The data it fetched is kept: a slow forecast is still the forecast for the display.
    """
    latency = outcome.latency_seconds
    if not outcome.ok or slow_after_seconds <= 0 or latency is None \
            or latency <= slow_after_seconds:
        return outcome
    return replace(outcome, ok=False, error_type=SLOW,
                   detail=f"answered in {latency:.1f} s, limit {slow_after_seconds:g} s")


def read_slow_after(table: Table, timeout_seconds: float) -> float:
    """`slow_after_seconds` of a section (0, the default, is off); below the timeout, since
    an answer slower than the timeout is a `timeout`, never a slow success."""
    value = table.number(KEY, 0.0, minimum=0.0, meaning="0 = off")
    if value >= timeout_seconds:
        raise table.expected(KEY, f"0 (off) or a number of seconds below timeout_seconds "
                                  f"({timeout_seconds:g})", value)
    return value

