"""The journal: machine state and transition history, so a restart resumes open incidents.

It lives in the outbox's SQLite file (`<state_dir>/outbox.sqlite`), in tables of its own,
and only the daemon's loop writes it (the owner of the machines, DESIGN.md rule 2):

* `journal_machine`: the latest `Snapshot` of every machine, as JSON.
* `journal_history`: one row per transition (component, from, to, at, the notices it
  emitted), pruned after `[hub] history_days`.
* `journal_run`: when this run started, its heartbeat (the last time the loop was known
  alive) and when it stopped cleanly (NULL while it runs, and after a crash).

What is written when (docs/restart.md has the reasoning and the measured cost):

* at once, when a machine changes state or emits a notice: its snapshot and a history
  row. Everything that decides *when* the next notice comes and what it says about the
  incident (`state`, `since`, `first_failure_at`, `next_reminder_at`, `reminders_sent`)
  changes only there, so it is always exact on disk;
* with the heartbeat, every `BEAT_SECONDS`: the snapshots that changed without a
  transition (the counters, `last_seen_at`, `last_success_at`, the latest error);
* on a clean stop: every snapshot, and the stop marker.

The connection runs with `synchronous=NORMAL`: a commit survives a crash or `kill -9` of
the hub, and costs no fsync of its own on the SD card. The outbox commits each notice
with `synchronous=FULL`, and that fsync covers the write-ahead log both share, so a
transition that emitted a notice is on disk as soon as its notice is. Only a power cut
can lose the rest of the latest writes, and then the machine resumes from the one before.

`JournaledMachines` are `HealthMachines` that journal themselves as they move, and on
start `resume` from the journal. After an unclean stop or a long gap they add one
**offline** notice (`offline_notice`) once the first round of outcomes is in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.formatting import duration, utc_time
from hub.storage.database import describe_write_error, open_database, transaction
from hub.trouble import Trouble
from machines import (
    HealthMachines,
    HealthState,
    Notice,
    NoticeKind,
    Outcome,
    Policy,
    Snapshot,
    Transition,
)

log = logging.getLogger(__name__)

#: How often the loop proves it alive and writes the snapshots that changed without a
#: transition. 30 s bounds what a crash forgets (counters, not incidents) and costs one
#: small unsynced transaction per beat (docs/restart.md, "What it costs the SD card").
BEAT_SECONDS = 30.0
#: A restart later than this after the last sign of life is reported as an offline gap
#: even after a clean stop: four missed beats is more than a service restart or a reboot.
OFFLINE_GAP_SECONDS = 120.0
#: The offline notice waits this long at most for the first outcome of every component
#: that was failing before the gap: the first poll of every source runs at start, so a
#: minute covers slow answers and timeouts; a silent one is then listed as such.
RECONCILE_WAIT_SECONDS = 60.0
#: A week of transitions is what the timeline and a look back at last weekend need.
DEFAULT_HISTORY_DAYS = 7.0
#: Pruning deletes only what aged out since the last pruning: once an hour is plenty.
PRUNE_EVERY_SECONDS = 3600.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS journal_machine (
    component TEXT PRIMARY KEY,
    snapshot TEXT NOT NULL,
    written_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS journal_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    component TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    at REAL NOT NULL,
    notices TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS journal_history_at ON journal_history (at);
CREATE TABLE IF NOT EXISTS journal_run (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    started_at REAL NOT NULL,
    alive_at REAL NOT NULL,
    stopped_at REAL
);
"""

#: The columns the journal reads, per table (hub/storage/state_file.py checks a file has them).
COLUMNS = {
    "journal_machine": ("component", "snapshot", "written_at"),
    "journal_history": ("id", "component", "from_state", "to_state", "at", "notices"),
    "journal_run": ("id", "started_at", "alive_at", "stopped_at"),
}


@dataclass(frozen=True, slots=True)
class PreviousRun:
    """What the journal remembers of the run before this one."""

    started_at: float
    #: The latest sign of life: the heartbeat, or a later journal write.
    alive_at: float
    #: When it stopped cleanly (every snapshot saved); None after a crash or kill.
    stopped_at: float | None

    @property
    def is_clean(self) -> bool:
        return self.stopped_at is not None

    @property
    def last_alive_at(self) -> float:
        return self.stopped_at if self.stopped_at is not None else self.alive_at


@dataclass(frozen=True, slots=True)
class Gap:
    """The hub was not running from `offline_from` to `offline_until`."""

    offline_from: float
    offline_until: float
    was_clean: bool

    @property
    def seconds(self) -> float:
        return max(self.offline_until - self.offline_from, 0.0)


@dataclass(frozen=True, slots=True)
class Resumed:
    """What `JournaledMachines.resume` did."""

    restored: tuple[str, ...] = ()
    #: Journaled components that are no longer configured: their state was dropped.
    dropped: tuple[str, ...] = ()
    previous: PreviousRun | None = None
    #: Set when an offline notice will be sent (unclean stop, or a long gap).
    gap: Gap | None = None


class Journal:
    """The journal's tables in the outbox's SQLite file; use from one thread (the loop)."""

    def __init__(self, path: Path | str, *, history_days: float = DEFAULT_HISTORY_DAYS) -> None:
        self.path = Path(path)
        self.history_days = history_days
        # See the module docstring: a crash loses nothing; a notice's fsync covers us.
        self._db = open_database(path, SCHEMA, synchronous="NORMAL")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------

    def snapshots(self) -> list[Snapshot]:
        """Every journaled snapshot that can be read; an unreadable row is logged, skipped."""
        result: list[Snapshot] = []
        for component, text in self._db.execute(
                "SELECT component, snapshot FROM journal_machine ORDER BY component"):
            try:
                snapshot = Snapshot.from_dict(json.loads(text))
            except (ValueError, TypeError, KeyError) as err:
                log.warning("journal: the saved state of %s is unreadable (%s); it starts "
                            "afresh", component, err)
                continue
            result.append(snapshot)
        return result

    def history(self, since: float = -math.inf,
                component: str | None = None) -> list[Transition]:
        """Transitions at or after `since`, oldest first (optionally of one component)."""
        where: list[str] = ["1"]
        args: list[float | str] = []
        if since > -math.inf:
            where.append("at >= ?")
            args.append(since)
        if component is not None:
            where.append("component = ?")
            args.append(component)
        rows = self._db.execute(
            "SELECT component, from_state, to_state, at, notices FROM journal_history "
            f"WHERE {' AND '.join(where)} ORDER BY id", args).fetchall()
        return [Transition(component=row[0], from_state=HealthState(row[1]),
                           to_state=HealthState(row[2]), at=row[3],
                           notices=tuple(Notice.from_dict(n) for n in json.loads(row[4])))
                for row in rows]

    def previous_run(self) -> PreviousRun | None:
        row = self._db.execute(
            "SELECT started_at, alive_at, stopped_at FROM journal_run WHERE id = 1").fetchone()
        if row is None:
            return None
        # A transition written after the last beat is a later sign of life.
        latest = self._db.execute("SELECT MAX(written_at) FROM journal_machine").fetchone()[0]
        alive_at = max(row[1], latest) if latest is not None else row[1]
        return PreviousRun(started_at=row[0], alive_at=alive_at, stopped_at=row[2])

    # -- writing ---------------------------------------------------------------------

    def begin_run(self, now: float) -> PreviousRun | None:
        """Mark a new run as started (and not yet stopped); return the previous one."""
        previous = self.previous_run()
        with self._transaction():
            self._db.execute(
                "INSERT INTO journal_run (id, started_at, alive_at, stopped_at) "
                "VALUES (1, ?, ?, NULL) ON CONFLICT (id) DO UPDATE SET "
                "started_at = excluded.started_at, alive_at = excluded.alive_at, "
                "stopped_at = NULL", (now, now))
        return previous

    def write(self, now: float, snapshots: Iterable[Snapshot],
              transitions: Iterable[Transition] = ()) -> None:
        """Save snapshots and history rows in one transaction."""
        with self._transaction():
            self._save(now, snapshots)
            self._insert(transitions)

    def beat(self, now: float, snapshots: Iterable[Snapshot] = (),
             transitions: Iterable[Transition] = ()) -> None:
        """The loop is alive at `now`; save the snapshots that changed quietly (and
        transitions that could not be written when they happened)."""
        with self._transaction():
            self._save(now, snapshots)
            self._insert(transitions)
            self._db.execute("UPDATE journal_run SET alive_at = ? WHERE id = 1", (now,))

    def end_run(self, now: float, snapshots: Iterable[Snapshot],
                transitions: Iterable[Transition] = ()) -> None:
        """A clean stop: every snapshot saved, and the run marked as stopped at `now`."""
        with self._transaction():
            self._save(now, snapshots)
            self._insert(transitions)
            self._db.execute("UPDATE journal_run SET alive_at = ?, stopped_at = ? WHERE id = 1",
                             (now, now))

    def forget(self, components: Iterable[str]) -> None:
        """Drop the saved state of components that are no longer watched."""
        with self._transaction():
            self._db.executemany("DELETE FROM journal_machine WHERE component = ?",
                                 [(c,) for c in components])

    def clear(self) -> None:
        """Forget every machine, transition and run: the next start is a first start."""
        with self._transaction():
            for table in ("journal_machine", "journal_history", "journal_run"):
                self._db.execute(f"DELETE FROM {table}")  # table names are ours, not input

    def prune(self, now: float) -> int:
        """Delete history older than `history_days`; return how many rows went."""
        cutoff = now - self.history_days * 86_400
        with self._transaction():
            cursor = self._db.execute("DELETE FROM journal_history WHERE at < ?", (cutoff,))
        return cursor.rowcount

    def _save(self, now: float, snapshots: Iterable[Snapshot]) -> None:
        self._db.executemany(
            "INSERT INTO journal_machine (component, snapshot, written_at) VALUES (?, ?, ?) "
            "ON CONFLICT (component) DO UPDATE SET snapshot = excluded.snapshot, "
            "written_at = excluded.written_at",
            [(s.component, json.dumps(s.to_dict(), ensure_ascii=False), now)
             for s in snapshots])

    def _insert(self, transitions: Iterable[Transition]) -> None:
        self._db.executemany(
            "INSERT INTO journal_history (component, from_state, to_state, at, notices) "
            "VALUES (?, ?, ?, ?, ?)",
            [(t.component, t.from_state.value, t.to_state.value, t.at,
              json.dumps([n.to_dict() for n in t.notices], ensure_ascii=False))
             for t in transitions])

    def _transaction(self) -> contextlib.AbstractContextManager[None]:
        return transaction(self._db)


@dataclass(slots=True)
class _Reconciliation:
    """The offline notice still to send: after a gap, once the first outcomes are in."""

    hub_name: str
    gap: Gap
    #: Components whose incident was open (alerted, not recovered) before the gap.
    open_before: tuple[str, ...]
    deadline: float
    heard: set[str] = field(default_factory=set)

    def is_ready(self, machines: HealthMachines, now: float) -> bool:
        return now >= self.deadline or all(
            c in self.heard or c not in machines for c in self.open_before)


class JournaledMachines(HealthMachines):
    """`HealthMachines` that journal every change, resume from the journal, and report a gap.

    Use it exactly like `HealthMachines`, from the one scheduler that owns time; the
    composition root also calls `resume` once at start, `beat` every `BEAT_SECONDS`
    and `save` on a clean stop.

    A write the disk refuses never stops the machines: the state in memory is the truth,
    what was not written is kept (`write_error` says why) and written with the next
    transition or beat that the disk takes.
    """

    def __init__(self, journal: Journal, *,
                 offline_after_seconds: float = OFFLINE_GAP_SECONDS,
                 reconcile_wait_seconds: float = RECONCILE_WAIT_SECONDS) -> None:
        # Every move the machines report is one history row (`_record`).
        super().__init__(on_transition=self._record)
        self.journal = journal
        self._offline_after_seconds = offline_after_seconds
        self._reconcile_wait_seconds = reconcile_wait_seconds
        self._written: dict[str, Snapshot] = {}
        self._dirty: set[str] = set()
        #: Transitions, and the components whose snapshot, the disk refused so far.
        self._unwritten: list[Transition] = []
        self._unsaved: set[str] = set()
        self._run_began_at: float | None = None  # a start the disk did not take yet
        self.write_error: str | None = None
        self._writing = Trouble(log, "journal: writing")
        self._reconciliation: _Reconciliation | None = None
        self._pruned_at = -math.inf

    # -- start, beat, stop -----------------------------------------------------------

    def resume(self, now: float, hub_name: str) -> Resumed:
        """Restore every journaled machine that is watched (`add` them first) at `now`.

        A restored machine keeps its incident (first failure, reminder schedule, counts)
        under the policy it was added with, i.e. the current config. Journaled machines
        of components no longer watched are dropped, with a log line. After an unclean
        stop or a gap over `offline_after_seconds`, an **offline** notice is scheduled.
        """
        try:
            previous = self.journal.begin_run(now)
        except sqlite3.Error as err:
            self._write_failed(err)
            previous = self.journal.previous_run()
            self._run_began_at = now
        gap: Gap | None = None
        if previous is not None:
            if now < previous.last_alive_at:
                log.warning("the clock is %.0f s behind the journal's last entry; times "
                            "across this restart may look short", previous.last_alive_at - now)
            offline = Gap(offline_from=min(previous.last_alive_at, now), offline_until=now,
                          was_clean=previous.is_clean)
            if not offline.was_clean or offline.seconds > self._offline_after_seconds:
                gap = offline
        paused = 0.0 if previous is None else max(now - previous.last_alive_at, 0.0)
        restored: list[str] = []
        dropped: list[str] = []
        for snapshot in self.journal.snapshots():
            component = snapshot.component
            if component not in self:
                log.info("journal: %s is no longer watched; its saved state (%s) is dropped",
                         component, snapshot.state.value)
                dropped.append(component)
                continue
            policy = self.policy(component)
            self.remove(component)
            self.restore(_resumable(snapshot, policy, paused), policy)
            self._written[component] = snapshot
            restored.append(component)
        if dropped:
            try:
                self.journal.forget(dropped)
            except sqlite3.Error as err:  # they are dropped again at the next start
                self._write_failed(err)
        if gap is not None:
            open_before = tuple(c for c in restored if self.state(c).is_incident_open)
            self._reconciliation = _Reconciliation(
                hub_name=hub_name, gap=gap, open_before=open_before,
                deadline=now + (self._reconcile_wait_seconds if open_before else 0.0))
        self._prune(now)
        if restored:
            log.info("journal: resumed %s", ", ".join(
                f"{c} ({self.state(c).value})" for c in restored))
        return Resumed(restored=tuple(restored), dropped=tuple(dropped), previous=previous,
                       gap=gap)

    def beat(self, now: float) -> None:
        """The heartbeat: the loop is alive; quietly changed snapshots are saved."""
        if self._run_began_at is not None:
            try:
                self.journal.begin_run(self._run_began_at)
            except sqlite3.Error as err:
                self._write_failed(err)
                return
            self._run_began_at = None
        if self._write(now, self._dirty, beat=True):
            self._prune(now)

    def save(self, now: float) -> None:
        """A clean stop: every snapshot is saved exactly, and the stop is marked."""
        snapshots = self.snapshots()
        try:
            self.journal.end_run(now, snapshots, self._unwritten)
        except sqlite3.Error as err:  # the next start finds an unclean stop: said offline
            self._write_failed(err)
            return
        self._written.update((s.component, s) for s in snapshots)
        self._dirty.clear()
        self._unsaved.clear()
        self._unwritten.clear()

    # -- HealthMachines, journaled -----------------------------------------------------

    def remove(self, component: str) -> None:
        super().remove(component)
        self._dirty.discard(component)
        self._unsaved.discard(component)

    def observe(self, outcome: Outcome, now: float) -> list[Notice]:
        notices = super().observe(outcome, now)  # its timers went through `tick` below
        if self._reconciliation is not None:
            self._reconciliation.heard.add(outcome.component)
        return self._journaled(outcome.component, notices, now)

    def tick(self, component: str, now: float) -> list[Notice]:
        return self._journaled(component, super().tick(component, now), now)

    def next_due(self, component: str) -> float | None:
        """As `HealthMachines.next_due`, and the offline notice's deadline while it waits."""
        due = super().next_due(component)
        if self._reconciliation is None:
            return due
        deadline = self._reconciliation.deadline
        return deadline if due is None else min(due, deadline)

    def _record(self, transition: Transition) -> None:
        """A move the machines reported: a history row, written with the call's snapshot."""
        self._unwritten.append(transition)
        self._unsaved.add(transition.component)

    def _journaled(self, component: str, notices: list[Notice], now: float) -> list[Notice]:
        if component in self._unsaved:  # it moved: its snapshot and rows, at once
            self._write(now, [component], beat=False)
        elif self.snapshot(component) != self._written.get(component):
            self._dirty.add(component)
        reconciliation = self._reconciliation
        if reconciliation is not None and reconciliation.is_ready(self, now):
            self._reconciliation = None
            notices = [*notices, offline_notice(reconciliation.hub_name, reconciliation.gap,
                                                reconciliation.open_before, self,
                                                reconciliation.heard, now)]
        return notices

    def flush(self, now: float) -> bool:
        """Write what the disk refused before; True when nothing waits in memory."""
        if (self._unwritten or self._unsaved or self._run_began_at is not None
                or self.write_error is not None):  # the beat's write probes the disk
            self.beat(now)
        return not (self._unwritten or self._unsaved or self._run_began_at is not None)

    def _write(self, now: float, components: Iterable[str], *, beat: bool) -> bool:
        """Save these components' snapshots, with whatever the disk refused before."""
        names = sorted({*components, *self._unsaved})
        snapshots = [self.snapshot(c) for c in names if c in self]
        try:
            if beat:
                self.journal.beat(now, snapshots, self._unwritten)
            else:
                self.journal.write(now, snapshots, self._unwritten)
        except sqlite3.Error as err:
            self._unsaved.update(names)
            self._write_failed(err)
            return False
        self._written.update((s.component, s) for s in snapshots)
        self._dirty.difference_update(names)
        self._unsaved.clear()
        self._unwritten.clear()
        self.write_error = None
        self._writing.cleared("journal: writing works again; the machines' states are on disk")
        return True

    def _write_failed(self, err: sqlite3.Error) -> None:
        self.write_error = describe_write_error(err)
        self._writing.happened("journal: %s; the machines go on from memory, and their states "
                               "are written once it works again", self.write_error)

    def _prune(self, now: float) -> None:
        if now - self._pruned_at < PRUNE_EVERY_SECONDS:
            return
        try:
            pruned = self.journal.prune(now)
        except sqlite3.Error as err:  # pruning waits for a disk that takes writes
            self._write_failed(err)
            return
        self._pruned_at = now
        if pruned:
            log.info("journal: pruned %d transitions older than %g days", pruned,
                     self.journal.history_days)


def _resumable(snapshot: Snapshot, policy: Policy, paused_seconds: float) -> Snapshot:
    """The snapshot as the current policy and the time the hub was away require.

    * Silence is counted only while the hub listens: `last_seen_at` moves on by the time
      the hub was not running, so staleness does not fire for the hub's own absence.
    * A reminder schedule left by an earlier policy is dropped when reminders are now
      off (`remind_after_seconds = 0`); otherwise it is kept, and later intervals follow
      the current policy.
    """
    changes: dict[str, Any] = {}
    if policy.stale_after_seconds > 0 and paused_seconds > 0:
        changes["last_seen_at"] = snapshot.last_seen_at + paused_seconds
    if policy.remind_after_seconds <= 0 and snapshot.next_reminder_at is not None:
        changes["next_reminder_at"] = None
    return dataclasses.replace(snapshot, **changes) if changes else snapshot


def offline_notice(hub_name: str, gap: Gap, open_before: Iterable[str],
                   machines: HealthMachines, heard: set[str], now: float) -> Notice:
    """The one **offline** notice: the gap, what is still failing, what recovered meanwhile.

    Of the components whose incident was open before the gap: *still failing* are those
    still alerting (their latest error), *recovered meanwhile* those whose machine has
    reported the recovery since (the recovery notice itself was sent as usual), and
    *no outcome yet* those that have not reported since the restart.
    """
    failing: list[str] = []
    recovered: list[str] = []
    silent: list[str] = []
    for component in open_before:
        if component not in machines:
            continue
        snapshot = machines.snapshot(component)
        if not snapshot.state.is_incident_open:
            recovered.append(component)
        elif component not in heard:
            silent.append(component)
        else:
            since = snapshot.first_failure_at
            failing.append(f"{component} ({snapshot.last_error_type or 'failing'}"
                           + (f", for {duration(now - since)})" if since is not None else ")"))
    details = [
        ("offline", f"from {utc_time(gap.offline_from)} to {utc_time(gap.offline_until)} "
                    f"({duration(gap.seconds)})"),
        ("last stop", "clean" if gap.was_clean
         else "unclean: no clean stop was recorded (a crash, a kill or a power cut)"),
        ("still failing", ", ".join(failing) or "none"),
        ("recovered meanwhile", ", ".join(recovered) or "none"),
    ]
    if silent:
        details.append(("no outcome yet", ", ".join(silent)))
    return Notice(kind=NoticeKind.OFFLINE, component=hub_name, at=now,
                  downtime_seconds=gap.seconds, details=tuple(details))
