"""Forwarding incidents to Alertmanager through a durable queue of their own.

`AlertStore` is a table of `outbox.sqlite` (`alertmanager_alerts`, one row per incident
open in Alertmanager or waiting to be resolved there): an Alertmanager that is down or
restarted, or a hub that restarts, loses nothing, since every row is posted again until
Alertmanager took its recovery. `Forwarder` is the one task that posts: at once when a
notice changed a row, every `resend_seconds` for open incidents, sooner again after a
failed post. It reads the silences back in the same step. Credentials are sent, never
logged: errors name the status or the OS error only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from hub.fleet.alertmanager import (
    DEFAULT_SEVERITY,
    AlertmanagerSettings,
    alert_of,
    authorization,
    incident_of,
    posted,
    silences_of,
)
from hub.fleet.matchers import MatcherError
from hub.fleet.model import Forwarding, Silence
from hub.storage.database import open_database, transaction
from hub.trouble import Trouble
from machines import Notice, NoticeKind

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS alertmanager_alerts (
    incident TEXT PRIMARY KEY,
    alert TEXT NOT NULL,        -- the alert's JSON as posted, without endsAt
    resolved_at REAL,           -- the recovery's time; NULL while open
    posted_at REAL              -- when Alertmanager last took it; NULL: post now
);
"""
#: After a failed post, try again this soon (or at the resend, if that comes first):
#: an Alertmanager that restarts is back in seconds.
RETRY_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Row:
    incident: str
    alert: dict[str, Any]
    resolved_at: float | None


class AlertStore:
    """The incidents to post, in `outbox.sqlite` beside the outbox and the journal."""

    def __init__(self, path: Path | str) -> None:
        self._db = open_database(path, SCHEMA, synchronous="FULL")

    def close(self) -> None:
        self._db.close()

    def opened(self, incident: str, alert: Mapping[str, Any]) -> None:
        """An alert or reminder: the incident is (still) open; a new row is posted now."""
        with transaction(self._db):
            self._db.execute(
                "INSERT INTO alertmanager_alerts (incident, alert) VALUES (?, ?) "
                "ON CONFLICT (incident) DO UPDATE SET alert = excluded.alert, "
                "resolved_at = NULL", (incident, json.dumps(alert)))

    def resolved(self, incident: str, at: float) -> bool:
        """Its recovery: posted now with `endsAt`; False if the incident was never open."""
        with transaction(self._db):
            cursor = self._db.execute(
                "UPDATE alertmanager_alerts SET resolved_at = ?, posted_at = NULL "
                "WHERE incident = ?", (at, incident))
        return cursor.rowcount > 0

    def due(self, now: float, resend_seconds: float) -> list[Row]:
        """Rows never posted since they changed, and open ones not posted for a resend."""
        rows = self._db.execute(
            "SELECT incident, alert, resolved_at FROM alertmanager_alerts "
            "WHERE posted_at IS NULL OR (resolved_at IS NULL AND posted_at <= ?) "
            "ORDER BY incident", (now - resend_seconds,)).fetchall()
        return [Row(incident, json.loads(alert), resolved_at)
                for incident, alert, resolved_at in rows]

    def taken(self, rows: list[Row], at: float) -> None:
        """Alertmanager took these: a resolved one is done, an open one is posted again
        a resend later."""
        with transaction(self._db):
            for row in rows:
                if row.resolved_at is not None:
                    self._db.execute("DELETE FROM alertmanager_alerts WHERE incident = ? "
                                     "AND resolved_at IS NOT NULL AND posted_at IS NULL",
                                     (row.incident,))
                else:
                    self._db.execute("UPDATE alertmanager_alerts SET posted_at = ? "
                                     "WHERE incident = ? AND resolved_at IS NULL",
                                     (at, row.incident))

    def open_labels(self) -> list[dict[str, str]]:
        """The labels of every incident still open (for matching silences)."""
        return [json.loads(alert)["labels"] for (alert,) in self._db.execute(
            "SELECT alert FROM alertmanager_alerts WHERE resolved_at IS NULL")]

    def counts(self) -> tuple[int, int]:
        """(open incidents, rows waiting for their first post since they changed)."""
        row = self._db.execute(
            "SELECT COUNT(*) FILTER (WHERE resolved_at IS NULL), "
            "COUNT(*) FILTER (WHERE posted_at IS NULL) FROM alertmanager_alerts").fetchone()
        return int(row[0]), int(row[1])


class Forwarder:
    """Incidents in, Alertmanager posts out; silences back. Used on the daemon's loop."""

    def __init__(self, settings: AlertmanagerSettings, store: AlertStore, hub: str,
                 clock: Callable[[], float], *, token: str = "", password: str = "",
                 severity: Callable[[str], str] = lambda _: DEFAULT_SEVERITY,
                 generator_url: str = "") -> None:
        self.settings = settings
        self._store = store
        self._hub = hub
        self._clock = clock
        self._severity = severity
        self.generator_url = generator_url
        auth = authorization(settings, token, password)
        self._headers = {"Authorization": auth} if auth else {}
        self._wake = asyncio.Event()
        self._trouble = Trouble(log, f"posting to Alertmanager at {settings.shown_url()}")
        self._storage = Trouble(log, "keeping Alertmanager's incidents in outbox.sqlite")
        self._silence_trouble = Trouble(log, "reading Alertmanager's silences")
        self.last_error = ""
        self.last_posted_at: float | None = None
        self.silences: tuple[Silence, ...] = ()

    def close(self) -> None:
        self._store.close()

    def record(self, notice: Notice) -> None:
        """An alert, reminder or recovery changes its incident's row (others do nothing)."""
        incident = incident_of(notice)
        # A held alert (muted, acknowledged, in maintenance) stays held here too: it is
        # posted when the hub sends it late. A recovery always resolves what was posted.
        if incident is None or (not notice.is_sent and notice.kind is not NoticeKind.RECOVERY):
            return
        try:
            if notice.kind is NoticeKind.RECOVERY:
                self._store.resolved(incident, notice.at)
            else:
                self._store.opened(incident, alert_of(
                    notice, self._hub, self._severity(notice.component),
                    self.generator_url))
        except sqlite3.Error as err:
            self._storage.happened("cannot keep the incident %s for Alertmanager (%s): it "
                                   "is not forwarded", incident, err)
            return
        self._storage.cleared()
        self._wake.set()

    def status(self) -> Forwarding:
        open_alerts, waiting = self._store.counts()
        return Forwarding(url=self.settings.shown_url(), open_alerts=open_alerts,
                          waiting=waiting, last_error=self.last_error,
                          last_posted_at=self.last_posted_at)

    async def step(self, session: aiohttp.ClientSession) -> bool:
        """Post what is due, then read the silences; whether every post was taken."""
        now = self._clock()
        try:
            rows = self._store.due(now, self.settings.resend_seconds)
        except sqlite3.Error as err:
            self._storage.happened("cannot read the incidents for Alertmanager from "
                                   "outbox.sqlite (%s)", err)
            return False
        is_ok = True
        if rows:
            is_ok = await self._post(session, rows, now)
        await self._read_silences(session)
        return is_ok

    async def _post(self, session: aiohttp.ClientSession, rows: list[Row], now: float) -> bool:
        body = [posted(row.alert, now=now, resend_seconds=self.settings.resend_seconds,
                       resolved_at=row.resolved_at) for row in rows]
        error = ""
        try:
            async with session.post(f"{self.settings.url}/api/v2/alerts", json=body,
                                    headers=self._headers) as response:
                if response.status >= 300:
                    error = f"HTTP {response.status}: {(await response.text())[:200]}"
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            error = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        if error:
            self.last_error = error
            self._trouble.happened("cannot post to Alertmanager at %s (%s): %d incidents "
                                   "are kept and posted again", self.settings.shown_url(),
                                   error, len(rows), level=logging.WARNING)
            return False
        try:
            self._store.taken(rows, now)
        except sqlite3.Error as err:  # posted again next time: Alertmanager dedups them
            self._storage.happened("cannot note the posts to Alertmanager in outbox.sqlite "
                                   "(%s)", err)
            return False
        self.last_error, self.last_posted_at = "", now
        self._trouble.cleared()
        return True

    async def _read_silences(self, session: aiohttp.ClientSession) -> None:
        try:
            async with session.get(f"{self.settings.url}/api/v2/silences",
                                   headers=self._headers) as response:
                if response.status != 200:
                    raise aiohttp.ClientResponseError(response.request_info, (),
                                                      status=response.status)
                document = await response.json()
            self.silences = silences_of(document, self._hub, self._store.open_labels(),
                                        self._clock())
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError, MatcherError) as err:
            self._silence_trouble.happened("cannot read Alertmanager's silences (%s)",
                                           type(err).__name__, level=logging.WARNING)
            return
        self._silence_trouble.cleared()

    async def run(self, stop: asyncio.Event) -> None:
        """Step until `stop`: at once on a new notice, else at the resend (or the retry)."""
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_seconds)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not stop.is_set():
                self._wake.clear()
                is_ok = await self.step(session)
                wait = self.settings.resend_seconds if is_ok \
                    else min(RETRY_SECONDS, self.settings.resend_seconds)
                await _first_of(self._wake, stop, wait)


async def _first_of(wake: asyncio.Event, stop: asyncio.Event, seconds: float) -> None:
    """Wait until `wake` or `stop` is set, or `seconds` pass."""
    waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        for waiter in waiters:
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
