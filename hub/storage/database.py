"""The hub's one SQLite file (`<state_dir>/outbox.sqlite`): the outbox and the journal
each open their own connection to it, in WAL mode, from the daemon's loop."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Literal


def open_database(path: Path | str, schema: str, *,
                  synchronous: Literal["FULL", "NORMAL"]) -> sqlite3.Connection:
    """Connect (creating the folder), switch to WAL, and create `schema` if missing.

    A reader elsewhere (a test, `divoom-hub check`) may hold the file for a moment, so a
    busy database is waited for rather than failing at once.
    """
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute("PRAGMA busy_timeout=5000")
    db.executescript(schema)
    return db


def describe_write_error(err: sqlite3.Error) -> str:
    """A write's failure in the owner's words: what is wrong with `state_dir`."""
    text = str(err)
    if "full" in text:  # SQLITE_FULL: "database or disk is full"
        return "state_dir is full"
    if "readonly" in text or "read-only" in text:
        return "state_dir is read-only"
    return f"cannot write to state_dir ({text})"


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction (taken at once, so a second writer waits): all or nothing."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        # A failed COMMIT (the disk is full) leaves the transaction open, and an error
        # may have rolled it back already: end it either way, so the next one can begin.
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
