"""Opening the hub's one SQLite file (`<state_dir>/outbox.sqlite`) when it may be damaged.

The outbox and the journal live in that file. A file that cannot be used as it is (not a
database, truncated, corrupt, a directory in its place, or tables of another version)
must not stop the hub from starting, and what it still holds must not be lost:

1. the queued notices that can still be read are read out;
2. the damaged file is moved aside beside it, named and kept
   (`outbox.sqlite.damaged-20261130T001500Z`, with its `-wal` and `-shm`);
3. a fresh file is started, and the rescued notices are queued in it again, in order.

A file that is missing or empty although the hub had one before (a marker beside it,
`outbox.sqlite.created`, says so) is reported too: whatever was queued in it is gone.
Either way `prepare_state_file` says what happened, and the daemon logs it and tells the
owner in a notice (`StateFileReport.problem`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hub.notify.outbox import COLUMNS as OUTBOX_COLUMNS
from hub.storage.journal import COLUMNS as JOURNAL_COLUMNS
from machines import Notice

log = logging.getLogger(__name__)

#: Every table the hub reads, with the columns it reads.
TABLES: Mapping[str, tuple[str, ...]] = {"outbox": OUTBOX_COLUMNS, **JOURNAL_COLUMNS}
#: The rescue reads a damaged file row by row; past this many ids it stops looking.
RESCUE_MAX_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class StateFileReport:
    """What `prepare_state_file` found: None for a usable (or first) file."""

    problem: str | None = None
    moved_to: Path | None = None
    rescued: tuple[Notice, ...] = ()

    def describe(self) -> str:
        """One paragraph for the log and the owner's notice."""
        if self.problem is None:
            return "the state file is fine"
        if self.moved_to is None:
            return (f"the state file was {self.problem} at start: notices queued before and "
                    "the machines' saved states are lost; starting afresh")
        rescued = len(self.rescued)
        return (f"the state file was damaged ({self.problem}); it is kept as "
                f"{self.moved_to.name} and a fresh one is started; {rescued} queued "
                f"notice{'' if rescued == 1 else 's'} could be read and "
                f"{'is' if rescued == 1 else 'are'} queued again, while open incidents and "
                "the history start afresh")


def prepare_state_file(path: Path, now: datetime | None = None) -> StateFileReport:
    """Make `path` usable for the outbox and the journal; say what had to be done."""
    marker = path.with_name(path.name + ".created")
    report = StateFileReport()
    problem = damage(path)
    if problem is not None:
        rescued = tuple(rescue(path)) if path.is_file() else ()
        moved_to = move_aside(path, now or datetime.now(UTC))
        report = StateFileReport(problem, moved_to, rescued)
        log.error("%s", report.describe())
    elif marker.exists() and (not path.exists() or path.stat().st_size == 0):
        report = StateFileReport("missing" if not path.exists() else "empty")
        log.error("%s", report.describe())
    with contextlib.suppress(OSError):  # a state_dir that takes no file fails later, loudly
        marker.touch()
    return report


def damage(path: Path) -> str | None:
    """Why the file at `path` cannot be used as it is, or None (also when there is none)."""
    if not path.exists():
        return None
    if not path.is_file():
        return "not a file"
    if path.stat().st_size == 0:
        return None  # SQLite makes an empty file a database; the marker tells if it was lost
    try:
        with _connection(path) as db:
            check = db.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                return f"corrupt: {check[0] if check else 'no answer'}"
            for table, wanted in TABLES.items():
                have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                missing = [c for c in wanted if c not in have]
                if have and missing:
                    return (f"from another version: table {table} has no column "
                            f"{', '.join(missing)}")
    except sqlite3.Error as err:
        return str(err)
    return None


def rescue(path: Path) -> Iterator[Notice]:
    """The queued notices that can still be read from a damaged file, oldest first."""
    try:
        with _connection(path) as db:
            try:
                rows = db.execute("SELECT id, notice FROM outbox ORDER BY id").fetchall()
            except sqlite3.Error:
                rows = list(_row_by_row(db))
    except sqlite3.Error as err:
        log.warning("nothing could be read from the damaged state file: %s", err)
        return
    for row_id, text in rows:
        try:
            yield Notice.from_dict(json.loads(text))
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as err:
            log.warning("a queued notice (id %s) in the damaged state file cannot be read: %s",
                        row_id, err)


def _row_by_row(db: sqlite3.Connection) -> Iterator[tuple[int, str]]:
    """A damaged table read one id at a time, skipping what cannot be read."""
    try:
        last = db.execute("SELECT MAX(id) FROM outbox").fetchone()[0] or 0
    except sqlite3.Error:
        last = RESCUE_MAX_ROWS
    for row_id in range(1, min(int(last), RESCUE_MAX_ROWS) + 1):
        try:
            row = db.execute("SELECT id, notice FROM outbox WHERE id = ?", (row_id,)).fetchone()
        except sqlite3.Error:
            continue
        if row is not None:
            yield row


def move_aside(path: Path, now: datetime) -> Path:
    """Rename the file (and its -wal and -shm) out of the way, keeping it; the new name."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            companion.rename(target.with_name(target.name + suffix))
    path.rename(target)
    return target


@contextlib.contextmanager
def _connection(path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(str(path), isolation_level=None)
    try:
        yield db
    finally:
        db.close()
