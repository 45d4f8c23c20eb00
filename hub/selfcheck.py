"""The hub's own component, `hub`: what keeps the hub from doing its job, as outcomes.

A monitor that stops watching while it says "healthy" is the worst failure it can have,
so the hub watches itself like anything else. Every `SELF_CHECK_SECONDS` the daemon asks
`SelfCheck.check` for an `Outcome` of the component `hub` and feeds it to the machines:

* a failure while `state_dir` refuses writes (`state_dir is full: notices kept in memory,
  3 waiting`): the outbox and the journal keep what the disk refused in memory, and
  each check first tries to write it (`flush`), so freeing the disk recovers by itself;
* a failure when handling an outcome, a timer or a delivery raised since the last check
  (`error handling an outcome of web: OverflowError: …`): the stream went on with the
  next one, and the first of each kind was logged with its traceback;
* a success otherwise.

The `hub` machine debounces, alerts, reminds and recovers on these under
`[policy.hub]`, like any component. Because its outcomes travel the same stream as every
source's, a `hub` whose last outcome is old also means the pipeline itself is stuck
(`hub.status.liveness`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from machines import Outcome

log = logging.getLogger(__name__)

#: The hub's own component name (reserved: no `[[monitor]]` may take it).
HUB_COMPONENT = "hub"
#: Often enough that a full disk alerts within a minute with the default policy (three
#: failures), rarely enough to cost nothing: one flush attempt and one outcome.
SELF_CHECK_SECONDS = 10.0
#: Error types of the `hub` component's failures.
STORAGE, EXCEPTION = "state_dir", "exception"


class Storage(Protocol):
    """What keeps writes the disk refused: the outbox, the journaled machines."""

    write_error: str | None


class HeldOutbox(Storage, Protocol):
    @property
    def held(self) -> int: ...

    def flush(self) -> bool: ...


class HeldJournal(Storage, Protocol):
    def flush(self, now: float) -> bool: ...


class SelfCheck:
    """Faults reported as they happen, and one `hub` outcome per check (on the loop)."""

    def __init__(self, outbox: HeldOutbox, journal: HeldJournal,
                 monotonic: Callable[[], float] = time.monotonic, *,
                 journals: Sequence[HeldJournal] = ()) -> None:
        """`journal` is the machines'; `journals` any other journal kept the same way (the
        notification policy's, hub/storage/incidents.py)."""
        self._outbox = outbox
        self._journals = (journal, *journals)
        self._monotonic = monotonic
        #: The oldest check not yet seen by the machines: (its `at`, sent on `monotonic`).
        self._in_flight: tuple[float, float] | None = None
        self._faults: list[str] = []
        self._logged: set[tuple[str, str]] = set()

    def fault(self, where: str, error: Exception) -> None:
        """An exception while handling `where`; the stream went on. Logged once per kind."""
        kind = (where, type(error).__name__)
        if kind not in self._logged:
            self._logged.add(kind)
            log.error("error handling %s (the hub goes on; further errors of this kind are "
                      "counted in the hub component, not logged)", where, exc_info=error)
        self._faults.append(f"error handling {where}: {type(error).__name__}: "
                            f"{str(error)[:200]}")

    def check(self, now: float) -> Outcome:
        """Write what waits in memory if the disk takes it now; the `hub` outcome at `now`."""
        self._outbox.flush()
        for journal in self._journals:
            journal.flush(now)
        faults, self._faults = self._faults, []
        if self._in_flight is None:
            self._in_flight = (now, self._monotonic())
        problem = self.storage_problem
        if problem is not None:
            return Outcome.failure(HUB_COMPONENT, now, STORAGE, problem)
        if faults:
            more = f" (and {len(faults) - 1} more)" if len(faults) > 1 else ""
            return Outcome.failure(HUB_COMPONENT, now, EXCEPTION, faults[-1] + more)
        return Outcome.success(HUB_COMPONENT, now)

    def pipeline_lag(self, last_seen_at: float) -> float:
        """How long the oldest check has waited to reach the machines (0: it arrived).

        `last_seen_at` is the `hub` machine's: the time of the latest outcome it handled.
        """
        if self._in_flight is None:
            return 0.0
        at, sent = self._in_flight
        if last_seen_at >= at:
            self._in_flight = None
            return 0.0
        return max(self._monotonic() - sent, 0.0)

    @property
    def storage_problem(self) -> str | None:
        """`state_dir is full: notices kept in memory, 3 waiting`, or None while writes work."""
        error = self._outbox.write_error or next(
            (j.write_error for j in self._journals if j.write_error is not None), None)
        if error is None:
            return None
        held = self._outbox.held
        return f"{error}: notices kept in memory" + (f", {held} waiting" if held else "")
