"""The declared debounce, reminder and settle rules of one component's health machine."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

#: The shortest interval that repeats (reminders, staleness). Timestamps are epoch seconds,
#: where a float resolves only ~2e-7 s: a shorter interval can vanish when added to one,
#: leaving the machine due again at the same instant forever.
MIN_REPEAT_SECONDS = 0.001


class PolicyError(ValueError):
    """A policy value is invalid; `key` names the offending key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


@dataclass(frozen=True, slots=True)
class Policy:
    """Keys, defaults and meaning are the contract in DESIGN.md ("The health machine")."""

    failures_before_alert: int = 3
    failing_for_seconds: float = 0.0
    successes_before_recovery: int = 1
    remind_after_seconds: float = 900.0  # 0 = never remind
    remind_backoff: float = 2.0
    remind_max_seconds: float = 14400.0
    settle_seconds: float = 300.0
    stale_after_seconds: float = 0.0  # 0 = silence is never a failure

    def __post_init__(self) -> None:
        for name in ("failures_before_alert", "successes_before_recovery"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise PolicyError(name, f"expected a whole number >= 1, got {value!r}")
            if value < 1:
                raise PolicyError(name, f"expected a whole number >= 1, got {value}")
        for name in ("failing_for_seconds", "remind_after_seconds", "remind_backoff",
                     "remind_max_seconds", "settle_seconds", "stale_after_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise PolicyError(name, f"expected a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise PolicyError(name, f"expected a finite number >= 0, got {value}")
            object.__setattr__(self, name, float(value))
        for name in ("remind_after_seconds", "stale_after_seconds"):
            value = getattr(self, name)
            if 0 < value < MIN_REPEAT_SECONDS:
                raise PolicyError(
                    name, f"expected 0 (off) or at least {MIN_REPEAT_SECONDS:g}, got {value:g}")
        if self.remind_backoff < 1:
            raise PolicyError(
                "remind_backoff",
                f"expected >= 1 (reminders never come faster), got {self.remind_backoff}",
            )
        if self.remind_after_seconds > 0 and self.remind_max_seconds < self.remind_after_seconds:
            raise PolicyError(
                "remind_max_seconds",
                f"expected >= remind_after_seconds ({self.remind_after_seconds:g}), "
                f"got {self.remind_max_seconds:g}",
            )

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def with_overrides(self, overrides: Mapping[str, Any]) -> Policy:
        """This policy with some keys replaced; unknown keys raise `PolicyError`."""
        known = set(self.keys())
        for key in overrides:
            if key not in known:
                raise PolicyError(key, f"unknown policy key (known: {', '.join(sorted(known))})")
        return replace(self, **dict(overrides))

    def reminder_interval_seconds(self, reminders_sent: int) -> float:
        """Seconds from reminder `reminders_sent` (0 = the alert) to the next one."""
        if reminders_sent == 0:
            return self.remind_after_seconds
        try:
            raw = self.remind_after_seconds * self.remind_backoff**reminders_sent
        except OverflowError:
            raw = math.inf
        return min(raw, self.remind_max_seconds)
