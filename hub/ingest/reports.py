"""Diagnostics from other apps (`POST /api/notify`): the report, its notice, its limits.

A report is one small JSON object from an app on the same host (or one holding the
access token):

    {"level": "info"|"warning"|"error"|"critical", "service": "backup",
     "message": "nightly backup took 3 h", "details": {"size": "41 GB"}}

`details` is optional: an object of label → text/number/boolean (shown as fields) or a
plain string (shown as a code block under the message, e.g. a traceback). `parse_report`
checks it and names the field that is wrong; `diagnostic_notice` turns it into a
`Notice` of kind `diagnostic` that goes through the same outbox as every other notice.

The limits are chosen so that a report within them is posted whole: its text fits one
Discord message (6000 characters with the title and footer, `REPORT_TEXT_MAX`), and as
UTF-8 JSON, even in four-byte characters, it fits the server's 16 KiB body cap.

`RateLimits` keeps a misbehaving client from flooding Discord: a token bucket per
service and one for all services together. A refused report costs no token and is not
queued; the caller is told how long to wait.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from machines import Notice, NoticeKind

log = logging.getLogger(__name__)


class Level(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


#: A service name is a label in titles and a rate-limit key: short, printable, no markup.
SERVICE_MAX = 64
_SERVICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._:/-]*$")
#: A Discord message is 2000 characters; an app's one-liner needs far less.
MESSAGE_MAX = 2000
#: Discord shows at most 25 fields; a few are kept for the hub's own.
DETAILS_MAX = 20
DETAIL_LABEL_MAX = 64
#: A field value holds 1024 characters in Discord.
DETAIL_VALUE_MAX = 1024
#: The message, the labels and values (or the text) of `details` together. Discord takes
#: 6000 characters per message: this leaves room for the title (≤ 77), the footer (the
#: hub's name and the service) and the escapes that defuse markdown. And 3500 characters
#: of four UTF-8 bytes, with the JSON around them, stay under the 16 KiB body cap.
REPORT_TEXT_MAX = 3500
_FIELDS = frozenset({"level", "service", "message", "details"})

#: Defaults of the limits: a chatty app still gets a message every 12 s on average, and
#: twenty a minute in all is far below what one webhook may post (30 a minute).
PER_SERVICE_PER_MINUTE = 5
TOTAL_PER_MINUTE = 20
#: Buckets of services that are full again are forgotten beyond this many services, so
#: a client inventing names cannot grow memory (the global bucket limits it anyway).
SERVICES_TRACKED_MAX = 256


class ReportError(ValueError):
    """The report is not what `POST /api/notify` expects; the message names the field."""


@dataclass(frozen=True, slots=True)
class Diagnostic:
    level: Level
    service: str
    message: str
    #: (label, value) pairs from a `details` object, in the order sent.
    details: tuple[tuple[str, str], ...] = ()
    #: A `details` string, shown as a code block.
    details_text: str = ""


def parse_report(document: Any) -> Diagnostic:
    """A decoded JSON document as a `Diagnostic`, or a `ReportError` naming the field."""
    if not isinstance(document, dict):
        raise ReportError(f"expected a JSON object with level, service and message, got "
                          f"{_json_type(document)}")
    unknown = sorted(set(document) - _FIELDS)
    if unknown:
        raise ReportError(f"unknown field {unknown[0]!r} (expected level, service, message "
                          f"and optionally details)")
    level_text = _required_text(document, "level")
    try:
        level = Level(level_text)
    except ValueError:
        raise ReportError(f"level: expected one of info, warning, error, critical, got "
                          f"{_shorten(level_text)}") from None
    service = _required_text(document, "service").strip()
    if len(service) > SERVICE_MAX:
        raise ReportError(f"service: at most {SERVICE_MAX} characters, got {len(service)}")
    if not _SERVICE.match(service):
        raise ReportError(f"service: expected letters, digits, spaces and . _ : / - "
                          f"(starting with a letter or digit), got {_shorten(service)}")
    message = _required_text(document, "message").strip()
    if not message:
        raise ReportError("message: must not be empty")
    if len(message) > MESSAGE_MAX:
        raise ReportError(f"message: at most {MESSAGE_MAX} characters, got {len(message)}")
    details: tuple[tuple[str, str], ...] = ()
    details_text = ""
    raw = document.get("details")
    if isinstance(raw, str):
        details_text = raw
    elif isinstance(raw, dict):
        details = _detail_pairs(raw)
    elif raw is not None:
        raise ReportError(f"details: expected an object of label → value or a string, got "
                          f"{_json_type(raw)}")
    total = len(message) + len(details_text) + sum(len(k) + len(v) for k, v in details)
    if total > REPORT_TEXT_MAX:
        raise ReportError(f"message and details: at most {REPORT_TEXT_MAX} characters "
                          f"together (what one Discord message can show), got {total}")
    return Diagnostic(level, service, message, details, details_text)


def _detail_pairs(raw: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    if len(raw) > DETAILS_MAX:
        raise ReportError(f"details: at most {DETAILS_MAX} entries, got {len(raw)}")
    pairs = []
    for label, value in raw.items():
        if not label.strip() or len(label) > DETAIL_LABEL_MAX:
            raise ReportError(f"details: a label must have 1 to {DETAIL_LABEL_MAX} "
                              f"characters, got {_shorten(label)}")
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int | float | str):
            text = str(value)
        else:
            raise ReportError(f"details.{label}: expected text, a number or a boolean, got "
                              f"{_json_type(value)}")
        if len(text) > DETAIL_VALUE_MAX:
            raise ReportError(f"details.{label}: at most {DETAIL_VALUE_MAX} characters, "
                              f"got {len(text)}")
        pairs.append((label, text))
    return tuple(pairs)


def _required_text(document: Mapping[str, Any], name: str) -> str:
    if name not in document:
        raise ReportError(f"{name}: missing (expected level, service and message)")
    value = document[name]
    if not isinstance(value, str):
        raise ReportError(f"{name}: expected a string, got {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _shorten(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


# -- the notice ------------------------------------------------------------------------

#: The label of a plain-text `details` in `Notice.details`: empty, which no label of a
#: `details` object can be (`parse_report` refuses blank labels).
DETAILS_TEXT_LABEL = ""


def diagnostic_notice(diagnostic: Diagnostic, at: float) -> Notice:
    """The notice of a report: the level as `error_type`, the message as `error_detail`,
    the `details` pairs as `details` (a plain-text `details` as one unlabelled pair)."""
    details = diagnostic.details
    if diagnostic.details_text:
        details = ((DETAILS_TEXT_LABEL, diagnostic.details_text),)
    return Notice(kind=NoticeKind.DIAGNOSTIC, component=diagnostic.service, at=at,
                  error_type=diagnostic.level.value, error_detail=diagnostic.message,
                  details=details)


def diagnostic_of(notice: Notice) -> Diagnostic:
    """The report a diagnostic notice came from (for the embed, the console, the page)."""
    try:
        level = Level(notice.error_type)
    except ValueError:  # stored by a newer hub with a level this one does not know
        level = Level.INFO
    text = "".join(value for label, value in notice.details if label == DETAILS_TEXT_LABEL)
    pairs = tuple(pair for pair in notice.details if pair[0] != DETAILS_TEXT_LABEL)
    return Diagnostic(level, notice.component, notice.error_detail, pairs, text)


# -- rate limits -----------------------------------------------------------------------

@dataclass(slots=True)
class TokenBucket:
    """`capacity` tokens, refilled continuously at `per_minute` a minute."""

    capacity: float
    per_minute: float
    tokens: float
    updated_at: float

    def refill(self, now: float) -> None:
        # A clock stepped backwards refills nothing rather than draining the bucket.
        elapsed = max(now - self.updated_at, 0.0)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.per_minute / 60.0)
        self.updated_at = max(now, self.updated_at)

    def wait_seconds(self) -> float:
        """How long until one whole token is there (0 when it is there already)."""
        missing = 1.0 - self.tokens
        return 0.0 if missing <= 0 else missing * 60.0 / self.per_minute

    @property
    def is_full(self) -> bool:
        return self.tokens >= self.capacity


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a report may pass; when not, which limit refused it and for how long."""

    is_allowed: bool
    retry_after_seconds: float = 0.0
    limit: str = ""  # "service" | "total"


@dataclass(slots=True)
class RateLimits:
    """A token bucket per service and one for all of them; not thread-safe (one loop)."""

    per_service_per_minute: int = PER_SERVICE_PER_MINUTE
    total_per_minute: int = TOTAL_PER_MINUTE
    _services: dict[str, TokenBucket] = field(default_factory=dict)
    _total: TokenBucket | None = None

    def __post_init__(self) -> None:
        if self.per_service_per_minute < 1 or self.total_per_minute < 1:
            raise ValueError("rate limits must allow at least one report a minute")

    def admit(self, service: str, now: float) -> Verdict:
        """Take a token from both buckets, or from neither and say how long to wait."""
        total = self._total
        if total is None:
            total = self._total = TokenBucket(self.total_per_minute, self.total_per_minute,
                                              self.total_per_minute, now)
        bucket = self._services.get(service)
        if bucket is None:
            self._forget_full_buckets(now)
            bucket = self._services[service] = TokenBucket(
                self.per_service_per_minute, self.per_service_per_minute,
                self.per_service_per_minute, now)
        bucket.refill(now)
        total.refill(now)
        service_wait, total_wait = bucket.wait_seconds(), total.wait_seconds()
        if service_wait > 0 or total_wait > 0:
            limit = "service" if service_wait >= total_wait else "total"
            return Verdict(False, max(service_wait, total_wait), limit)
        bucket.tokens -= 1.0
        total.tokens -= 1.0
        return Verdict(True)

    def _forget_full_buckets(self, now: float) -> None:
        if len(self._services) < SERVICES_TRACKED_MAX:
            return
        for name, bucket in list(self._services.items()):
            bucket.refill(now)
            if bucket.is_full:  # a full bucket is what a new one would be: nothing is lost
                del self._services[name]


def retry_after_header(seconds: float) -> str:
    """`Retry-After` in whole seconds, rounded up so a client that obeys it gets in."""
    return str(max(math.ceil(seconds - 1e-9), 1))


# -- the desk: checked, rate-limited, counted ------------------------------------------

#: Why a report was refused (the label of `divoom_hub_diagnostics_refused_total`).
RATE_LIMITED, INVALID = "rate_limited", "invalid"
REFUSED_REASONS = (RATE_LIMITED, INVALID)


@dataclass(frozen=True, slots=True)
class Admission:
    """What became of one report: its notice, or why it was refused."""

    notice: Notice | None = None
    #: INVALID or RATE_LIMITED when refused; the message says why, for the sender.
    refused: str = ""
    message: str = ""
    #: For RATE_LIMITED: `Retry-After`, in whole seconds.
    retry_after: str = ""


class ReportDesk:
    """Where reports come in, whatever carries them (the status server's `/api/notify`):
    each is checked, rate-limited per service and in all, and counted when refused. A
    limit that starts refusing is logged once, and once again when it lets reports in.
    Not thread-safe: use from the daemon's loop."""

    def __init__(self, limits: RateLimits | None = None) -> None:
        self.limits = limits or RateLimits()
        #: Refusals since start, by reason (the metric).
        self.refused: Counter[str] = Counter()
        self._limited: set[str] = set()  # services whose limit refuses now; "*": the total

    def invalid(self) -> None:
        """A report refused before it could be read (a body that is not JSON, say)."""
        self.refused[INVALID] += 1

    def take(self, document: Any, now: float) -> Admission:
        """Check `document` and admit it at `now`, or say why not."""
        try:
            report = parse_report(document)
        except ReportError as err:
            self.refused[INVALID] += 1
            return Admission(refused=INVALID, message=str(err))
        key = report.service.casefold()
        verdict = self.limits.admit(key, now)
        if not verdict.is_allowed:
            self.refused[RATE_LIMITED] += 1
            limited = key if verdict.limit == "service" else "*"
            if limited not in self._limited and len(self._limited) < SERVICES_TRACKED_MAX:
                self._limited.add(limited)
                log.warning("diagnostics from %r are over the %s rate limit; refusing them "
                            "for now", report.service, verdict.limit)
            limit = (f"{self.limits.per_service_per_minute} a minute for {report.service}"
                     if verdict.limit == "service"
                     else f"{self.limits.total_per_minute} a minute in all")
            retry_after = retry_after_header(verdict.retry_after_seconds)
            return Admission(refused=RATE_LIMITED, retry_after=retry_after,
                             message=f"too many diagnostics ({limit}): nothing was queued; "
                                     f"try again in {retry_after} s")
        for limited in {key, "*"} & self._limited:
            self._limited.discard(limited)
            log.info("diagnostics %s are accepted again",
                     "in all" if limited == "*" else f"from {report.service!r}")
        return Admission(notice=diagnostic_notice(report, now))
