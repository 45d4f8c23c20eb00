"""Discord payloads for notices: pure functions, no I/O.

Every Discord limit (DESIGN.md, "Discord facts that matter") is enforced here by
truncation, so a send never fails with HTTP 400 because of what we wrote. Error text
comes from the outside world and is untrusted: control characters are removed, it is
shown in a code block, and `allowed_mentions` pings nobody.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from hub.diagnostics import Level, diagnostic_of
from machines import Notice, NoticeKind

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
EMBEDS_PER_MESSAGE = 10
CONTENT_MAX = 2000

COLOURS = {
    NoticeKind.ALERT: 0xFF0000,
    NoticeKind.REMINDER: 0xFFA500,
    NoticeKind.RECOVERY: 0x00FF00,
    NoticeKind.STARTED: 0x3498DB,
    NoticeKind.STOPPED: 0x95A5A6,
    NoticeKind.OFFLINE: 0x3498DB,  # info: the hub is back and says what it missed
    NoticeKind.DIAGNOSTIC: 0x3498DB,  # an info; the other levels: LEVEL_COLOURS
}

#: A diagnostic's colour follows its level (the alert red for an error).
LEVEL_COLOURS = {
    Level.INFO: 0x3498DB,
    Level.WARNING: 0xFFA500,
    Level.ERROR: 0xFF0000,
    Level.CRITICAL: 0x8B0000,
}
LEVEL_MARKS = {Level.INFO: "🔵", Level.WARNING: "🟠", Level.ERROR: "🔴", Level.CRITICAL: "🚨"}

#: Nobody is pinged by anything the hub posts: error text and display messages are
#: untrusted and may contain @everyone or role mentions.
NO_MENTIONS: dict[str, Any] = {"parse": [], "users": [], "roles": [], "replied_user": False}

ELLIPSIS = "…"
T = TypeVar("T")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, marked with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + ELLIPSIS if limit > 0 else ""


def sanitize(text: str) -> str:
    """Untrusted text made safe to show: no control or direction-changing characters."""
    return _CONTROL.sub("", text.replace("\r\n", "\n")).strip()


def code_block(text: str, limit: int = FIELD_VALUE_MAX) -> str:
    """Untrusted text in a code block that it cannot break out of, within `limit`."""
    inner = sanitize(text).replace("```", "`\u02cb`") or "(no detail)"
    fence = "```"
    room = limit - 2 * len(fence) - 2
    return f"{fence}\n{truncate(inner, room)}\n{fence}"


def duration(seconds: float) -> str:
    """A short human duration: `45 s`, `12 min`, `3 h 25 min`, `2 d 4 h`."""
    total = max(int(round(seconds)), 0)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs and minutes < 10 else f"{minutes} min"
    return f"{secs} s"


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).isoformat()


def discord_time(at: float) -> str:
    """A Discord timestamp tag: every reader sees it in their own time zone."""
    return f"<t:{int(at)}:f>"


_TITLES = {
    NoticeKind.ALERT: "🔴 {component} is failing",
    NoticeKind.REMINDER: "🟠 {component} is still failing",
    NoticeKind.RECOVERY: "🟢 {component} recovered",
    NoticeKind.STARTED: "🔵 {component} started",
    NoticeKind.STOPPED: "⚪ {component} stopped",
    NoticeKind.OFFLINE: "🔵 {component} is back after being offline",
}


def embed_for(notice: Notice, hub_name: str) -> dict[str, Any]:
    """The embed of one notice, within every Discord limit."""
    if notice.kind is NoticeKind.DIAGNOSTIC:
        return diagnostic_embed(notice, hub_name)
    title = _TITLES[notice.kind].format(component=notice.component)
    fields: list[tuple[str, str, bool]] = []
    description = ""
    if notice.kind in (NoticeKind.ALERT, NoticeKind.REMINDER, NoticeKind.RECOVERY):
        fields.append(("Component", notice.component, True))
        if notice.error_type:
            fields.append(("Error type", notice.error_type, True))
        fields.append(("Failures", str(notice.failures), True))
    if notice.kind is NoticeKind.ALERT:
        description = f"Failing for {duration(notice.failing_for_seconds)}."
    elif notice.kind is NoticeKind.REMINDER:
        description = (f"Reminder {notice.reminder}: failing for "
                       f"{duration(notice.failing_for_seconds)}.")
        fields.append(("Reminder", str(notice.reminder), True))
    elif notice.kind is NoticeKind.RECOVERY:
        description = f"Back after {duration(notice.downtime_seconds or 0.0)} of downtime."
        fields.append(("Downtime", duration(notice.downtime_seconds or 0.0), True))
    elif notice.kind is NoticeKind.OFFLINE:
        description = (f"Offline for {duration(notice.downtime_seconds or 0.0)}: how the "
                       "incidents that were open before it stand now.")
    if notice.kind in (NoticeKind.ALERT, NoticeKind.REMINDER):
        fields.append(("Failing for", duration(notice.failing_for_seconds), True))
        fields.append(("Last success", discord_time(notice.last_success_at)
                       if notice.last_success_at is not None else "never (since start)", True))
        if notice.next_reminder_at is not None:
            fields.append(("Next reminder", discord_time(notice.next_reminder_at), True))
        if notice.error_detail and notice.error_detail != notice.error_type:
            fields.append(("Latest error", code_block(notice.error_detail), False))
    if notice.kind is NoticeKind.RECOVERY and notice.error_detail:
        fields.append(("Last error", code_block(notice.error_detail), False))
    for label, value in notice.details:
        fields.append((label, value, True))
    return fit_embed({
        "title": title,
        "description": description,
        "color": COLOURS[notice.kind],
        "fields": [{"name": n, "value": v, "inline": inline} for n, v, inline in fields],
        "footer": {"text": hub_name},
        "timestamp": iso(notice.at),
    })


def diagnostic_embed(notice: Notice, hub_name: str) -> dict[str, Any]:
    """A report from another app: everything in it is untrusted text, shown as such."""
    report = diagnostic_of(notice)
    service = " ".join(sanitize(report.service).split()).replace("`", "ˋ")
    fields = [{"name": label, "value": " ".join(sanitize(value).split()) or "-",
               "inline": True} for label, value in report.details]
    if report.details_text:
        fields.append({"name": "Details", "value": code_block(report.details_text),
                       "inline": False})
    return fit_embed({
        "title": f"{LEVEL_MARKS[report.level]} {service}: {report.level.value}",
        "description": truncate(sanitize(report.message), DESCRIPTION_MAX),
        "color": LEVEL_COLOURS[report.level],
        "fields": fields,
        "footer": {"text": f"{hub_name} · reported by {service}"},
        "timestamp": iso(notice.at),
    })


def fit_embed(embed: dict[str, Any]) -> dict[str, Any]:
    """A copy of `embed` that satisfies every per-embed limit, truncating text as needed."""
    fitted = dict(embed)
    if "title" in fitted:
        fitted["title"] = truncate(sanitize(fitted["title"]), TITLE_MAX)
    if fitted.get("description"):
        fitted["description"] = truncate(fitted["description"], DESCRIPTION_MAX)
    if "footer" in fitted:
        fitted["footer"] = {**fitted["footer"],
                            "text": truncate(sanitize(fitted["footer"]["text"]), FOOTER_MAX)}
    if "author" in fitted:
        fitted["author"] = {**fitted["author"],
                            "name": truncate(sanitize(fitted["author"]["name"]), AUTHOR_MAX)}
    fields = [
        {**f, "name": truncate(sanitize(f["name"]) or "-", FIELD_NAME_MAX),
         "value": _fit_value(f["value"])}
        for f in fitted.get("fields", [])[:FIELDS_MAX]
    ]
    fitted["fields"] = fields
    # Shrink the longest text until the whole embed is within the total limit.
    while embed_length(fitted) > EMBED_TOTAL_MAX:
        excess = embed_length(fitted) - EMBED_TOTAL_MAX
        _shrink_longest(fitted, excess)
    return fitted


def _fit_value(value: str) -> str:
    text = value if value.startswith("```") else sanitize(value)
    if len(text) <= FIELD_VALUE_MAX:
        return text or "-"
    return code_block(text.strip("`\n"), FIELD_VALUE_MAX) if value.startswith("```") \
        else truncate(text, FIELD_VALUE_MAX)


def _shrink_longest(embed: dict[str, Any], excess: int) -> None:
    slots: list[tuple[int, Any]] = [(len(embed.get("description") or ""), "description")]
    slots += [(len(f["value"]), ("field", i)) for i, f in enumerate(embed["fields"])]
    length, slot = max(slots, key=lambda pair: pair[0])
    target = max(length - excess, 1)
    if length <= 1:  # nothing left to shrink but names and title: drop the last field
        embed["fields"].pop()
        return
    if slot == "description":
        embed["description"] = truncate(embed["description"], target)
    else:
        field = embed["fields"][slot[1]]
        value = field["value"]
        field["value"] = (code_block(value.strip("`\n"), max(target, 8))
                          if value.startswith("```") else truncate(value, target))
        if len(field["value"]) >= length:  # a code block cannot get shorter: plain text
            field["value"] = truncate(sanitize(value.strip("`\n")), target)


def embed_length(embed: dict[str, Any]) -> int:
    """The characters Discord counts towards the 6000 limit."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    for f in embed.get("fields", []):
        total += len(f["name"]) + len(f["value"])
    return total


def pack_messages(items: Sequence[T], embed_of: Callable[[T], dict[str, Any]]
                  ) -> list[list[T]]:
    """Group items, in order, into as few messages as the per-message limits allow."""
    messages: list[list[T]] = []
    current: list[T] = []
    length = 0
    for item in items:
        size = embed_length(embed_of(item))
        if current and (len(current) >= EMBEDS_PER_MESSAGE or length + size > EMBED_TOTAL_MAX):
            messages.append(current)
            current, length = [], 0
        current.append(item)
        length += size
    if current:
        messages.append(current)
    return messages


def message_payload(embeds: Iterable[dict[str, Any]], content: str = "") -> dict[str, Any]:
    """The JSON body of a webhook execute or message create."""
    payload: dict[str, Any] = {"embeds": list(embeds), "allowed_mentions": NO_MENTIONS}
    if content:
        payload["content"] = truncate(content, CONTENT_MAX)
    return payload
