"""What holds a component's notices for a while: operators' mutes and maintenance windows.

Plain data and the rules of DESIGN.md ("Silences", "Precise rules"), read by the
notification policy (machines/notification.py):

* a mute covers `[start, end)`; `*` mutes every component, present and future ones;
* a new mute replaces the old end time: `mute c` replaces c's, `mute *` every one's;
* `unmute c` lifts any mute on c, a `mute *` included (for c alone); `unmute *` lifts all;
* maintenance windows arrive as occurrences `[start, end)` already computed from
  `[[maintenance]]` in the hub's timezone (hub/maintenance.py): this module never sees a
  calendar.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from machines.notice import HeldReason

#: The target meaning every component, in commands, the API and `replay`.
ALL = "*"
#: The longest mute (DESIGN.md): longer, and the owner forgets what they silenced.
MAX_MUTE_SECONDS = 7 * 24 * 3600
#: `30m`, `2h`, `1d`, `1h30m`, `90s`: whole numbers of days, hours, minutes, seconds.
_DURATION = re.compile(r"(?:(?P<d>[0-9]{1,4})d)?(?:(?P<h>[0-9]{1,5})h)?"
                       r"(?:(?P<m>[0-9]{1,6})m)?(?:(?P<s>[0-9]{1,7})s)?")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> float:
    """Seconds in a duration as operators write it (`30m`, `2h`, `1d`, `1h30m`, `90s`);
    `ValueError` saying what is expected otherwise."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None or not any(match.groups()):
        raise ValueError(f"expected a duration such as 30m, 2h, 1d or 1h30m, got {text!r}")
    return float(sum(int(value) * _UNIT_SECONDS[unit]
                     for unit, value in match.groupdict().items() if value))


@dataclass(frozen=True, slots=True)
class Mute:
    """An operator's mute of `target` (a component or `*`) over `[start, end)`.

    A mute with `end == start` covers nothing: it is what `unmute c` leaves while a
    `mute *` is in force, so that c alone is lifted.
    """

    target: str
    start: float
    end: float
    by: str = ""
    reason: str = ""

    def covers(self, now: float) -> bool:
        return self.start <= now < self.end

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "start": self.start, "end": self.end, "by": self.by,
                "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Mute:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Window:
    """One occurrence of a maintenance window: `[start, end)` for `components` (or `*`)."""

    start: float
    end: float
    components: frozenset[str] = frozenset({ALL})
    reason: str = ""

    def applies_to(self, component: str) -> bool:
        return ALL in self.components or component in self.components

    def covers(self, now: float) -> bool:
        return self.start <= now < self.end


class Silences:
    """The mutes in force and the maintenance windows, as of the calls made so far.

    Not thread-safe by design: its owner (the notification policy) runs on the one
    scheduler that owns time.
    """

    def __init__(self, windows: Iterable[Window] = (), mutes: Iterable[Mute] = ()) -> None:
        self._all: Mute | None = None
        #: Mutes (and lifts) of single components, each newer than `_all`.
        self._own: dict[str, Mute] = {}
        for mute in mutes:
            if mute.target == ALL:
                self._all = mute
            else:
                self._own[mute.target] = mute
        self._windows: tuple[Window, ...] = ()
        self._starts: list[float] = []
        self._longest = 0.0
        self.set_windows(windows)

    # -- maintenance windows ---------------------------------------------------------

    def set_windows(self, windows: Iterable[Window]) -> None:
        """Replace the known occurrences (the owner may extend them as time goes on)."""
        self._windows = tuple(sorted((w for w in windows if w.end > w.start),
                                     key=lambda w: (w.start, w.end)))
        self._starts = [w.start for w in self._windows]
        self._longest = max((w.end - w.start for w in self._windows), default=0.0)

    def windows_on(self, component: str, now: float) -> Iterator[Window]:
        """The occurrences covering `component` at `now`, latest start first."""
        index = bisect_right(self._starts, now)
        while index > 0:
            index -= 1
            window = self._windows[index]
            if window.start <= now - self._longest:
                return  # earlier ones ended before now: none lasts longer than the longest
            if window.covers(now) and window.applies_to(component):
                yield window

    def windows_at(self, now: float) -> list[Window]:
        """Every occurrence under way at `now`, whatever it covers, earliest start first."""
        index = bisect_right(self._starts, now)
        return [w for w in self._windows[:index] if w.covers(now)]

    def window_on(self, component: str, now: float) -> Window | None:
        return next(self.windows_on(component, now), None)

    # -- mutes -----------------------------------------------------------------------

    def mute(self, mute: Mute) -> None:
        """Put `mute` in force; it replaces the end of whatever muted its target before."""
        if mute.target == ALL:
            self._all = mute
            self._own.clear()  # every component's end is replaced
        else:
            self._own[mute.target] = mute

    def unmute(self, target: str, now: float) -> bool:
        """Lift the mute on `target` (`*`: all) at `now`; False if nothing was muted."""
        if target == ALL:
            was_muted = any(m.covers(now) for m in self.mutes())
            self._all = None
            self._own.clear()
            return was_muted
        was_muted = self.mute_on(target, now) is not None
        if self._all is not None and self._all.end > now:
            # c alone comes out from under the `mute *`: an empty mute of its own
            self._own[target] = Mute(target, now, now)
        else:
            self._own.pop(target, None)
        return was_muted

    def mute_on(self, component: str, now: float) -> Mute | None:
        """The mute covering `component` at `now`, if any."""
        mute = self._own.get(component, self._all)
        return mute if mute is not None and mute.covers(now) else None

    def mutes(self) -> tuple[Mute, ...]:
        """Every mute held (some may have ended), `*` first: what a snapshot keeps."""
        return ((self._all,) if self._all is not None else ()) + tuple(self._own.values())

    def prune(self, now: float) -> None:
        """Forget mutes that ended and no longer override anything."""
        if self._all is not None and self._all.end > now:
            return  # an ended mute of c still says c is out from under the `mute *`
        self._all = None
        self._own = {c: m for c, m in self._own.items() if m.end > now}

    # -- both ------------------------------------------------------------------------

    def reason(self, component: str, now: float) -> HeldReason | None:
        """What silences `component` at `now`: a mute before a maintenance window."""
        if self.mute_on(component, now) is not None:
            return HeldReason.MUTE
        if self.window_on(component, now) is not None:
            return HeldReason.MAINTENANCE
        return None

    def next_end(self, component: str, now: float) -> float | None:
        """The earliest end after `now` of a silence covering `component` at `now`."""
        ends = [w.end for w in self.windows_on(component, now)]
        mute = self.mute_on(component, now)
        if mute is not None:
            ends.append(mute.end)
        return min(ends) if ends else None
