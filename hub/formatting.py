"""How the hub writes times, durations and untrusted text, wherever it writes them:
Discord embeds, the console, the status page, the journal's notices, `check`.

One module so "3 h 25 min" reads the same in every place, and untrusted text (error
details, reports, display messages) is cleaned by one function.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

ELLIPSIS = "…"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
#: `[text](url)` shows `text` and hides where it leads: `]\(` is shown as `](`, no link.
_MASKED_LINK = re.compile(r"\]\(")
#: `# `, `## `, `### ` (headings) and `-# ` (small text) at the start of a line.
_HEADING = re.compile(r"^([ \t]*)(#{1,3}|-#)(?=[ \t])", re.MULTILINE)
#: `||x||` hides x. An escape pair (a backslash and what it escapes) is read as one, so
#: what is left are runs of pipes that Discord reads as pipes.
_PIPES = re.compile(r"\\.|\|{2,}", re.DOTALL)

def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, marked with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + ELLIPSIS if limit > 0 else ""


def sanitize(text: str, *, markdown: bool = False) -> str:
    """Untrusted text made safe to show: no control or direction-changing characters.

    With `markdown=True` (for text Discord renders, i.e. outside a code block) its masked
    links, headings and spoilers are neutralised too, while every character stays
    readable: a backslash before a character makes Discord show it as it is. Each
    backslash goes where the text cannot have escaped it with one of its own (after `]`,
    at a line start, after a `|`), and applying it twice changes nothing.
    """
    clean = _CONTROL.sub("", text.replace("\r\n", "\n")).strip()
    if not markdown:
        return clean
    clean = _MASKED_LINK.sub(r"]\\(", clean)
    clean = _HEADING.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", clean)
    return _PIPES.sub(_defuse_pipes, clean)


def _defuse_pipes(match: re.Match[str]) -> str:
    """Every other pipe of a run escaped: `||x||` is shown as is (`|\\|x|\\|`)."""
    run = match.group()
    if run.startswith("\\"):
        return run  # an escape pair, left as it is
    return "".join("\\|" if i % 2 else "|" for i in range(len(run)))


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


def utc_time(at: float) -> str:
    """`2024-05-01 12:17:34Z`: the zone is explicit, never guessed."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
