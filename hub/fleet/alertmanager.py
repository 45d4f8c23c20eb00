"""`[alertmanager]` and what the hub posts there: each incident as an Alertmanager alert.

    POST <url>/api/v2/alerts   [{labels, annotations, startsAt, endsAt, generatorURL}]
    GET  <url>/api/v2/silences the silences, shown in the hub's status

Labels: `alertname` (always `DivoomHubIncident`), `hub` (`[hub] name`), `component`,
`severity` and `incident` (`<component>#<n>`). An open incident is posted again every
`resend_seconds` with `endsAt` `ENDS_AFTER_RESENDS` resends ahead, as Prometheus does: a
post that goes missing never lets Alertmanager resolve it, and a hub that dies leaves
its alerts to expire (Prometheus' `DivoomHubDown` says why). Its recovery posts `endsAt`
= the recovery's time. Pure: building and reading only (hub/fleet/forward.py sends).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from hub.fleet.matchers import Matcher, MatcherError, all_match
from hub.fleet.model import Silence
from hub.formatting import iso
from hub.settings_table import Table
from machines import Notice, NoticeKind

ALERTNAME = "DivoomHubIncident"
#: Until `[policy.<component>] severity` says otherwise.
DEFAULT_SEVERITY = "warning"
#: Alertmanager's default `resolve_timeout` is 5 minutes; a minute between posts leaves
#: four posts to go missing before an alert could expire.
RESEND_SECONDS = 60.0
#: Each post of an open incident holds for this many resends (Prometheus uses 4).
ENDS_AFTER_RESENDS = 4
#: Alertmanager answers at once or not at all; a hub must not wait long for it.
TIMEOUT_SECONDS = 10.0
#: Notices that open, keep or close an incident in Alertmanager.
INCIDENT_KINDS = (NoticeKind.ALERT, NoticeKind.REMINDER, NoticeKind.RECOVERY)
TOKEN_ENV, PASSWORD_ENV = "ALERTMANAGER_TOKEN", "ALERTMANAGER_PASSWORD"


@dataclass(frozen=True, slots=True)
class AlertmanagerSettings:
    """`[alertmanager]`: where incidents go. Credentials come from the environment
    (`ALERTMANAGER_TOKEN` for a bearer token, or `username` here and
    `ALERTMANAGER_PASSWORD`), never from this file or the URL."""

    url: str
    resend_seconds: float = RESEND_SECONDS
    timeout_seconds: float = TIMEOUT_SECONDS
    username: str = ""

    @classmethod
    def from_table(cls, table: Mapping[str, Any], path: Path | str) -> AlertmanagerSettings:
        reader = Table(path, "[alertmanager]", table)
        reader.only_keys({"url", "resend_seconds", "timeout_seconds", "username"})
        url = reader.url("url").rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise reader.expected("url", "an http:// or https:// URL such as "
                                         "'http://alertmanager.lan:9093'", url)
        if parts.username or parts.password:
            raise reader.error("url", f"holds credentials: put the password in {PASSWORD_ENV} "
                                      f"(and the user in [alertmanager] username) or a "
                                      f"token in {TOKEN_ENV}")
        resend = reader.number("resend_seconds", RESEND_SECONDS, minimum=0.1, maximum=240.0,
                               meaning="below Alertmanager's resolve_timeout, 5 minutes "
                                       "by default")
        timeout = reader.number("timeout_seconds", TIMEOUT_SECONDS, above=0.0, maximum=60.0)
        return cls(url=url, resend_seconds=resend, timeout_seconds=timeout,
                   username=reader.string("username", ""))

    def shown_url(self) -> str:
        """The URL as the status shows it: scheme, host, port and path only."""
        parts = urlsplit(self.url)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def authorization(settings: AlertmanagerSettings, token: str, password: str) -> str | None:
    """The `Authorization` header: bearer when a token is set, basic with a password."""
    if token:
        return f"Bearer {token}"
    if password:
        pair = f"{settings.username}:{password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")
    return None


def incident_of(notice: Notice) -> str | None:
    """The incident a notice belongs to, if it opens, keeps or closes one.

    The notification policy stamps `<component>#<n>`; a notice without it names its
    incident by when it began, which its alert, reminders and recovery share.
    """
    if notice.kind not in INCIDENT_KINDS:
        return None
    if notice.incident:
        return notice.incident
    began = notice.first_failure_at if notice.first_failure_at is not None else notice.at
    return f"{notice.component}@{int(began)}"


def summary_of(notice: Notice, hub: str) -> str:
    what = notice.error_type or "failing"
    detail = f" ({notice.error_detail})" if notice.error_detail else ""
    return f"{notice.component} on {hub} is failing: {what}{detail}"[:300]


def alert_of(notice: Notice, hub: str, severity: str,
             generator_url: str = "") -> dict[str, Any]:
    """The alert an incident's notice opens or keeps (`endsAt` is set when posted)."""
    incident = incident_of(notice)
    if incident is None:
        raise ValueError(f"a {notice.kind.value} notice opens no incident")
    began = notice.first_failure_at if notice.first_failure_at is not None else notice.at
    alert: dict[str, Any] = {
        "labels": {"alertname": ALERTNAME, "hub": hub, "component": notice.component,
                   "severity": severity or DEFAULT_SEVERITY, "incident": incident},
        "annotations": {"summary": summary_of(notice, hub),
                        "description": f"{notice.failures} failures; the hub's own "
                                       f"notices say more ({incident})"},
        "startsAt": iso(began),
    }
    if generator_url:
        alert["generatorURL"] = generator_url
    return alert


def posted(alert: Mapping[str, Any], *, now: float, resend_seconds: float,
           resolved_at: float | None) -> dict[str, Any]:
    """`alert` as posted at `now`: ending at its recovery, or a few resends ahead."""
    ends = resolved_at if resolved_at is not None \
        else now + ENDS_AFTER_RESENDS * resend_seconds
    return {**alert, "endsAt": iso(ends)}


def silences_of(document: Any, hub: str, open_alerts: Sequence[Mapping[str, str]],
                now: float) -> tuple[Silence, ...]:
    """The active silences that cover this hub: one of its open alerts, or `hub=<name>`.

    A silence Alertmanager sends that cannot be read is left out (what is wrong is
    raised as `MatcherError` only when the document is no list at all)."""
    if not isinstance(document, list):
        raise MatcherError(f"expected a list of silences, got {type(document).__name__}")
    found = []
    for data in document:
        try:
            if not isinstance(data, dict) or data.get("status", {}).get("state") != "active":
                continue
            matchers = tuple(Matcher.from_api(m) for m in data.get("matchers", []))
            ends_at = _epoch(data.get("endsAt"))
        except (MatcherError, ValueError, AttributeError):
            continue
        own = {"alertname": ALERTNAME, "hub": hub}
        if any(all_match(matchers, labels) for labels in open_alerts) \
                or (matchers and all_match(matchers, own)) \
                or any(m.name == "hub" and m.matches(own) for m in matchers):
            found.append(Silence(id=str(data.get("id", "")), matchers=matchers,
                                 created_by=str(data.get("createdBy", "")),
                                 comment=str(data.get("comment", ""))[:200],
                                 ends_at=ends_at if ends_at is not None else now))
    return tuple(sorted(found, key=lambda s: s.ends_at))


def _epoch(text: Any) -> float | None:
    """An RFC 3339 time of Alertmanager's as epoch seconds (None when absent)."""
    if not isinstance(text, str):
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
