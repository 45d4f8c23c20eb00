"""Turn pending outbox entries into as few Discord messages as possible (pure).

A few notices go out as one embed each, packed up to 10 embeds and 6000 characters per
message. A storm — more than `STORM_THRESHOLD` health notices pending at once, e.g. the
network dropped and every component failed — becomes summary embeds that list one line
per notice, so the owner reads one message instead of dozens and the webhook stays far
from its rate limit. Order is kept: entries are consumed oldest first, and a message
only ever carries a contiguous run of them.

A message with a critical alert (hub/notify/alerting.py) pings the configured role or
user and allows exactly that mention. A message that moves an incident on (a reminder,
a recovery) says which alert message it answers (`message_reference`), for the bot to
post it as a reply; a webhook cannot reply and leaves it out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hub.formatting import duration, iso, sanitize
from hub.notify.alerting import Alerting, Severity
from hub.notify.embeds import (
    COLOURS,
    DESCRIPTION_MAX,
    embed_for,
    fit_embed,
    message_payload,
    pack_messages,
)
from hub.notify.outbox import Entry
from machines import Notice, NoticeKind

#: More pending health notices than this are summarised: five embeds still read as
#: separate events on a phone; beyond that they read as a wall.
STORM_THRESHOLD = 5

_HEALTH = (NoticeKind.ALERT, NoticeKind.REMINDER, NoticeKind.RECOVERY)


@dataclass(frozen=True, slots=True)
class Message:
    """One Discord message, the outbox ids it delivers and their notices.

    `embed_index[i]` is where `notices[i]`'s own embed sits in the payload (None when it
    is a line of a storm summary): an alert's message is edited there later.
    """

    ids: tuple[int, ...]
    payload: dict[str, Any]
    notices: tuple[Notice, ...]
    embed_index: tuple[int | None, ...] = ()


@dataclass(frozen=True, slots=True)
class _Unit:
    entries: tuple[Entry, ...]
    embed: dict[str, Any]
    is_summary: bool = False  # lines of a storm summary, not one notice's own embed


#: The alert message an incident's later messages answer: its id, or None when unknown.
ReplyTo = Callable[[str | None], str | None]


def plan_messages(entries: Sequence[Entry], hub_name: str, alerting: Alerting | None = None,
                  reply_to: ReplyTo | None = None) -> list[Message]:
    """The messages that deliver `entries`, in order.

    `alerting` gives each health notice's severity (shown) and the critical mention;
    `reply_to` the alert message a reminder or recovery answers.
    """
    units: list[_Unit] = []
    run: list[Entry] = []

    def severity(notice: Notice) -> Severity | None:
        return alerting.severity_for(notice.component) if alerting is not None else None

    def flush_run() -> None:
        if len(run) > STORM_THRESHOLD:
            units.extend(_summary_units(run, hub_name))
        else:
            units.extend(_Unit((e,), embed_for(e.notice, hub_name, severity(e.notice)))
                         for e in run)
        run.clear()

    for entry in entries:
        if entry.notice.kind in _HEALTH:
            run.append(entry)
            continue
        flush_run()
        units.append(_Unit((entry,), embed_for(entry.notice, hub_name)))
    flush_run()
    return [_message(group, alerting, reply_to)
            for group in pack_messages(units, lambda unit: unit.embed)]


def _message(group: list[_Unit], alerting: Alerting | None,
             reply_to: ReplyTo | None) -> Message:
    notices = tuple(e.notice for unit in group for e in unit.entries)
    mention = alerting.mention_critical if alerting is not None else None
    pings = mention is not None and alerting is not None and any(
        n.kind is NoticeKind.ALERT and n.is_sent
        and alerting.severity_for(n.component) is Severity.CRITICAL for n in notices)
    payload = message_payload((unit.embed for unit in group),
                              content=mention.content if pings and mention else "",
                              allowed_mentions=mention.allowed_mentions
                              if pings and mention else None)
    if reply_to is not None:
        answered = next((mid for n in notices
                         if n.kind in (NoticeKind.REMINDER, NoticeKind.RECOVERY)
                         for mid in [reply_to(n.incident)] if mid is not None), None)
        if answered is not None:
            payload["message_reference"] = {"message_id": answered,
                                            "fail_if_not_exists": False}
    return Message(ids=tuple(e.id for unit in group for e in unit.entries), payload=payload,
                   notices=notices,
                   embed_index=tuple(None if unit.is_summary else index
                                     for index, unit in enumerate(group)
                                     for _ in unit.entries))


def summary_line(notice: Notice) -> str:
    name = sanitize(notice.component)
    if notice.kind is NoticeKind.ALERT:
        return (f"🔴 **{name}** failing: {notice.error_type or 'error'} "
                f"({notice.failures} failures, {duration(notice.failing_for_seconds)})")
    if notice.kind is NoticeKind.REMINDER:
        return (f"🟠 **{name}** still failing: {notice.error_type or 'error'} "
                f"(reminder {notice.reminder}, {duration(notice.failing_for_seconds)})")
    return f"🟢 **{name}** recovered after {duration(notice.downtime_seconds or 0.0)}"


def _summary_units(run: Sequence[Entry], hub_name: str) -> list[_Unit]:
    """Summary embeds for a run of health notices, each within the description limit."""
    chunks: list[list[tuple[Entry, str]]] = [[]]
    size = 0
    for entry in run:
        line = summary_line(entry.notice)
        if chunks[-1] and size + len(line) + 1 > DESCRIPTION_MAX:
            chunks.append([])
            size = 0
        chunks[-1].append((entry, line))
        size += len(line) + 1
    failing = sum(1 for e in run if e.notice.kind is not NoticeKind.RECOVERY)
    recovered = len(run) - failing
    title = f"⚠️ {len(run)} changes at once: {failing} failing, {recovered} recovered"
    units = []
    for number, chunk in enumerate(chunks, start=1):
        kinds = {entry.notice.kind for entry, _ in chunk}
        colour_kind = next(k for k in _HEALTH if k in kinds)
        units.append(_Unit(
            entries=tuple(entry for entry, _ in chunk),
            embed=fit_embed({
                "title": title if number == 1 else f"{title} (continued, {number})",
                "description": "\n".join(line for _, line in chunk),
                "color": COLOURS[colour_kind],
                "fields": [],
                "footer": {"text": hub_name},
                "timestamp": iso(max(entry.notice.at for entry, _ in chunk)),
            }),
            is_summary=True,
        ))
    return units
