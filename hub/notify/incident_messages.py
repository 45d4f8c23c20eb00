"""Each incident's alert message, and the edits that keep it current (docs/delivery.md).

When an alert is posted, the message Discord made of it is remembered: its id, where the
alert's embed sits among the message's embeds, the embeds as last sent, and the alert.
As the incident moves (a reminder, an ack, the recovery) an **edit** is queued for it:
the incident's newest notice, from which the message is drawn again
(`embeds.incident_embed`). Only the latest edit per incident is kept (a newer one
replaces it), so an outage of days leaves one edit per incident, not one per reminder.

Everything lives in three tables of the outbox's SQLite file (same connection, same
durability), so a kill -9 and a restart lose neither a message id nor a queued edit.
Kept in memory too: when a write fails (a full disk) the process goes on from memory,
the failure logged once; what was not written is lost at a restart, which costs only
edits, the least of what the outbox carries.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from hub.storage.database import describe_write_error, transaction
from hub.trouble import Trouble
from machines import Notice, NoticeKind

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS incident_message (
    incident TEXT PRIMARY KEY,
    message_id TEXT NOT NULL,
    embed_index INTEGER NOT NULL,
    alert TEXT NOT NULL,
    latest TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS message_embeds (
    message_id TEXT PRIMARY KEY,
    embeds TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox_edit (
    incident TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    notice TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Edit:
    """A queued edit: draw `incident`'s message again from `notice` (`seq` orders them)."""

    incident: str
    seq: int
    notice: Notice

    @property
    def size_bytes(self) -> int:
        return len(_dump(self.notice).encode())


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """Where an incident's alert was posted, and what that message shows now."""

    incident: str
    message_id: str
    embed_index: int
    alert: Notice
    latest: Notice


class IncidentMessages:
    """The message ids and the queued edits, on the outbox's connection (one thread)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._messages: dict[str, AlertMessage] = {}
        self._embeds: dict[str, list[dict[str, Any]]] = {}
        self._edits: dict[str, Edit] = {}
        self._writing = Trouble(log, "outbox: writing an incident's message")
        for incident, message_id, index, alert, latest in db.execute(
                "SELECT incident, message_id, embed_index, alert, latest FROM incident_message"):
            alert_notice, latest_notice = _load(alert), _load(latest)
            if alert_notice is not None and latest_notice is not None:
                self._messages[incident] = AlertMessage(incident, message_id, index,
                                                        alert_notice, latest_notice)
        for message_id, embeds in db.execute("SELECT message_id, embeds FROM message_embeds"):
            self._embeds[message_id] = json.loads(embeds)
        for incident, seq, notice in db.execute(
                "SELECT incident, seq, notice FROM outbox_edit ORDER BY seq"):
            loaded_notice = _load(notice)
            if loaded_notice is not None:
                self._edits[incident] = Edit(incident, seq, loaded_notice)
        self._last_seq = max((e.seq for e in self._edits.values()), default=0)

    # --- what the daemon and the outbox tell it -------------------------------------

    def put_edit(self, notice: Notice) -> bool:
        """Queue the edit that draws `notice.incident`'s message from `notice`, replacing
        any edit still queued for it. False (nothing queued) without an incident."""
        if notice.incident is None:
            return False
        self._last_seq += 1
        edit = Edit(notice.incident, self._last_seq, notice)
        self._edits.pop(notice.incident, None)
        self._edits[notice.incident] = edit  # last in the dict: the newest
        self._write("INSERT OR REPLACE INTO outbox_edit (incident, seq, notice) "
                    "VALUES (?, ?, ?)", (edit.incident, edit.seq, _dump(notice)))
        return True

    def acked(self, incident: str, by: str, reason: str = "") -> bool:
        """Queue the edit that shows who acked `incident`; False when its message is not
        known (not posted yet, posted in a storm summary, or already recovered)."""
        base = self._edits.get(incident)
        current = base.notice if base is not None else None
        if current is None and incident in self._messages:
            current = self._messages[incident].latest
        if current is None:
            return False
        return self.put_edit(replace(current, acked_by=by, ack_reason=reason))

    def posted(self, alert: Notice, message_id: str, embed_index: int,
               embeds: list[dict[str, Any]]) -> None:
        """An alert went out as embed `embed_index` of message `message_id`."""
        assert alert.incident is not None
        message = AlertMessage(alert.incident, message_id, embed_index, alert, alert)
        self._messages[alert.incident] = message
        self._embeds[message_id] = embeds
        self._write_message(message, embeds)

    # --- what delivery asks --------------------------------------------------------

    def message_of(self, incident: str | None) -> AlertMessage | None:
        return self._messages.get(incident) if incident is not None else None

    def embeds_of(self, message_id: str) -> list[dict[str, Any]]:
        return list(self._embeds.get(message_id, []))

    def pending(self) -> list[Edit]:
        """The queued edits, oldest first."""
        return sorted(self._edits.values(), key=lambda e: e.seq)

    @property
    def size_bytes(self) -> int:
        return sum(edit.size_bytes for edit in self._edits.values())

    def edited(self, edits: list[Edit], embeds: list[dict[str, Any]]) -> None:
        """These edits of one message went out; it now shows `embeds`. An incident that
        recovered is forgotten: nothing will change its message again."""
        for edit in edits:
            self._settle(edit)
            message = self._messages.get(edit.incident)
            if message is None:
                continue
            if edit.notice.kind is NoticeKind.RECOVERY:
                self._messages.pop(edit.incident)
                self._write("DELETE FROM incident_message WHERE incident = ?", (edit.incident,))
                continue
            updated = replace(message, latest=edit.notice)
            self._messages[edit.incident] = updated
            self._embeds[message.message_id] = embeds
            self._write_message(updated, embeds)
        self._forget_unused_embeds()

    def drop(self, edits: list[Edit], reason: str, *, forget_message: bool = False,
             quiet: bool = False) -> None:
        """Give these edits up, with a log line (`quiet`: for debugging only, when
        nothing was lost); `forget_message` when the message is gone."""
        for edit in edits:
            log.log(logging.DEBUG if quiet else logging.WARNING,
                    "dropping the edit of %s's alert message: %s", edit.incident, reason)
            self._settle(edit)
            if forget_message and self._messages.pop(edit.incident, None) is not None:
                self._write("DELETE FROM incident_message WHERE incident = ?", (edit.incident,))
        self._forget_unused_embeds()

    def _settle(self, edit: Edit) -> None:
        """Remove the edit unless a newer one replaced it meanwhile (that one still goes)."""
        queued = self._edits.get(edit.incident)
        if queued is not None and queued.seq == edit.seq:
            del self._edits[edit.incident]
            self._write("DELETE FROM outbox_edit WHERE incident = ? AND seq = ?",
                        (edit.incident, edit.seq))

    def _forget_unused_embeds(self) -> None:
        used = {m.message_id for m in self._messages.values()}
        for message_id in set(self._embeds) - used:
            del self._embeds[message_id]
            self._write("DELETE FROM message_embeds WHERE message_id = ?", (message_id,))

    def _write_message(self, message: AlertMessage, embeds: list[dict[str, Any]]) -> None:
        self._write_all([
            ("INSERT OR REPLACE INTO incident_message (incident, message_id, embed_index, "
             "alert, latest) VALUES (?, ?, ?, ?, ?)",
             (message.incident, message.message_id, message.embed_index,
              _dump(message.alert), _dump(message.latest))),
            ("INSERT OR REPLACE INTO message_embeds (message_id, embeds) VALUES (?, ?)",
             (message.message_id, json.dumps(embeds, ensure_ascii=False)))])

    def _write(self, sql: str, values: tuple[Any, ...]) -> None:
        self._write_all([(sql, values)])

    def _write_all(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        try:
            with transaction(self._db):
                for sql, values in statements:
                    self._db.execute(sql, values)
        except sqlite3.Error as err:
            self._writing.happened("outbox: %s; incidents' message ids and edits are kept "
                                   "in memory for this run (after a restart, what was not "
                                   "written is not edited)", describe_write_error(err))
            return
        self._writing.cleared("outbox: incidents' message ids are written again")


def _dump(notice: Notice) -> str:
    return json.dumps(notice.to_dict(), ensure_ascii=False)


def _load(text: str, parse: Callable[[dict[str, Any]], Notice] = Notice.from_dict
          ) -> Notice | None:
    """A stored notice, or None (logged) when this version cannot read it."""
    try:
        return parse(json.loads(text))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as err:
        log.error("outbox: a stored incident message cannot be read (%s); its edits are "
                  "given up", type(err).__name__)
        return None
