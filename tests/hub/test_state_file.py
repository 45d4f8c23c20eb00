"""A damaged, missing or foreign `outbox.sqlite` never stops the start and loses nothing
that can still be read: it is moved aside, kept, and the owner is told."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.app import run_daemon
from hub.config import load_config
from hub.notify.outbox import Outbox
from hub.secrets import Secrets
from hub.storage.journal import Journal
from hub.storage.state_file import prepare_state_file
from machines import Notice, NoticeKind
from tests.daemon import Lines

NOW = datetime(2026, 11, 30, 1, 15, tzinfo=UTC)
QUEUED = [Notice(kind=NoticeKind.ALERT, component=f"c{i}", at=float(i), error_detail="x" * 400)
          for i in range(40)]


def state_file(folder: Path) -> Path:
    """A state file as a hub leaves it: 40 notices queued, a run journaled, WAL merged."""
    path = folder / "outbox.sqlite"
    assert prepare_state_file(path, NOW).problem is None  # a first start: nothing to say
    with Outbox(path) as outbox, Journal(path) as journal:
        journal.begin_run(1.0)
        outbox.put(QUEUED)
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path


def truncate_half(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def garbage_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[:100] = b"not a database, " * 6 + b"junk"
    path.write_bytes(bytes(data))


#: A table leaf page starts with an 8-byte header, then the cells' 2-byte pointers.
LEAF_HEADER_BYTES = 8


def flip_bytes(path: Path) -> None:
    """On every other page holding queued rows, the first cell's pointer is flipped (the
    rows on it are lost, the others readable), wherever in the file the rows lie: the
    pages of other tables come first, and how many depends on the version."""
    db = sqlite3.connect(path)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    leaves = [p for (p,) in db.execute(
        "SELECT pageno FROM dbstat WHERE name = 'outbox' AND pagetype = 'leaf' "
        "ORDER BY pageno")]
    db.close()
    data = bytearray(path.read_bytes())
    for page in leaves[1::2]:
        data[(page - 1) * page_size + LEAF_HEADER_BYTES] ^= 0xFF
    path.write_bytes(bytes(data))


def text_file(path: Path) -> None:
    path.write_text("queued notices, as I remember them\n", encoding="utf-8")


def directory(path: Path) -> None:
    path.unlink()
    (path / "inside").mkdir(parents=True)


def old_schema(path: Path) -> None:
    """A file of an older version: the outbox without its attempts and last_error."""
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE outbox_new (id INTEGER PRIMARY KEY, component TEXT, kind TEXT,
                                 notice TEXT);
        INSERT INTO outbox_new SELECT id, component, kind, notice FROM outbox;
        DROP TABLE outbox;
        ALTER TABLE outbox_new RENAME TO outbox;
    """)
    db.close()


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": truncate_half, "garbage-header": garbage_header, "flipped-bytes": flip_bytes,
    "text-file": text_file, "directory": directory, "old-schema": old_schema,
}


@pytest.mark.parametrize("name", list(DAMAGE))
def test_a_damaged_file_is_moved_aside_kept_and_replaced_keeping_what_can_be_read(
        tmp_path, name, caplog):
    path = state_file(tmp_path)
    DAMAGE[name](path)
    before = sorted(p.name for p in tmp_path.iterdir())

    report = prepare_state_file(path, NOW)

    assert report.problem is not None
    assert report.moved_to == tmp_path / "outbox.sqlite.damaged-20261130T011500Z"
    assert report.moved_to.exists() and not path.exists()  # kept, out of the way
    assert "outbox.sqlite.damaged-20261130T011500Z" in caplog.text
    # Never lose what can still be read: every rescued notice is one that was queued, in
    # order; a file whose rows are intact gives all of them back.
    assert list(report.rescued) == [n for n in QUEUED if n in report.rescued]
    if name in ("old-schema",):
        assert list(report.rescued) == QUEUED
    # The hub starts on a fresh file, with the rescued notices queued again.
    with Outbox(path) as outbox, Journal(path) as journal:
        outbox.put(report.rescued)
        assert [e.notice for e in outbox.pending(limit=100)] == list(report.rescued)
        assert journal.previous_run() is None
    assert len(list(tmp_path.iterdir())) >= len(before)


def test_flipped_bytes_still_give_back_the_rows_they_did_not_touch(tmp_path):
    path = state_file(tmp_path)
    flip_bytes(path)
    report = prepare_state_file(path, NOW)
    assert report.problem is not None and "corrupt" in report.problem
    assert 0 < len(report.rescued) < len(QUEUED)


@pytest.mark.parametrize("loss", ["missing", "empty"])
def test_a_state_file_gone_since_the_last_run_is_said_not_silently_started_afresh(
        tmp_path, loss, caplog):
    path = state_file(tmp_path)
    path.unlink()
    if loss == "empty":
        path.write_bytes(b"")
    report = prepare_state_file(path, NOW)
    assert report.problem == loss and report.moved_to is None
    assert f"the state file was {loss} at start" in report.describe()
    assert "notices queued before" in caplog.text


def test_a_good_file_is_left_alone(tmp_path):
    path = state_file(tmp_path)
    report = prepare_state_file(path, NOW)
    assert report.problem is None and report.rescued == ()
    with Outbox(path) as outbox:
        assert [e.notice for e in outbox.pending(limit=100)] == QUEUED


def test_the_daemon_starts_on_a_damaged_file_delivers_what_it_held_and_says_so(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    path = state_file(state)
    old_schema(path)
    config_path = tmp_path / "hub.toml"
    config_path.write_text(textwrap.dedent(f"""
        [hub]
        name = "shelf-pi"
        state_dir = "{state}"
        http_listen = ""
    """), encoding="utf-8")

    async def scenario() -> list[str]:
        lines, stop = Lines(30.0), asyncio.Event()
        daemon = asyncio.create_task(run_daemon(load_config(config_path), Secrets(),
                                                lines.write, stop))
        await lines.wait_for("damaged")
        stop.set()
        assert await asyncio.wait_for(daemon, timeout=30) == 0
        return lines.lines

    lines = asyncio.run(scenario())
    kinds = [line.split()[1] for line in lines]
    # The rescued notices first (they were queued before), then this run's own.
    assert kinds[:len(QUEUED)] == ["ALERT"] * len(QUEUED)
    assert [line.split()[2] for line in lines[:len(QUEUED)]] == [n.component for n in QUEUED]
    assert kinds[len(QUEUED):] == ["STARTED", "DIAGNOSTIC", "STOPPED"]
    assert "ERROR: the state file was damaged (from another version" in lines[-2]
    assert "40 queued notices could be read" in lines[-2]
    assert any(p.name.startswith("outbox.sqlite.damaged-") for p in state.iterdir())
