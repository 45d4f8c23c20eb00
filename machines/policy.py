"""The declared debounce, reminder and settle rules of one component's health machine."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields, replace
from types import MappingProxyType
from typing import Any

#: The shortest interval that repeats (reminders, staleness). Timestamps are epoch seconds,
#: where a float resolves only ~2e-7 s: a shorter interval can vanish when added to one,
#: leaving the machine due again at the same instant forever.
MIN_REPEAT_SECONDS = 0.001
#: The longest duration a policy may hold: 30 days. A longer wait says "never" less
#: clearly than 0 does, and a deadline far enough out lies past the year 9999, where the
#: clock cannot follow and the component would freeze.
MAX_SECONDS = 30 * 24 * 3600
#: The most consecutive outcomes a count may ask for: beyond this a duration says it
#: better (`failing_for_seconds`), and a count nobody reaches never alerts or recovers.
MAX_COUNT = 1000
#: The steepest reminder backoff: 10 already goes 15 min, 2.5 h, 25 h before the cap.
MAX_BACKOFF = 10.0


#: The defaults that fit each built-in component: they replace the built-in defaults
#: above, and a key written in `[policy]` or `[policy.<component>]` replaces them
#: (docs/alerting-rules.md, "Defaults per component"):
#: * pixoo: on Wi-Fi a push fails now and then and the next one lands; five failures over
#:   at least 30 s is a device that is really gone, not a dropped packet;
#: * weather: polled every few minutes, so two failures already span a good while;
#: * bus: polled often, and departures are what people look at: three, the plain default.
COMPONENT_DEFAULTS: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    "pixoo": MappingProxyType({"failures_before_alert": 5, "failing_for_seconds": 30.0}),
    "weather": MappingProxyType({"failures_before_alert": 2}),
    "bus": MappingProxyType({"failures_before_alert": 3}),
})


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
    #: Error rate (DESIGN.md, "Error rate"): a failure also alerts when the window holds at
    #: least `error_rate_min_outcomes` outcomes and this share of them failed. 0 = off.
    error_rate_threshold: float = 0.0
    error_rate_window_seconds: float = 900.0
    error_rate_min_outcomes: int = 10
    #: The notification policy's flapping rule (machines/notification.py): the alert that
    #: would be the `flap_alerts`-th sent within `flap_window_seconds` is replaced by one
    #: flapping notice; 0 = off.
    flap_alerts: int = 3
    flap_window_seconds: float = 3600.0
    #: The components this one needs (`[policy.<component>]` only): while one of them has
    #: an open incident whose alert was sent, this one's notices are folded into it.
    depends_on: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("failures_before_alert", "successes_before_recovery",
                     "error_rate_min_outcomes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) \
                    or not 1 <= value <= MAX_COUNT:
                raise PolicyError(name, f"expected a whole number from 1 to {MAX_COUNT}, "
                                        f"got {_shown(value)}")
        self._check_notification_keys()
        for name in ("failing_for_seconds", "remind_after_seconds", "remind_backoff",
                     "remind_max_seconds", "settle_seconds", "stale_after_seconds",
                     "error_rate_threshold", "error_rate_window_seconds",
                     "flap_window_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise PolicyError(name, f"expected a number, got {_shown(value)}")
            # Range tests, not `math.isfinite`: NaN fails them too, and they take an integer
            # of any size, where converting it to a float would overflow.
            if name == "remind_backoff":
                if not 1 <= value <= MAX_BACKOFF:
                    raise PolicyError(name, f"expected >= 1 (reminders never come faster) "
                                            f"and at most {MAX_BACKOFF:g}, got {_shown(value)}")
            elif name == "error_rate_threshold":
                if not 0 <= value <= 1:
                    raise PolicyError(name, f"expected a share from 0 (off) to 1, e.g. 0.3, "
                                            f"got {_shown(value)}")
            elif name == "error_rate_window_seconds":
                if not MIN_REPEAT_SECONDS <= value <= MAX_SECONDS:
                    raise PolicyError(name, f"expected a number of seconds from "
                                            f"{MIN_REPEAT_SECONDS:g} to {MAX_SECONDS} (30 days),"
                                            f" got {_shown(value)}")
            elif not 0 <= value <= MAX_SECONDS:
                raise PolicyError(name, f"expected a finite number of seconds from 0 to "
                                        f"{MAX_SECONDS} (30 days), got {_shown(value)}")
            object.__setattr__(self, name, float(value))
        for name in ("remind_after_seconds", "stale_after_seconds"):
            value = getattr(self, name)
            if 0 < value < MIN_REPEAT_SECONDS:
                raise PolicyError(
                    name, f"expected 0 (off) or at least {MIN_REPEAT_SECONDS:g}, got {value:g}")
        if self.flap_window_seconds < MIN_REPEAT_SECONDS:
            raise PolicyError("flap_window_seconds", f"expected at least "
                                                     f"{MIN_REPEAT_SECONDS:g}, got 0")
        if self.remind_after_seconds > 0 and self.remind_max_seconds < self.remind_after_seconds:
            raise PolicyError(
                "remind_max_seconds",
                f"expected >= remind_after_seconds ({self.remind_after_seconds:g}), "
                f"got {self.remind_max_seconds:g}",
            )

    def _check_notification_keys(self) -> None:
        """`flap_alerts` and `depends_on`: the notification policy's own keys."""
        value = self.flap_alerts
        # One alert is no flapping: the least that says "again and again" is two.
        if isinstance(value, bool) or not isinstance(value, int) \
                or not (value == 0 or 2 <= value <= MAX_COUNT):
            raise PolicyError("flap_alerts", f"expected 0 (off) or a whole number from 2 to "
                                             f"{MAX_COUNT}, got {_shown(value)}")
        names = self.depends_on
        if not isinstance(names, list | tuple) \
                or not all(isinstance(n, str) and n.strip() for n in names):
            raise PolicyError("depends_on", f"expected a list of component names, such as "
                                            f"[\"router\"], got {_shown(names)}")
        object.__setattr__(self, "depends_on", tuple(dict.fromkeys(names)))

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

    @property
    def is_error_rate_on(self) -> bool:
        """True when failures are also judged by their share of the window."""
        return self.error_rate_threshold > 0

    def reminder_interval_seconds(self, reminders_sent: int) -> float:
        """Seconds from reminder `reminders_sent` (0 = the alert) to the next one."""
        if reminders_sent == 0:
            return self.remind_after_seconds
        try:
            raw = self.remind_after_seconds * self.remind_backoff**reminders_sent
        except OverflowError:
            raw = math.inf
        return min(raw, self.remind_max_seconds)


def component_policy(base: Policy, component: str, explicit: Collection[str] = ()) -> Policy:
    """`base` (the `[policy]` table) with the defaults that fit `component`, except for
    the `explicit` keys: those the owner wrote in `[policy]`, which apply to every
    component (a default is what holds where nobody said otherwise)."""
    defaults = COMPONENT_DEFAULTS.get(component)
    if defaults is None:
        return base
    return base.with_overrides({k: v for k, v in defaults.items() if k not in explicit})


def _shown(value: object) -> str:
    """`value` for an error message: an integer too long to read is told by its size."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**21:
        return f"a number of {int(math.log10(abs(value))) + 1} digits"
    return repr(value)
