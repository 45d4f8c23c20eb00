"""When an API said "not before": parsing its time headers, and a gate that remembers.

Entur answers a quota 429 with `Retry-After` and/or `Rate-Limit-Expiry-Time` (written
like JavaScript's `Date.toString()`: `Mon Jan 16 2023 12:17:34 GMT-0000 (UTC)`); MET
uses `Retry-After` and HTTP dates in `Expires`. `RateGate` keeps the instant before
which a source must not ask again, so a blocked poll costs no request at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

#: With a 429 and no usable header, wait this long: Entur's quota window is a minute.
DEFAULT_RETRY_SECONDS = 60.0
#: A header asking for more than this is treated as this: a bogus far-future date must
#: not silence a source for good (it keeps failing visibly meanwhile).
MAX_RETRY_SECONDS = 6 * 3600.0

_JS_DATE = re.compile(
    r"^\w{3} (\w{3}) (\d{1,2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT([+-])(\d{2})(\d{2})")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def parse_http_time(text: str | None) -> float | None:
    """Epoch seconds of an HTTP date, an ISO 8601 time or a JavaScript date; else None."""
    if not text:
        return None
    text = text.strip()
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        moment = None
    if moment is not None:
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    match = _JS_DATE.match(text)
    if match and match[1] in _MONTHS:
        sign = 1 if match[7] == "+" else -1
        offset = timedelta(hours=int(match[8]), minutes=int(match[9])) * sign
        try:
            return datetime(int(match[3]), _MONTHS.index(match[1]) + 1, int(match[2]),
                            int(match[4]), int(match[5]), int(match[6]),
                            tzinfo=timezone(offset)).timestamp()
        except ValueError:
            return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def retry_at(headers: Mapping[str, str], now: float) -> float:
    """The instant a 429 says to wait for: the latest of the headers that parse."""
    candidates: list[float] = []
    retry_after = (headers.get("Retry-After") or "").strip()
    if retry_after:
        try:
            candidates.append(now + max(0.0, float(retry_after)))
        except ValueError:
            when = parse_http_time(retry_after)
            if when is not None:
                candidates.append(when)
    expiry = parse_http_time(headers.get("Rate-Limit-Expiry-Time"))
    if expiry is not None:
        candidates.append(expiry)
    until = max(candidates) if candidates else now + DEFAULT_RETRY_SECONDS
    return min(max(until, now), now + MAX_RETRY_SECONDS)


class RateGate:
    """Remembers "not before this instant"; used on one worker thread at a time."""

    def __init__(self) -> None:
        self.blocked_until: float | None = None

    def block(self, until: float) -> None:
        self.blocked_until = until

    def remaining(self, now: float) -> float:
        """Seconds still to wait (0 when requests are allowed)."""
        if self.blocked_until is None or now >= self.blocked_until:
            self.blocked_until = None
            return 0.0
        return self.blocked_until - now


def clock_time(at: float) -> str:
    """`12:17:34Z`: a short UTC time for details (the zone is explicit, never guessed)."""
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%SZ")
