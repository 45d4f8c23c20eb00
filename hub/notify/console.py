"""The console transport's rendering: one readable line per notice."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hub.formatting import duration, sanitize, truncate
from hub.ingest.reports import diagnostic_of
from hub.notify.embeds import folded_line, settled_state
from machines import Notice, NoticeKind

_DETAIL_MAX = 160


def console_line(notice: Notice, zone: ZoneInfo | None = None) -> str:
    """`14:05:03  ALERT     weather   failing for 6 s, 3 failures: timeout (…)`"""
    when = datetime.fromtimestamp(notice.at, tz=zone).astimezone(zone).strftime("%H:%M:%S")
    head = f"{when}  {notice.kind.value.upper():<9} {notice.component:<10}"
    if notice.incident is not None:
        head += f" {notice.incident}"
    error = notice.error_type
    if notice.error_detail and notice.error_detail != notice.error_type:
        one_line = " ".join(sanitize(notice.error_detail).split())
        error = f"{error} ({truncate(one_line, _DETAIL_MAX)})"
    if notice.kind is NoticeKind.ALERT:
        body = f"failing for {duration(notice.failing_for_seconds)}, " \
               f"{notice.failures} failures: {error}"
    elif notice.kind is NoticeKind.REMINDER:
        body = f"reminder {notice.reminder}: still failing after " \
               f"{duration(notice.failing_for_seconds)}: {error}"
    elif notice.kind is NoticeKind.RECOVERY:
        body = f"recovered after {duration(notice.downtime_seconds or 0.0)} of downtime"
    elif notice.kind is NoticeKind.DIAGNOSTIC:
        body = diagnostic_line(notice)
    elif notice.kind is NoticeKind.SILENCE:  # who typed what: untrusted, on one line
        body = truncate(" ".join(sanitize(notice.error_detail).split()), _DETAIL_MAX)
    elif notice.kind is NoticeKind.OFFLINE:
        # `offline from … to … (5 min); last stop: unclean …; still failing: …; …`
        body = "; ".join(f"{label} {value}" if label == "offline" else f"{label}: {value}"
                         for label, value in notice.details)
    elif notice.kind in (NoticeKind.FLAPPING, NoticeKind.SETTLED):
        body = "failing again and again: quiet until it settles" \
            if notice.kind is NoticeKind.FLAPPING \
            else f"settled after flapping: {settled_state(notice)}"
    else:
        body = ", ".join(f"{label}: {value}" for label, value in notice.details)
    if notice.folded:
        body += "; " + folded_line(notice)
    return f"{head} {body}".rstrip()


def diagnostic_line(notice: Notice) -> str:
    """`WARNING: disk almost full (free: 2 GB, mount: /srv)`: untrusted text on one line."""
    report = diagnostic_of(notice)
    text = f"{report.level.value.upper()}: {' '.join(sanitize(report.message).split())}"
    extra = [f"{label}: {value}" for label, value in report.details]
    if report.details_text:
        extra.append(report.details_text)
    if extra:
        text += f" ({' '.join(sanitize(', '.join(extra)).split())})"
    return truncate(text, _DETAIL_MAX * 2)
