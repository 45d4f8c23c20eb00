"""The durable outbox: a notice is on disk before anything tries to send it.

Delivery guarantee: **at least once**. A notice is inserted (and fsynced) when the
machine emits it and deleted only after Discord accepted the message that carried it
(`ack`) or after it was dropped on purpose with a logged reason (`drop`). A duplicate
happens only when Discord posted a message but the hub never learned that it did: the
answer was lost (reset, timeout) or the hub died (`kill -9`) before the `ack`. Then the
message is sent again; everything else is sent exactly once (docs/delivery.md).

Entries are returned oldest first, so the order of a component's notices is the order
in which its machine emitted them.

Two things must never stop delivery (docs/delivery.md, "When the disk or a row is bad"):

* **A write that fails** (the disk is full, the file went read-only): the notices are
  *held* in memory, in order, behind the ones on disk, and delivered from there; an ack
  that cannot be written is remembered, so the notice is not sent twice. `flush()`
  (called on every `put` and by the hub's self-check) writes them once the disk takes
  them again. `write_error` says what is wrong meanwhile.
* **A bound on what waits** (`max_bytes`, `[hub] outbox_max_bytes`): through an outage
  of days the queued notices stay under it. When a `put` goes over, reminders that a
  later reminder or the recovery of the same incident makes moot are dropped first
  (oldest first, each with a logged reason), then queued edits of alert messages.
  Alerts, recoveries and every other kind are never dropped: the bound may be exceeded
  when nothing else is left.
* **A row that cannot be read** (not JSON, or a kind this version does not know, as
  after a downgrade): it is moved to the `outbox_dead` table with the reason, logged,
  and reported through `on_unreadable`; the rows behind it go out as usual.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from hub.notify.incident_messages import SCHEMA as INCIDENT_MESSAGES_SCHEMA
from hub.notify.incident_messages import IncidentMessages
from hub.storage.database import describe_write_error, open_database, transaction
from hub.trouble import Trouble
from machines import Notice, NoticeKind

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    component TEXT NOT NULL,
    kind TEXT NOT NULL,
    notice TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS outbox_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox_dead (
    id INTEGER PRIMARY KEY,
    component TEXT NOT NULL,
    kind TEXT NOT NULL,
    notice TEXT NOT NULL,
    reason TEXT NOT NULL
);
""" + INCIDENT_MESSAGES_SCHEMA
#: The columns the outbox reads; a file whose `outbox` table lacks one is from another
#: version and is set aside at start (hub.storage.state_file).
COLUMNS = ("id", "component", "kind", "notice", "attempts", "last_error")
#: A few MB: about ten thousand notices, far more than days of reminders for a home's
#: components, and nothing for the SD card of a Raspberry Pi.
DEFAULT_MAX_BYTES = 4 * 1024 * 1024


#: The notices whose incident's alert message is edited to show them.
_MOVES_AN_INCIDENT = (NoticeKind.REMINDER, NoticeKind.RECOVERY)


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    notice: Notice
    attempts: int
    last_error: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An outbox row that could not be read, moved to `outbox_dead`."""

    id: int
    component: str
    kind: str
    reason: str


class Outbox:
    """SQLite-backed queue of notices; use from one thread (the daemon's loop).

    `on_unreadable` is told about every row set aside as unreadable (the daemon turns it
    into a notice). `max_bytes` bounds the queued notices and edits (module docstring).
    `edits` holds each incident's alert message and the edits queued for it
    (hub/notify/incident_messages.py).
    """

    def __init__(self, path: Path | str,
                 on_unreadable: Callable[[DeadLetter], None] | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = Path(path)
        self._on_unreadable = on_unreadable
        self.max_bytes = max_bytes
        # WAL + FULL: an acknowledged insert survives a crash and a power cut alike;
        # notices are rare, so the extra fsync costs nothing that matters.
        self._db = open_database(path, SCHEMA, synchronous="FULL")
        # Ids are given here, not by SQLite, so a notice held in memory keeps its id when
        # it reaches the disk. AUTOINCREMENT's sequence also remembers deleted ids.
        row = self._db.execute(
            "SELECT MAX(n) FROM (SELECT MAX(id) AS n FROM outbox UNION ALL "
            "SELECT seq FROM sqlite_sequence WHERE name = 'outbox' UNION ALL "
            "SELECT MAX(id) FROM outbox_dead)").fetchone()
        self._last_id = int(row[0] or 0)
        self._held: list[Entry] = []  # not yet on disk, oldest first, all newer than disk
        self._gone: set[int] = set()  # on disk, but acked or dropped: delete when possible
        self._unreadable: dict[int, DeadLetter] = {}  # on disk, to be moved to outbox_dead
        self.write_error: str | None = None  # why the latest write failed; None: writes work
        self._writing = Trouble(log, "outbox: writing")
        self.edits = IncidentMessages(self._db)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def held(self) -> int:
        """How many notices wait in memory for the disk to take them."""
        return len(self._held)

    def put(self, notices: Iterable[Notice]) -> list[int]:
        """Store notices in order, durably if the disk allows it (else held); their ids.

        A sent reminder or recovery also queues the edit of its incident's alert message.
        """
        entries = []
        for notice in notices:
            self._last_id += 1
            entries.append(Entry(id=self._last_id, notice=notice, attempts=0, last_error=""))
        self._held.extend(entries)
        self.flush()
        for entry in entries:
            if entry.notice.kind in _MOVES_AN_INCIDENT and entry.notice.is_sent:
                self.edits.put_edit(entry.notice)
        self._keep_bound()
        return [entry.id for entry in entries]

    def put_edit(self, notice: Notice) -> bool:
        """The incident `notice.incident` changed without a new message (an ack): queue the
        edit that draws its alert message from `notice`. False without an incident.

        Edits go out after every pending message; only the latest per incident is sent.
        """
        queued = self.edits.put_edit(notice)
        self._keep_bound()
        return queued

    def put_ack(self, incident: str, by: str, reason: str = "") -> bool:
        """`incident` was acked: queue the edit that names who (and why) on its alert
        message, drawn from what it shows now. False when no message of it is known."""
        queued = self.edits.acked(incident, by, reason)
        self._keep_bound()
        return queued

    def size_bytes(self) -> int:
        """Bytes of the queued notices and edits: what `max_bytes` bounds."""
        return sum(size for *_, size in self._sizes()) + self.edits.size_bytes

    def _sizes(self) -> list[tuple[int, str, str, int]]:
        """(id, kind, incident or component, bytes) of each queued notice, oldest first."""
        skip = self._gone | set(self._unreadable)
        rows = [(int(i), str(kind), str(key), int(size)) for i, kind, key, size in
                self._db.execute(
                    "SELECT id, kind, COALESCE(CASE WHEN json_valid(notice) THEN "
                    "json_extract(notice, '$.incident') END, component), "
                    "length(CAST(notice AS BLOB)) FROM outbox ORDER BY id")
                if i not in skip]
        held = [(e.id, e.notice.kind.value, e.notice.incident or e.notice.component,
                 len(json.dumps(e.notice.to_dict(), ensure_ascii=False).encode()))
                for e in self._held]
        return rows + held

    def _keep_bound(self) -> None:
        """Over `max_bytes`: drop moot reminders, then queued edits (module docstring)."""
        sizes = self._sizes()
        total = sum(size for *_, size in sizes) + self.edits.size_bytes
        if total <= self.max_bytes:
            return
        moot: list[tuple[int, int]] = []
        moved_later: set[str] = set()  # incidents with a reminder or recovery after this
        for row_id, kind, key, size in reversed(sizes):
            if kind == NoticeKind.REMINDER.value and key in moved_later:
                moot.append((row_id, size))
            if kind in (NoticeKind.REMINDER.value, NoticeKind.RECOVERY.value):
                moved_later.add(key)
        dropped: list[int] = []
        for row_id, size in reversed(moot):  # oldest first
            if total <= self.max_bytes:
                break
            dropped.append(row_id)
            total -= size
        if dropped:
            self.drop(dropped, f"the outbox is over its bound of {self.max_bytes} bytes and a "
                      "later reminder or the recovery of the same incident is queued")
        for edit in self.edits.pending():
            if total <= self.max_bytes:
                break
            self.edits.drop([edit], f"the outbox is over its bound of {self.max_bytes} bytes")
            total -= edit.size_bytes

    def flush(self) -> bool:
        """Write what waits in memory; True when everything is on disk.

        After a failed write with nothing left waiting (every held notice went out), a
        one-row write probes the disk, so `write_error` clears once it takes writes again.
        """
        if not (self._held or self._gone or self._unreadable or self.write_error):
            return True
        held, gone, unreadable = list(self._held), set(self._gone), dict(self._unreadable)
        try:
            with self._transaction():
                if not (held or gone or unreadable):
                    self._db.execute("INSERT OR REPLACE INTO outbox_probe (id, at) "
                                     "VALUES (1, julianday('now'))")
                self._db.executemany(
                    "INSERT INTO outbox (id, component, kind, notice, attempts, last_error) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [(e.id, e.notice.component, e.notice.kind.value,
                      json.dumps(e.notice.to_dict(), ensure_ascii=False), e.attempts,
                      e.last_error) for e in held])
                self._db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in gone])
                for dead in unreadable.values():
                    self._db.execute(
                        "INSERT OR REPLACE INTO outbox_dead (id, component, kind, notice, "
                        "reason) SELECT id, component, kind, notice, ? FROM outbox "
                        "WHERE id = ?", (dead.reason, dead.id))
                    self._db.execute("DELETE FROM outbox WHERE id = ?", (dead.id,))
        except sqlite3.Error as err:
            self._write_failed(err)
            return False
        del self._held[:len(held)]
        self._gone -= gone
        for dead_id in unreadable:
            self._unreadable.pop(dead_id, None)
        self._writes_work()
        return not (self._held or self._gone or self._unreadable)

    def pending(self, limit: int = 100) -> list[Entry]:
        """Up to `limit` entries, oldest first: those on disk, then those held."""
        skip = self._gone | set(self._unreadable)
        rows = self._db.execute(
            "SELECT id, component, kind, notice, attempts, last_error FROM outbox "
            "ORDER BY id LIMIT ?", (limit + len(skip),)).fetchall()
        entries: list[Entry] = []
        found: list[DeadLetter] = []
        for row_id, component, kind, text, attempts, last_error in rows:
            if row_id in skip:
                continue
            try:
                notice = Notice.from_dict(json.loads(text))
            except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as err:
                found.append(DeadLetter(row_id, str(component), str(kind), _reason(err)))
                continue
            entries.append(Entry(id=row_id, notice=notice, attempts=attempts,
                                 last_error=last_error))
        if found:
            self._set_aside(found)
        return (entries + self._held)[:limit]

    def depth(self) -> int:
        on_disk = int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        return on_disk - len(self._gone) - len(self._unreadable) + len(self._held)

    def dead_letters(self) -> list[DeadLetter]:
        """Every row set aside as unreadable, oldest first."""
        rows = self._db.execute(
            "SELECT id, component, kind, reason FROM outbox_dead ORDER BY id").fetchall()
        return [DeadLetter(*row) for row in rows] + list(self._unreadable.values())

    def ack(self, ids: Sequence[int]) -> None:
        """Discord accepted these: forget them."""
        self._forget(ids)

    def drop(self, ids: Sequence[int], reason: str) -> None:
        """Give these up on purpose; the reason is logged with what was dropped."""
        for entry in self._entries(ids):
            log.warning("dropping %s notice for %s (id %d): %s", entry.notice.kind.value,
                        entry.notice.component, entry.id, reason)
        self._forget(ids)

    def failed(self, ids: Sequence[int], error: str) -> None:
        """Count a failed attempt; the entries stay queued.

        The count is for the owner's eyes only: when the disk refuses it, it is skipped.
        """
        wanted = set(ids)
        self._held = [replace(e, attempts=e.attempts + 1, last_error=error)
                      if e.id in wanted else e for e in self._held]
        try:
            with self._transaction():
                self._db.executemany(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                    [(error, i) for i in ids])
        except sqlite3.Error as err:
            self._write_failed(err)

    def _forget(self, ids: Sequence[int]) -> None:
        """Held ones are simply let go; those on disk are deleted (now, or once it can)."""
        forgotten = set(ids)
        held_ids = {e.id for e in self._held}
        self._held = [e for e in self._held if e.id not in forgotten]
        self._gone.update(forgotten - held_ids)
        self.flush()

    def _set_aside(self, found: list[DeadLetter]) -> None:
        for dead in found:
            log.error("outbox: the queued %s notice for %s (id %d) cannot be read (%s); it "
                      "is set aside in the outbox_dead table and delivery goes on",
                      dead.kind, dead.component, dead.id, dead.reason)
            self._unreadable[dead.id] = dead
        self.flush()
        if self._on_unreadable is not None:
            for dead in found:
                self._on_unreadable(dead)

    def _entries(self, ids: Sequence[int]) -> list[Entry]:
        wanted = set(ids)
        return [e for e in self.pending(limit=max(self.depth(), 1)) if e.id in wanted]

    def _write_failed(self, err: sqlite3.Error) -> None:
        self.write_error = describe_write_error(err)
        self._writing.happened("outbox: %s; notices are kept in memory and written once it "
                               "works again", self.write_error)

    def _writes_work(self) -> None:
        self.write_error = None
        self._writing.cleared("outbox: writing works again; every notice held in memory is "
                              "on disk")

    def _transaction(self) -> contextlib.AbstractContextManager[None]:
        return transaction(self._db)


def _reason(err: Exception) -> str:
    """Why a row is unreadable, in a short line (never the row itself: it may be huge)."""
    if isinstance(err, json.JSONDecodeError):
        return f"not JSON ({err.msg} at character {err.pos})"
    if isinstance(err, KeyError):
        return f"a field is missing: {err}"
    text = str(err)
    if "is not a valid NoticeKind" in text:
        return f"a kind this version does not know: {text.split(' is not', 1)[0]}"
    return f"{type(err).__name__}: {text[:200]}"
