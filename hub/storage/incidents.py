"""The notification policy's journal: its snapshot, and every notice it held.

In the outbox's SQLite file (`<state_dir>/outbox.sqlite`), in tables of its own:

* `incident_policy`: the latest `NotificationSnapshot` (incident counters, open incidents,
  acks, mutes), so incident numbers never repeat and silences survive a restart;
* `incident_held`: one row per notice the policy held or folded, with the reason, kept
  for `[hub] history_days` (DESIGN.md: held notices are recorded, never silently dropped).

Written at once after each decision that changed anything, before the notices it sent
are put in the outbox: a notice carrying `bus#4` is never on disk before the counter that
says 4 was used. A write the disk refuses never stops the policy: what was not written is
kept in memory (`write_error` says why) and written with the next decision or `flush`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from hub.storage.database import describe_write_error, open_database, transaction
from hub.storage.journal import DEFAULT_HISTORY_DAYS
from hub.trouble import Trouble
from machines import Notice, NotificationSnapshot

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS incident_policy (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    snapshot TEXT NOT NULL,
    written_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS incident_held (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    component TEXT NOT NULL,
    kind TEXT NOT NULL,
    incident TEXT,
    reason TEXT NOT NULL,
    notice TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incident_held_at ON incident_held (at);
"""


def held_reason(notice: Notice) -> str:
    """Why `notice` was not sent, as `replay --all` says it: the reason, or `folded_into`."""
    if notice.folded_into is not None:
        return f"folded_into {notice.folded_into}"
    return notice.held.value if notice.held is not None else ""


class IncidentStore:
    """The policy's tables; use from one thread (the loop), like the journal."""

    def __init__(self, path: Path | str, *,
                 history_days: float = DEFAULT_HISTORY_DAYS) -> None:
        self.history_days = history_days
        # As the journal: a crash loses nothing, and the outbox's fsync covers the log.
        self._db = open_database(path, SCHEMA, synchronous="NORMAL")
        self._unsaved: NotificationSnapshot | None = None
        self._unwritten: list[Notice] = []
        self.write_error: str | None = None
        self._writing = Trouble(log, "incidents: writing")

    def close(self) -> None:
        self._db.close()

    # -- reading ---------------------------------------------------------------------

    def snapshot(self) -> NotificationSnapshot | None:
        """The saved policy; None on a first start, or when the row cannot be read."""
        row = self._db.execute("SELECT snapshot FROM incident_policy WHERE id = 1").fetchone()
        if row is None:
            return None
        try:
            return NotificationSnapshot.from_dict(json.loads(row[0]))
        except (ValueError, TypeError, KeyError) as err:
            log.error("incidents: the saved notification policy is unreadable (%s); incident "
                      "numbers start again and saved mutes are lost", err)
            return None

    def held(self, since: float = float("-inf"), limit: int = 1000) -> list[Notice]:
        """The held and folded notices at or after `since`, newest last (at most `limit`)."""
        rows = self._db.execute(
            "SELECT notice FROM (SELECT id, notice FROM incident_held WHERE at >= ? "
            "ORDER BY id DESC LIMIT ?) ORDER BY id", (since, limit)).fetchall()
        found: list[Notice] = []
        for (text,) in rows:
            with contextlib.suppress(ValueError, TypeError, KeyError):
                found.append(Notice.from_dict(json.loads(text)))
        return [*found, *self._unwritten][-limit:]

    # -- writing ---------------------------------------------------------------------

    def save(self, now: float, snapshot: NotificationSnapshot,
             held: Iterable[Notice] = ()) -> bool:
        """Write the policy's snapshot and its newly held notices; True when on disk."""
        self._unsaved = snapshot
        self._unwritten.extend(held)
        return self.flush(now)

    def flush(self, now: float) -> bool:
        """Write what waits in memory (the disk refused it before); True when nothing does."""
        if self._unsaved is None and not self._unwritten:
            return True
        try:
            with transaction(self._db):
                if self._unsaved is not None:
                    self._db.execute(
                        "INSERT INTO incident_policy (id, snapshot, written_at) VALUES "
                        "(1, ?, ?) ON CONFLICT (id) DO UPDATE SET snapshot = "
                        "excluded.snapshot, written_at = excluded.written_at",
                        (json.dumps(self._unsaved.to_dict(), ensure_ascii=False), now))
                self._db.executemany(
                    "INSERT INTO incident_held (at, component, kind, incident, reason, notice)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [(n.at, n.component, n.kind.value, n.incident, held_reason(n),
                      json.dumps(n.to_dict(), ensure_ascii=False)) for n in self._unwritten])
                self._db.execute("DELETE FROM incident_held WHERE at < ?",
                                 (now - self.history_days * 86_400,))
        except sqlite3.Error as err:
            self.write_error = describe_write_error(err)
            self._writing.happened("incidents: %s; the policy goes on from memory, and is "
                                   "written once it works again", self.write_error)
            return False
        self._unsaved = None
        self._unwritten.clear()
        self.write_error = None
        self._writing.cleared("incidents: writing works again")
        return True
