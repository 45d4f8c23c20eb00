"""Discord payloads for notices: pure functions, no I/O.

Every Discord limit (DESIGN.md, "Discord facts that matter") is enforced here by
truncation, so a send never fails with HTTP 400 because of what we wrote; what is cut is
what matters least (`fit_embed`). Error text, reports and other text from the outside
world are untrusted: control characters are removed, error text is shown in a code
block, text shown outside one has its links, headings and spoilers neutralised
(`sanitize(..., markdown=True)`), and `allowed_mentions` pings nobody.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from hub.formatting import duration, iso, sanitize, truncate
from hub.ingest.reports import Level, diagnostic_of
from hub.notify.alerting import Severity
from hub.sources.threshold import ThresholdMonitor
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
#: A notice's log line is cut here: a journal line, not the embed (which has the rest).
LOG_LINE_MAX = 500

COLOURS = {
    NoticeKind.ALERT: 0xFF0000,
    NoticeKind.REMINDER: 0xFFA500,
    NoticeKind.RECOVERY: 0x00FF00,
    NoticeKind.STARTED: 0x3498DB,
    NoticeKind.STOPPED: 0x95A5A6,
    NoticeKind.OFFLINE: 0x3498DB,  # info: the hub is back and says what it missed
    NoticeKind.DIAGNOSTIC: 0x3498DB,  # an info; the other levels: LEVEL_COLOURS
    NoticeKind.SILENCE: 0x95A5A6,  # grey: an operator's change, nothing failing
    NoticeKind.FLAPPING: 0xFFA500,  # a warning: it keeps failing, but is not paging again
    NoticeKind.SETTLED: 0x3498DB,  # info: how it is now (failing ones carry the state)
}

#: An alert's colour follows its component's severity (`warning` keeps the alert red).
SEVERITY_COLOURS = {
    Severity.INFO: 0x3498DB,
    Severity.WARNING: 0xFF0000,
    Severity.CRITICAL: 0x8B0000,
}
SEVERITY_LABELS = {Severity.INFO: "🔵 info", Severity.WARNING: "🟠 warning",
                   Severity.CRITICAL: "🚨 critical"}

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

T = TypeVar("T")
#: A smallest code block: two fences, two newlines and one character.
_CODE_BLOCK_MIN = 9
#: A field value cut shorter than this would show nothing useful: the field is left out.
#: (It leaves room for a code block's fences, so a code block stays one when cut.)
_VALUE_MIN = 16


def code_block(text: str, limit: int = FIELD_VALUE_MAX) -> str:
    """Untrusted text in a code block that it cannot break out of, within `limit`."""
    inner = sanitize(text).replace("```", "`\u02cb`") or "(no detail)"
    fence = "```"
    room = limit - 2 * len(fence) - 2
    return f"{fence}\n{truncate(inner, room)}\n{fence}"


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
    NoticeKind.FLAPPING: "🟠 {component} is flapping",
    NoticeKind.SETTLED: "🔵 {component} settled",
}


#: The error type of a failure made of silence (machines/health.py).
STALE = "stale"
_OFFLINE_TITLES = {
    NoticeKind.ALERT: "🔴 {component} is offline",
    NoticeKind.REMINDER: "🟠 {component} is still offline",
}


def error_rate_words(notice: Notice) -> str:
    """"7 of 12 checks failed in 15 min" for a notice of an incident the error rate
    opened; "" for any other."""
    if notice.window_outcomes is None or notice.window_seconds is None:
        return ""
    return (f"{notice.window_failed} of {notice.window_outcomes} checks failed in "
            f"{duration(notice.window_seconds)}")


def notice_line(notice: Notice) -> str:
    """One line for the log saying what a notice tells (journalctl shows what was alerted
    even while Discord is unreachable); untrusted text flattened to one line."""
    words = [notice.kind.value, notice.incident or notice.component]
    if notice.kind is NoticeKind.REMINDER and notice.reminder is not None:
        words.append(f"#{notice.reminder}")
    text = " ".join(words)
    if notice.kind in (NoticeKind.ALERT, NoticeKind.REMINDER):
        text += f": failing for {duration(notice.failing_for_seconds)}"
    elif notice.downtime_seconds is not None:
        text += f": after {duration(notice.downtime_seconds)}"
    facts = [notice.error_type, notice.error_detail] if notice.error_detail \
        != notice.error_type else [notice.error_type]
    facts += [error_rate_words(notice), *(f"{label}: {value}" for label, value in notice.details)]
    shown = "; ".join(f for f in facts if f)
    if shown:
        text += f" ({shown})"
    return truncate(" ".join(sanitize(text).split()), LOG_LINE_MAX)


def embed_for(notice: Notice, hub_name: str,
              severity: Severity | None = None) -> dict[str, Any]:
    """The embed of one notice, within every Discord limit.

    With a `severity` (its component's, hub/notify/alerting.py), an alert or reminder
    shows it as a field and an alert takes its colour.
    """
    if notice.kind is NoticeKind.DIAGNOSTIC:
        return diagnostic_embed(notice, hub_name)
    if notice.kind is NoticeKind.SILENCE:
        return silence_embed(notice, hub_name)
    title = _TITLES[notice.kind].format(component=notice.component)
    is_offline = notice.error_type == STALE and notice.kind in (NoticeKind.ALERT,
                                                                NoticeKind.REMINDER)
    if is_offline:  # silence, not an error: a heartbeat that stopped, a source gone quiet
        title = _OFFLINE_TITLES[notice.kind].format(component=notice.component)
    fields: list[tuple[str, str, bool]] = []
    description = ""
    if notice.kind in (NoticeKind.ALERT, NoticeKind.REMINDER, NoticeKind.RECOVERY,
                       NoticeKind.FLAPPING, NoticeKind.SETTLED):
        fields.append(("Component", notice.component, True))
        if notice.incident is not None:
            fields.append(("Incident", notice.incident, True))
        if severity is not None and notice.kind is not NoticeKind.RECOVERY:
            fields.append(("Severity", SEVERITY_LABELS[severity], True))
        if notice.error_type:
            fields.append(("Error type", notice.error_type, True))
        fields.append(("Failures", str(notice.failures), True))
        limits = ThresholdMonitor.limits_of(notice.error_type, notice.error_detail)
        if limits is not None:
            fields += [("Metric", notice.component, True), ("Current", limits[0], True),
                       ("Threshold", limits[1], True)]
    if notice.kind is NoticeKind.ALERT:
        description = f"Failing for {duration(notice.failing_for_seconds)}."
        if notice.silenced is not None and notice.silenced_since is not None:
            # an alert held by a silence goes out when the silence ends: say so
            description += (f" Held by a {notice.silenced.value} since "
                            f"{discord_time(notice.silenced_since)}.")
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
    rate = error_rate_words(notice)
    if rate:
        description = f"{rate}. {description}".rstrip()
        fields.append(("Error rate", rate, False))
    if notice.kind in (NoticeKind.ALERT, NoticeKind.REMINDER):
        fields.append(("Failing for", duration(notice.failing_for_seconds), True))
        fields.append(("Last seen" if is_offline else "Last success",
                       discord_time(notice.last_success_at)
                       if notice.last_success_at is not None else "never (since start)", True))
        if notice.next_reminder_at is not None:
            fields.append(("Next reminder", discord_time(notice.next_reminder_at), True))
        if notice.error_detail and notice.error_detail != notice.error_type:
            fields.append(("Latest error", code_block(notice.error_detail), False))
    if notice.kind is NoticeKind.RECOVERY and notice.error_detail:
        fields.append(("Last error", code_block(notice.error_detail), False))
    if notice.acked_by is not None:  # a name typed in Discord: untrusted
        acked = " ".join(sanitize(notice.acked_by, markdown=True).split()) or "someone"
        if notice.ack_reason:
            acked += ": " + " ".join(sanitize(notice.ack_reason, markdown=True).split())
        fields.append(("Acked by", acked, False))
    if notice.kind is NoticeKind.FLAPPING:
        description = "Failing again and again: no more alerts until it settles."
    elif notice.kind is NoticeKind.SETTLED:
        description = f"Settled after flapping: {settled_state(notice)}."
    if notice.folded:  # dependencies: the children told in this incident's message
        description += " " + folded_line(notice)
    for label, value in notice.details:
        fields.append((label, value, True))
    return fit_embed({
        "title": title,
        "description": description,
        "color": SEVERITY_COLOURS[severity] if severity is not None
        and notice.kind is NoticeKind.ALERT else COLOURS[notice.kind],
        "fields": [{"name": n, "value": v, "inline": inline} for n, v, inline in fields],
        "footer": {"text": hub_name},
        "timestamp": iso(notice.at),
    })


def silence_embed(notice: Notice, hub_name: str) -> dict[str, Any]:
    """An operator's ack, mute or unmute, announced: names and reasons typed in Discord
    or sent to the API are untrusted text, shown as such."""
    return fit_embed({
        "title": "🔕 " + truncate(" ".join(sanitize(notice.error_detail, markdown=True)
                                           .split()), TITLE_MAX - 2),
        "color": COLOURS[notice.kind],
        "fields": [{"name": label, "value": " ".join(sanitize(value, markdown=True).split())
                    or "-", "inline": True} for label, value in notice.details],
        "footer": {"text": hub_name},
        "timestamp": iso(notice.at),
    })


def incident_embed(alert: Notice, latest: Notice, hub_name: str,
                   severity: Severity | None = None) -> dict[str, Any]:
    """The incident's alert message as it stands after `latest` (edited in place).

    `latest` is the incident's newest notice (a reminder, the recovery, or the alert
    again after an ack, with `acked_by`). The message keeps the alert's time and, while
    failing, its title; a recovery turns it green and says how long it was down.
    """
    embed = embed_for(latest, hub_name, severity)
    if latest.kind is NoticeKind.REMINDER:
        embed["title"] = _TITLES[NoticeKind.ALERT].format(component=latest.component)
        embed["color"] = (SEVERITY_COLOURS[severity] if severity is not None
                          else COLOURS[NoticeKind.ALERT])
        count = latest.reminder or 0
        embed["description"] = (f"Failing for {duration(latest.failing_for_seconds)}; "
                                f"{count} reminder{'s' if count != 1 else ''} sent.")
    elif latest.kind is NoticeKind.RECOVERY:
        embed["description"] = (f"Failing since {discord_time(alert.at)}; back after "
                                f"{duration(latest.downtime_seconds or 0.0)} of downtime.")
    embed["timestamp"] = iso(alert.at)
    return fit_embed(embed)


def settled_state(notice: Notice) -> str:
    """How a component that stopped flapping is: still failing, or what its machine said."""
    if notice.state is not None and notice.state.is_incident_open:
        return f"still failing ({notice.state.value})"
    return notice.state.value if notice.state is not None else "unknown"


def folded_line(notice: Notice) -> str:
    """"bus, weather and pixoo are failing with it" (or "came back with it")."""
    names = list(notice.folded)
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    if notice.kind is NoticeKind.RECOVERY:
        return f"{listed} came back with it."
    return f"{listed} {'is' if len(names) == 1 else 'are'} failing with it."


def diagnostic_embed(notice: Notice, hub_name: str) -> dict[str, Any]:
    """A report from another app: everything in it is untrusted text, shown as such.

    The message is the description; a text `details` (a traceback) follows it there in a
    code block, and a `details` object becomes fields in the order sent. When Discord's
    limits force a cut, the message is the last thing cut (`fit_embed`).
    """
    report = diagnostic_of(notice)
    service = " ".join(sanitize(report.service, markdown=True).split()).replace("`", "ˋ")
    description = truncate(sanitize(report.message, markdown=True), DESCRIPTION_MAX)
    room = DESCRIPTION_MAX - len(description) - 1
    if report.details_text and room >= _CODE_BLOCK_MIN:
        description += "\n" + code_block(report.details_text, room)
    fields = [{"name": sanitize(label, markdown=True),
               "value": " ".join(sanitize(value, markdown=True).split()) or "-",
               "inline": True} for label, value in report.details]
    return fit_embed({
        "title": f"{LEVEL_MARKS[report.level]} {service}: {report.level.value}",
        "description": description,
        "color": LEVEL_COLOURS[report.level],
        "fields": fields,
        "footer": {"text": f"{hub_name} · reported by {service}"},
        "timestamp": iso(notice.at),
    })


def fit_embed(embed: dict[str, Any]) -> dict[str, Any]:
    """A copy of `embed` within every Discord limit, cutting what matters least first.

    Each text is cut to its own limit. Then, within the 6000 characters of the whole
    embed, the title, author and footer (short: what and whose) come first, then the
    description (the message: it matters most), then the fields in order: each whole
    while there is room, the first one without room cut, and the rest left out.
    """
    fitted = dict(embed)
    room = EMBED_TOTAL_MAX
    if "title" in fitted:
        fitted["title"] = truncate(sanitize(fitted["title"], markdown=True), TITLE_MAX)
        room -= len(fitted["title"])
    for key, text_key, limit in (("author", "name", AUTHOR_MAX), ("footer", "text", FOOTER_MAX)):
        if key in fitted:
            text = truncate(sanitize(fitted[key].get(text_key) or "", markdown=True), limit)
            fitted[key] = {**fitted[key], text_key: text}
            room -= len(text)
    if fitted.get("description"):
        fitted["description"] = _cut_text(fitted["description"], min(DESCRIPTION_MAX, room))
        room -= len(fitted["description"])
    fields = []
    for field in fitted.get("fields", [])[:FIELDS_MAX]:
        name = truncate(sanitize(field["name"], markdown=True) or "-", FIELD_NAME_MAX)
        value = _fit_value(field["value"], FIELD_VALUE_MAX)
        if len(name) + len(value) > room:
            if room - len(name) >= _VALUE_MIN:  # room to show how it starts
                fields.append({**field, "name": name,
                               "value": _fit_value(field["value"], room - len(name))})
            break
        fields.append({**field, "name": name, "value": value})
        room -= len(name) + len(value)
    fitted["fields"] = fields
    return fitted


def _cut_text(text: str, limit: int) -> str:
    """`text` within `limit`, a code block it opened closed again after the cut."""
    if len(text) <= limit:
        return text
    fence = "\n```"
    cut = truncate(text, limit)
    if cut.count("```") % 2:  # the cut fell inside a code block: close it
        cut = truncate(text, max(limit - len(fence), 0))
        if cut.count("```") % 2:
            cut += fence
    return cut


def _fit_value(value: str, limit: int) -> str:
    """A field value within `limit`; a code block stays one, room permitting."""
    is_code = value.startswith("```") and value.endswith("```") and len(value) >= 6
    if not is_code:
        return truncate(sanitize(value), limit) or "-"
    if len(value) <= limit:
        return value
    return code_block(value[3:-3].strip("\n"), max(limit, _CODE_BLOCK_MIN))


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


def message_payload(embeds: Iterable[dict[str, Any]], content: str = "",
                    allowed_mentions: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON body of a webhook execute or message create; pings nobody unless
    `allowed_mentions` names someone (the critical mention, hub/notify/alerting.py)."""
    payload: dict[str, Any] = {"embeds": list(embeds),
                               "allowed_mentions": allowed_mentions or NO_MENTIONS}
    if content:
        payload["content"] = truncate(content, CONTENT_MAX)
    return payload
