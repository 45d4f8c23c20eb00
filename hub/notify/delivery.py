"""Delivery: move notices from the outbox to a transport, in order, without hammering.

`step()` is one unit of work a test can call: plan the pending entries into messages,
send them oldest first, and say how long to wait before the next attempt. Only
`run()` waits. A failed send stops the round, so a later message never overtakes an
earlier one; retries back off exponentially with jitter, or wait exactly as long as
Discord's `retry_after` asks. A permanent failure (webhook deleted, token rejected)
stops delivery for good, is logged once, and keeps every notice in the outbox. When
Discord refuses a message (HTTP 400) that packs several notices, they are sent one per
message, so only the notice Discord cannot take is dropped, not its neighbours.

Messages are spaced: the first notice of a burst goes out at once, and what follows
within `message_interval_seconds` waits and is packed into the next message. When many
components fail together (a storm) the owner gets the first alert immediately and one
summary of the rest a second later, instead of a wall of messages. A transport that
knows its rate limit (`seconds_until_ready`) is asked before a message is planned, so
notices arriving while the bucket refills join the message instead of queueing behind it.

**Edits come last.** When an alert is posted, the message id Discord gave it is kept
(hub/notify/incident_messages.py); a reminder or recovery (or an ack) queues an edit of
that message. Edits go out only when no new message is pending, the latest per message
only, spaced and rate-limited like messages. An edit whose message is gone (HTTP 404) or
is refused (HTTP 400) is dropped with a log line; one that fails otherwise is retried with
the same backoff as a message.

`run()` never dies of an exception in a step: with `on_fault` it hands the error on
(the hub's own component, hub/selfcheck.py) and tries again after `FAULT_RETRY_SECONDS`.
Its status says how overdue the next attempt is (`overdue_seconds`, on a monotonic
clock): an outbox that should drain and does not shows in /health and the watchdog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from hub.notify.alerting import Alerting
from hub.notify.embeds import incident_embed, message_payload
from hub.notify.incident_messages import Edit
from hub.notify.outbox import Entry, Outbox
from hub.notify.packing import Message, plan_messages
from hub.notify.transport import (
    MessageGone,
    PayloadRejected,
    PermanentError,
    RetryableError,
    Transport,
)
from machines import NoticeKind, Outcome

log = logging.getLogger(__name__)

#: One message per second at worst while Discord is failing, one per 5 minutes at best.
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 300.0
PENDING_BATCH = 200  # entries planned per round; the rest go in the next round at once
#: A storm's notices arrive within a second of each other (one poll round): this turns
#: them into two messages (the first alert, then a summary). Well below Discord's
#: webhook limits (5 per 2 s per webhook, about 30 per minute per channel).
MESSAGE_INTERVAL_SECONDS = 1.0
#: After a step raised (a bug, or a disk that fails reads): try again this soon, slowly
#: enough that a persistent fault costs nothing and logs nothing more.
FAULT_RETRY_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """What `status` shows about delivery."""

    transport: str
    state: str  # idle | retrying | stopped
    detail: str
    sent: int
    failed_attempts: int
    #: How long past its due time the next attempt is (0 when on time or idle): a loop
    #: that stopped stepping shows here (hub/status/liveness.py).
    overdue_seconds: float = 0.0


class Delivery:
    def __init__(self, outbox: Outbox, transport: Transport, hub_name: str,
                 clock: Callable[[], float],
                 report: Callable[[Outcome], None] | None = None,
                 rng: random.Random | None = None,
                 message_interval_seconds: float = MESSAGE_INTERVAL_SECONDS,
                 on_fault: Callable[[str, Exception], None] | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 alerting: Alerting | None = None) -> None:
        self._outbox = outbox
        self._alerting = alerting or Alerting()
        self._transport = transport
        self._hub_name = hub_name
        self._clock = clock
        self._report = report
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._attempt = 0
        self._sent = 0
        self._failed_attempts = 0
        self._stopped_because = ""
        self._retry_detail = ""
        self._alone: set[int] = set()  # outbox ids to send one per message (after a 400)
        self._message_interval = message_interval_seconds
        self._last_sent_at = float("-inf")
        self._on_fault = on_fault
        self._monotonic = monotonic
        self._due_at: float | None = None  # on `monotonic`: when `run` means to step next

    @property
    def status(self) -> DeliveryStatus:
        if self._stopped_because:
            state, detail = "stopped", self._stopped_because
        elif self._attempt:
            state, detail = "retrying", self._retry_detail
        else:
            state, detail = "idle", ""
        overdue = 0.0 if self._due_at is None else max(self._monotonic() - self._due_at, 0.0)
        return DeliveryStatus(self._transport.name, state, detail, self._sent,
                              self._failed_attempts, overdue)

    def wake(self) -> None:
        """New notices are in the outbox."""
        self._wake.set()

    async def step(self) -> float | None:
        """Send what is pending. Returns seconds until the next attempt, or None if idle."""
        if self._stopped_because:
            return None
        pending = self._outbox.pending(limit=PENDING_BATCH)
        if not pending:
            return await self._send_edits()
        for message in self._plan(pending):
            wait = self._seconds_until_ready()
            if wait > 0:
                return wait
            started = self._clock()
            try:
                message_id = await self._transport.send(message.payload, list(message.notices))
            except PermanentError as err:
                self._stop(err, started)
                return None
            except PayloadRejected as err:
                if len(message.ids) > 1:
                    # One of them is at fault, not all: find out by sending them singly.
                    log.warning("Discord refused a message of %d notices (%s); sending "
                                "them one by one", len(message.ids), err)
                    self._alone.update(message.ids)
                    return 0.0
                self._outbox.drop(message.ids, str(err))
                self._alone.difference_update(message.ids)
                continue
            except RetryableError as err:
                self._outbox.failed(message.ids, err.error_type)
                return self._retry_later(err, started, "sending")
            self._outbox.ack(message.ids)
            self._alone.difference_update(message.ids)
            if message_id is not None:
                self._remember_alerts(message, message_id)
            self._sent += len(message.ids)
            self._went_through(started)
        return 0.0 if self._outbox.depth() or self._outbox.edits.pending() else None

    def _stop(self, err: PermanentError, started: float) -> None:
        """Delivery cannot go on (the webhook was deleted): stop for good, loudly."""
        self._stopped_because = str(err)
        log.error("delivery via %s stopped: %s; %d notices are kept in the outbox",
                  self._transport.name, err, self._outbox.depth())
        self._report_outcome(False, started, err.error_type, str(err))

    def _went_through(self, started: float) -> None:
        self._last_sent_at = self._clock()
        if self._attempt:
            log.info("sending via %s works again", self._transport.name)
        self._attempt = 0
        self._report_outcome(True, started)

    def _remember_alerts(self, message: Message, message_id: str) -> None:
        """Where each alert with its own embed went: its message is edited later."""
        embeds = list(message.payload.get("embeds", []))
        for notice, index in zip(message.notices, message.embed_index, strict=True):
            if notice.kind is NoticeKind.ALERT and notice.incident is not None \
                    and index is not None:
                self._outbox.edits.posted(notice, message_id, index, embeds)

    async def _send_edits(self) -> float | None:
        """Send the queued edits, one request per message; the wait, as `step` returns."""
        edits = self._outbox.edits
        by_message: dict[str, list[Edit]] = {}
        for edit in edits.pending():
            posted = edits.message_of(edit.incident)
            if posted is None:
                edits.drop([edit], "its alert message is not known (not posted yet with an "
                           "embed of its own, or posted by an older version)", quiet=True)
                continue
            by_message.setdefault(posted.message_id, []).append(edit)
        for message_id, group in by_message.items():
            wait = self._seconds_until_ready()
            if wait > 0:
                return wait
            embeds = edits.embeds_of(message_id)
            for edit in group:
                posted = edits.message_of(edit.incident)
                if posted is not None and posted.embed_index < len(embeds):
                    embeds[posted.embed_index] = incident_embed(
                        posted.alert, edit.notice, self._hub_name,
                        self._alerting.severity_for(edit.notice.component))
            started = self._clock()
            try:
                await self._transport.edit(message_id, message_payload(embeds))
            except MessageGone as err:
                edits.drop(group, str(err), forget_message=True)
                continue
            except PayloadRejected as err:
                edits.drop(group, str(err))
                continue
            except PermanentError as err:
                self._stop(err, started)
                return None
            except RetryableError as err:
                return self._retry_later(err, started, "editing")
            edits.edited(group, embeds)
            self._went_through(started)
        return 0.0 if edits.pending() else None

    def _retry_later(self, err: RetryableError, started: float, doing: str) -> float:
        """Count a failed attempt; how long to wait before the next one."""
        self._attempt += 1
        self._failed_attempts += 1
        delay = err.retry_after if err.retry_after is not None else self._backoff()
        self._retry_detail = f"{err} (attempt {self._attempt}, next in {delay:.0f} s)"
        log.warning("%s via %s failed: %s; retrying in %.1f s", doing,
                    self._transport.name, err, delay)
        self._report_outcome(False, started, err.error_type, str(err))
        return delay

    def _seconds_until_ready(self) -> float:
        """How long the next message must wait: spacing, and the transport's rate limit."""
        spacing = self._last_sent_at + self._message_interval - self._clock()
        ready_in: Callable[[], float] | None = getattr(self._transport, "seconds_until_ready",
                                                       None)
        return max(spacing, ready_in() if ready_in is not None else 0.0, 0.0)

    def _plan(self, pending: list[Entry]) -> list[Message]:
        """The messages for `pending`, in order; entries marked alone get one each."""
        def plan(entries: list[Entry]) -> list[Message]:
            return plan_messages(entries, self._hub_name, self._alerting, self._reply_to)

        if not self._alone:
            return plan(pending)
        messages: list[Message] = []
        run: list[Entry] = []
        for entry in pending:
            if entry.id not in self._alone:
                run.append(entry)
                continue
            messages += plan(run)
            messages += plan([entry])
            run = []
        return messages + plan(run)

    def _reply_to(self, incident: str | None) -> str | None:
        posted = self._outbox.edits.message_of(incident)
        return posted.message_id if posted is not None else None

    def _backoff(self) -> float:
        raw = min(BACKOFF_FIRST_SECONDS * 2.0 ** (self._attempt - 1), BACKOFF_MAX_SECONDS)
        return raw * self._rng.uniform(0.8, 1.2)

    def _report_outcome(self, ok: bool, started: float, error_type: str = "",
                        detail: str = "") -> None:
        if self._report is None:
            return
        now = self._clock()
        self._report(Outcome(component="discord", ok=ok, at=now,
                             latency_seconds=now - started, error_type=error_type,
                             detail=detail))

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set: on new notices at once, on failures after backoff."""
        while not stop.is_set():
            self._wake.clear()
            self._due_at = self._monotonic()
            delay = await self._guarded_step()
            self._due_at = None if delay is None else self._monotonic() + delay
            if delay == 0.0:
                continue
            # While backing off, new notices do not cut the wait short: that is what
            # would turn one failure into a burst of requests.
            waits = [stop.wait()] if delay is not None else [stop.wait(), self._wake.wait()]
            tasks = [asyncio.ensure_future(w) for w in waits]
            try:
                await asyncio.wait(tasks, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _guarded_step(self) -> float | None:
        if self._on_fault is None:
            return await self.step()
        try:
            return await self.step()
        except Exception as err:  # noqa: BLE001 - delivery's one supervisor
            self._on_fault("delivering notices", err)
            return FAULT_RETRY_SECONDS

    async def drain(self, timeout_seconds: float) -> int:
        """Try to empty the outbox (edits too) within `timeout_seconds`; returns how many
        notices are left (edits left are kept for the next start)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                while (self._outbox.depth() or self._outbox.edits.pending()) \
                        and not self._stopped_because:
                    delay = await self._guarded_step()
                    if delay is None:
                        break
                    if delay:
                        await asyncio.sleep(min(delay, max(deadline - loop.time(), 0)))
        left = self._outbox.depth()
        if left:
            log.warning("%d notices still queued at shutdown; they are sent on the next start",
                        left)
        return left
