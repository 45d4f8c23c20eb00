"""The durable outbox: a notice is on disk before anything tries to send it.

Delivery guarantee: **at least once**. A notice is inserted (and fsynced) when the
machine emits it and deleted only after Discord accepted the message that carried it
(`ack`) or after it was dropped on purpose with a logged reason (`drop`). A duplicate
happens only when Discord posted a message but the hub never learned that it did: the
answer was lost (reset, timeout) or the hub died (`kill -9`) before the `ack`. Then the
message is sent again; everything else is sent exactly once (docs/delivery.md).

Entries are returned oldest first, so the order of a component's notices is the order
in which its machine emitted them.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hub.database import open_database, transaction
from machines import Notice

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
"""


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    notice: Notice
    attempts: int
    last_error: str


class Outbox:
    """SQLite-backed queue of notices; use from one thread (the daemon's loop)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        # WAL + FULL: an acknowledged insert survives a crash and a power cut alike;
        # notices are rare, so the extra fsync costs nothing that matters.
        self._db = open_database(path, SCHEMA, synchronous="FULL")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def put(self, notices: Iterable[Notice]) -> list[int]:
        """Store notices in order, durably, in one transaction; return their ids."""
        ids: list[int] = []
        with self._transaction():
            for notice in notices:
                cursor = self._db.execute(
                    "INSERT INTO outbox (component, kind, notice) VALUES (?, ?, ?)",
                    (notice.component, notice.kind.value,
                     json.dumps(notice.to_dict(), ensure_ascii=False)))
                ids.append(int(cursor.lastrowid or 0))
        return ids

    def pending(self, limit: int = 100) -> list[Entry]:
        rows = self._db.execute(
            "SELECT id, notice, attempts, last_error FROM outbox ORDER BY id LIMIT ?",
            (limit,)).fetchall()
        return [Entry(id=row[0], notice=Notice.from_dict(json.loads(row[1])),
                      attempts=row[2], last_error=row[3]) for row in rows]

    def depth(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def ack(self, ids: Sequence[int]) -> None:
        """Discord accepted these: forget them."""
        self._delete(ids)

    def drop(self, ids: Sequence[int], reason: str) -> None:
        """Give these up on purpose; the reason is logged with what was dropped."""
        for entry in self._entries(ids):
            log.warning("dropping %s notice for %s (id %d): %s", entry.notice.kind.value,
                        entry.notice.component, entry.id, reason)
        self._delete(ids)

    def failed(self, ids: Sequence[int], error: str) -> None:
        """Count a failed attempt; the entries stay queued."""
        with self._transaction():
            self._db.executemany(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                [(error, i) for i in ids])

    def _entries(self, ids: Sequence[int]) -> list[Entry]:
        wanted = set(ids)
        return [e for e in self.pending(limit=max(self.depth(), 1)) if e.id in wanted]

    def _delete(self, ids: Sequence[int]) -> None:
        with self._transaction():
            self._db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    def _transaction(self) -> contextlib.AbstractContextManager[None]:
        return transaction(self._db)
