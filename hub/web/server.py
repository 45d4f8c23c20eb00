"""The status web server (aiohttp, on the daemon's loop): look, scrape, report in.

    GET  /                  the status page (refreshes itself; `/live` is its live part)
    GET  /health            {"status": healthy|degraded|unhealthy, ...}; 503 when unhealthy
    GET  /api/status        every component, delivery, outbox, recent notices (JSON)
    GET  /metrics           Prometheus text exposition
    GET  /frame.png         the latest frame; `?scale=1..16` enlarges it pixel for pixel
    GET  /timeline.png      every machine's states over the last 24 hours (hub/status/timeline.py)
    POST /ping/<name>       a heartbeat monitor's ping
    POST /api/metric/<name> {"value": number} for a pushed threshold monitor
    POST /api/notify        {level, service, message, details?}: a diagnostic from an app
    GET  /api/silences      the silences in force, the open incidents
    POST /api/silences      {action: mute|ack, component, for?, reason?, by?}: a silence
    DELETE /api/silences/<component>   unmute (`?by=` names who)
    POST /api/alertmanager  Alertmanager's webhook (payload version 4): the fleet's alerts

Every bad request gets a 4xx naming what was wrong, never a 500: bodies are decoded by
`hub.strict_json` (no NaN, no numbers beyond a float, no lone surrogates, no deep
nesting), and a malformed request line or header is logged as one line at INFO, not as
an error with a traceback (`HttpErrorLog`).

The server reads only what it is given: `status()` returns the `HubStatus` the owner of
the machines last published (an immutable value), `frame_png()` the latest frame.
Pings and pushed values become `Outcome`s handed to `report`, which must move them onto
the owner's scheduler (e.g. the `on_next` of a Subject that `health_notices` observes on
that scheduler). Diagnostics become `Notice`s handed to `notify`, which puts them into
the outbox (it is called on the server's loop, the daemon's). Nothing here touches a
machine.

/health says:
* **unhealthy** (503): notices cannot reach the owner (delivery stopped for good, e.g. the
  webhook was deleted), the status has not been published for
  `status_max_age_seconds` (the owner's loop or publisher is stuck), or the hub stopped
  doing its job while its loop runs (`hub.status.liveness.stalls`: outcomes no longer reach the
  machines, a poller stopped, the outbox does not drain);
* **degraded** (200): a component has an open incident (alerting or reminding),
  delivery is retrying, or `state_dir` refuses writes (notices are kept in memory);
* **healthy** (200): otherwise. A `suspect` component (failing, not yet confirmed by its
  policy) is listed but does not degrade: the debounce applies here too.

Silences are changed on the operators' desk (hub/incidents/desk.py), on this loop; the
change is announced in the monitoring channel like one made in Discord.

Access: on a loopback address anyone on the machine may read. Beyond loopback the server
refuses to start without an access token (`HUB_HTTP_TOKEN`); with a token, every request
needs `Authorization: Bearer <token>` or `?token=<token>`. A web page open in a browser
on the same machine must not be able to post: a POST whose `Origin` is another site is
refused (403; scripts send no `Origin`), and a JSON body must say so
(`Content-Type: application/json`, else 415), which a page cannot send to another site
without the browser asking first.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import importlib.metadata
import io
import json
import logging
import re
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from PIL import Image, UnidentifiedImageError
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from hub import strict_json
from hub.display.pages import PagesShown
from hub.fleet.model import FleetStatus
from hub.fleet.received import MAX_BODY_BYTES as WEBHOOK_MAX_BYTES
from hub.fleet.received import Received, WebhookError, parse_webhook
from hub.formatting import iso
from hub.incidents.commands import Command
from hub.incidents.desk import OperatorDesk
from hub.incidents.operations import Silence
from hub.ingest.pings import HeartbeatMonitor
from hub.ingest.reports import (
    RATE_LIMITED,
    REFUSED_REASONS,
    RateLimits,
    ReportDesk,
    diagnostic_of,
)
from hub.listen import TOKEN_ENV, not_an_address, parse_listen
from hub.sources.threshold import ThresholdMonitor
from hub.status.liveness import stalls
from hub.status.model import HubStatus
from hub.status.stats import PERCENTILES, Stats
from hub.status.timeline import timeline_png
from hub.storage.incidents import held_reason
from hub.web.page import (
    CONTENT_SECURITY_POLICY,
    DOWNLOAD_FRAME_SCALE,
    PAGE_FRAME_SCALE,
    PageView,
    notice_summary,
    render_live,
    render_page,
)
from hub.web.startup import MAY_CLEAR as MAY_CLEAR
from hub.web.startup import NO_WAIT
from hub.web.startup import AddressUnavailable as AddressUnavailable
from hub.web.startup import PortWait as PortWait
from hub.web.startup import StatusServerError as StatusServerError
from machines import HealthState, Notice, Outcome, Refused

log = logging.getLogger(__name__)

#: The installed package's version, for `divoom_hub_info` ("unknown" in a bare checkout).
try:
    HUB_VERSION = importlib.metadata.version("divoom-hub")
except importlib.metadata.PackageNotFoundError:
    HUB_VERSION = "unknown"

#: The owner publishes every second or so; this much silence means it is stuck.
STATUS_MAX_AGE_SECONDS = 30.0
MAX_SCALE = 16  # 64 × 16 = 1024 px: big enough for any screen, small enough to encode fast
#: ASCII digits only: `str.isdigit` also takes "²", which `int` then refuses.
_SCALE = re.compile(r"[0-9]{1,2}")
#: Reports are one small JSON object; a bigger body is a mistake or an attack.
MAX_BODY_BYTES = 16 * 1024
HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"
#: A pixel of the timeline is about 100 s: drawing it again more often shows nothing new
#: (a state change makes a new picture at once).
TIMELINE_REDRAW_SECONDS = 60
_NOTIFY_EXAMPLE = ('{"level": "warning", "service": "backup", "message": "disk 91% full"}')
_SILENCE_EXAMPLE = ('{"action": "mute", "component": "bus", "for": "2h", '
                    '"reason": "moving the router", "by": "ada"}')
_SILENCE_KEYS = {"action": str, "component": str, "for": str, "reason": str, "by": str}
#: Who a change over HTTP is announced as, when the request does not say.
HTTP_OPERATOR = "HTTP API"
_METRIC_EXAMPLE = '{"value": 21.5}'


# -- health and JSON (pure) ------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Health:
    status: str  # healthy | degraded | unhealthy
    reasons: tuple[str, ...]


def assess_health(status: HubStatus, now: float,
                  status_max_age_seconds: float = STATUS_MAX_AGE_SECONDS) -> Health:
    """The rules in the module docstring, with a reason for every finding."""
    unhealthy: list[str] = []
    degraded: list[str] = []
    age = now - status.at
    if age > status_max_age_seconds:
        unhealthy.append(f"status not published for {age:.0f} s (the hub's loop may be stuck)")
    unhealthy.extend(stalls(status))
    if status.delivery is not None and status.delivery.state == "stopped":
        unhealthy.append(f"delivery via {status.delivery.transport} stopped: "
                         f"{status.delivery.detail}")
    elif status.delivery is not None and status.delivery.state == "retrying":
        degraded.append(f"delivery via {status.delivery.transport} retrying: "
                        f"{status.delivery.detail}")
    if status.storage_problem is not None:
        degraded.append(status.storage_problem)
    for snapshot in sorted(status.machines, key=lambda s: s.component):
        if snapshot.state.is_incident_open:
            degraded.append(f"{snapshot.component} {snapshot.state.value}: "
                            f"{snapshot.last_error_type or 'failing'}")
    if unhealthy:
        return Health(UNHEALTHY, tuple(unhealthy + degraded))
    return Health(DEGRADED if degraded else HEALTHY, tuple(degraded))


def _iso(at: float | None) -> str | None:
    return None if at is None else iso(at)


def health_json(status: HubStatus, health: Health, now: float) -> dict[str, Any]:
    return {
        "status": health.status,
        "reasons": list(health.reasons),
        "hub": status.hub_name,
        "failing": sorted(s.component for s in status.machines if s.state.is_incident_open),
        "suspect": sorted(s.component for s in status.machines
                          if s.state is HealthState.SUSPECT),
        "delivery": None if status.delivery is None else status.delivery.state,
        "status_age_seconds": round(now - status.at, 3),
    }


def status_json(status: HubStatus, health: Health, now: float) -> dict[str, Any]:
    """`/api/status`: times are ISO 8601 in UTC, durations in seconds."""
    latency = dict(status.source_latency_seconds)
    values = dict(status.values)
    delivery = status.delivery
    return {
        "hub": status.hub_name,
        "status": health.status,
        "at": _iso(status.at),
        "status_age_seconds": round(now - status.at, 3),
        "started_at": _iso(status.started_at),
        "uptime_seconds": round(status.at - status.started_at, 3),
        "outbox_depth": status.outbox_depth,
        "transport": None if delivery is None else {
            "name": delivery.transport, "state": delivery.state, "detail": delivery.detail,
            "sent": delivery.sent, "failed_attempts": delivery.failed_attempts},
        "discord_latency_seconds": status.discord_latency_seconds,
        "components": [{
            "name": s.component,
            "state": s.state.value,
            "since": _iso(s.since),
            "for_seconds": round(status.at - s.since, 3),
            "failures": s.failures,
            "last_success": _iso(s.last_success_at),
            "last_error": (None if not s.last_error_type else
                           {"type": s.last_error_type, "detail": s.last_error}),
            "next_reminder": _iso(s.next_reminder_at),
            "latency_seconds": latency.get(s.component),
            "value": values.get(s.component),
            **stats_json(status.stats_of(s.component)),
        } for s in sorted(status.machines, key=lambda s: s.component)],
        "recent_notices": [{
            "at": _iso(n.at), "kind": n.kind.value, "component": n.component,
            "summary": notice_summary(n),
        } for n in status.recent_notices],
        "notices_by_kind": dict(status.notices_by_kind),
        # Watched Discord channels: counters for the local day `day` ([hub] timezone).
        "channels": [{
            "name": c.name, "component": c.component or None, "day": c.day,
            "messages_today": c.messages_today,
            "keyword_matches_today": c.keyword_matches_today,
            "keyword_matches": dict(c.keyword_counts),
            "last_message_at": _iso(c.last_message_at),
        } for c in status.channels],
        **incidents_json(status),
        **fleet_json(status.fleet),
    }


def silence_json(silence: Silence) -> dict[str, Any]:
    return {"kind": silence.kind, "target": silence.target, "by": silence.by or None,
            "reason": silence.reason or None, "since": _iso(silence.since),
            "until": _iso(silence.until)}


def silences_json(status: HubStatus) -> dict[str, Any]:
    """`GET /api/silences`: what is silenced, and what is open."""
    return {
        "notifications": status.notifications,
        "silences": [silence_json(s) for s in status.silences],
        "incidents": [{"component": c, "incident": i} for c, i in status.incidents],
    }


def incidents_json(status: HubStatus) -> dict[str, Any]:
    """The notification policy's part of `/api/status`: open incidents, silences, and
    the latest notices it held (with why)."""
    return {
        **silences_json(status),
        "held_notices": [{
            "at": _iso(n.at), "kind": n.kind.value, "component": n.component,
            "incident": n.incident, "held": held_reason(n), "summary": notice_summary(n),
        } for n in status.held_notices],
        "held_by_reason": dict(status.held_by_reason),
    }


def _silence_problem(document: Any) -> str:
    """What is wrong with a `POST /api/silences` body, or ""."""
    if not isinstance(document, dict):
        return "the body is not a JSON object"
    unknown = sorted(set(document) - set(_SILENCE_KEYS))
    if unknown:
        return f"unknown key {_quoted(unknown[0])}"
    for key, kind in _SILENCE_KEYS.items():
        if key in document and not isinstance(document[key], kind):
            return f"{key}: expected a string, got {json.dumps(document[key])[:40]}"
    if document.get("action") not in ("mute", "ack"):
        return "action: expected \"mute\" or \"ack\" (unmute is DELETE " \
               "/api/silences/<component>)"
    if not document.get("component"):
        return "component: required (a component, an incident such as bus#3, or all)"
    if document["action"] == "mute" and not document.get("for"):
        return "for: required for a mute (30m, 2h, 1d; at most 7d)"
    return ""


def stats_json(stats: Stats | None) -> dict[str, Any]:
    """A component's numbers in `/api/status` (hub/status/stats.py); nulls when unmeasured."""
    latency = None if stats is None else stats.latency_seconds
    return {
        "latency_percentiles_seconds": None if latency is None else {
            f"p{p}": round(v, 6) for p, v in zip(PERCENTILES, latency, strict=True)},
        "uptime_percent": {"24h": None if stats is None else stats.uptime_24h_percent,
                           "7d": None if stats is None else stats.uptime_7d_percent},
        "failures_by_type": {} if stats is None else dict(stats.failures_by_type),
    }


def fleet_json(fleet: FleetStatus) -> dict[str, Any]:
    """`alertmanager`: forwarding and the silences read back; `fleet_alerts`: what
    Alertmanager's webhook says is firing."""
    forwarding = fleet.forwarding
    return {
        "alertmanager": None if forwarding is None else {
            "url": forwarding.url, "open_alerts": forwarding.open_alerts,
            "waiting": forwarding.waiting, "last_error": forwarding.last_error or None,
            "last_posted_at": _iso(forwarding.last_posted_at),
            "silences": [{"id": s.id, "matchers": [str(m) for m in s.matchers],
                          "created_by": s.created_by, "comment": s.comment,
                          "ends_at": _iso(s.ends_at)} for s in fleet.silences],
        },
        "fleet_alerts": [{"alertname": a.name, "labels": dict(a.labels),
                          "summary": a.summary, "starts_at": _iso(a.starts_at)}
                         for a in fleet.alerts],
    }


# -- metrics -----------------------------------------------------------------------------

class StatusCollector(Collector):
    """Prometheus metrics computed from the published status at each scrape."""

    def __init__(self, status: Callable[[], HubStatus], clock: Callable[[], float],
                 status_max_age_seconds: float) -> None:
        self._status = status
        self._clock = clock
        self._max_age = status_max_age_seconds

    def collect(self) -> Iterator[Metric]:
        status, now = self._status(), self._clock()
        health = assess_health(status, now, self._max_age)
        yield info_metric(status)
        state = GaugeMetricFamily("divoom_hub_component_state",
                                  "1 for the state each component is in, 0 for the others",
                                  labels=["component", "state"])
        failures = GaugeMetricFamily("divoom_hub_component_failures",
                                     "Failures in the component's current incident",
                                     labels=["component"])
        since = GaugeMetricFamily("divoom_hub_component_state_seconds",
                                  "Seconds the component has been in its current state",
                                  labels=["component"])
        for s in sorted(status.machines, key=lambda s: s.component):
            for candidate in HealthState:
                state.add_metric([s.component, candidate.value],
                                 1.0 if s.state is candidate else 0.0)
            failures.add_metric([s.component], s.failures)
            since.add_metric([s.component], status.at - s.since)
        yield from (state, failures, since)
        yield _labelled(GaugeMetricFamily("divoom_hub_health",
                                          "1 for the hub's /health status, 0 for the others",
                                          labels=["status"]),
                        ((h, 1.0 if health.status == h else 0.0)
                         for h in (HEALTHY, DEGRADED, UNHEALTHY)))
        yield _labelled(CounterMetricFamily("divoom_hub_notices",
                                            "Notices emitted since start, by kind",
                                            labels=["kind"]), status.notices_by_kind)
        delivery = status.delivery
        yield CounterMetricFamily("divoom_hub_notices_delivered",
                                  "Notices the transport accepted since start",
                                  value=delivery.sent if delivery else 0)
        yield CounterMetricFamily("divoom_hub_delivery_failures",
                                  "Failed delivery attempts since start",
                                  value=delivery.failed_attempts if delivery else 0)
        yield GaugeMetricFamily("divoom_hub_outbox_depth",
                                "Notices waiting in the outbox", value=status.outbox_depth)
        yield _labelled(GaugeMetricFamily("divoom_hub_source_latency_seconds",
                                          "Latency of each component's latest outcome",
                                          labels=["component"]),
                        status.source_latency_seconds)
        yield _labelled(GaugeMetricFamily("divoom_hub_monitor_value",
                                          "Latest value of each threshold monitor",
                                          labels=["component"]), status.values)
        yield from channel_metrics(status)
        yield from stats_metrics(status)
        yield from fleet_metrics(status)
        yield GaugeMetricFamily("divoom_hub_uptime_seconds", "Seconds since the hub started",
                                value=status.at - status.started_at)
        yield GaugeMetricFamily("divoom_hub_status_age_seconds",
                                "Seconds since the status was last published",
                                value=now - status.at)
        yield from incident_metrics(status)
        if status.discord_latency_seconds is not None:
            yield GaugeMetricFamily("divoom_hub_discord_latency_seconds",
                                    "Discord gateway latency",
                                    value=status.discord_latency_seconds)


def info_metric(status: HubStatus) -> Metric:
    """`divoom_hub_info{name, version} 1`: the hub's `[hub] name` as it calls itself.

    Not `hub`: that is the scrape config's target label (deploy/prometheus/), which every
    series of the hub then carries; `name` lets a query check the two agree."""
    info = GaugeMetricFamily("divoom_hub_info", "The hub's name ([hub] name) and version",
                             labels=["name", "version"])
    info.add_metric([status.hub_name, HUB_VERSION], 1.0)
    return info


class DiagnosticsCollector(Collector):
    """The server's own count of the diagnostics it refused, by reason."""

    def __init__(self, refused: Counter[str]) -> None:
        self._refused = refused

    def collect(self) -> Iterator[Metric]:
        yield _labelled(CounterMetricFamily(
            "divoom_hub_diagnostics_refused",
            "Diagnostics (POST /api/notify) refused since start: rate_limited, invalid",
            labels=["reason"]),
            ((reason, float(self._refused[reason])) for reason in REFUSED_REASONS))


def incident_metrics(status: HubStatus) -> Iterator[Metric]:
    """The notification policy: open incidents, silences in force, notices held."""
    incidents = GaugeMetricFamily("divoom_hub_incident_open", "1 for each open incident",
                                  labels=["component", "incident"])
    for component, incident in status.incidents:
        incidents.add_metric([component, incident], 1.0)
    yield incidents
    silences = Counter(s.kind for s in status.silences)
    yield _labelled(GaugeMetricFamily("divoom_hub_silences",
                                      "Silences in force, by kind: mute, maintenance, ack; "
                                      "flapping and folded components",
                                      labels=["kind"]),
                    ((kind, float(silences[kind]))
                     for kind in ("mute", "maintenance", "ack", "flapping", "folded")))
    yield _labelled(CounterMetricFamily("divoom_hub_notices_held",
                                        "Notices the notification policy held since start, "
                                        "by reason", labels=["reason"]),
                    status.held_by_reason)
    yield GaugeMetricFamily("divoom_hub_notifications_enabled",
                            "0 while [hub] notifications = false (nothing is sent)",
                            value=1.0 if status.notifications else 0.0)
def stats_metrics(status: HubStatus) -> Iterator[Metric]:
    """Latency percentiles (a summary's quantiles, as gauges: they are computed over the
    last hour, not since start), uptime % over 24 h and 7 d (gauges) and failures by
    error type since start (a counter)."""
    latency = GaugeMetricFamily("divoom_hub_component_latency_seconds",
                                "Latency percentile over the last hour (upper bin edge)",
                                labels=["component", "quantile"])
    uptime = GaugeMetricFamily("divoom_hub_component_uptime_percent",
                               "Successful outcomes in percent over a window",
                               labels=["component", "window"])
    failures = CounterMetricFamily("divoom_hub_component_failures_by_type",
                                   "Failed outcomes since start by error type",
                                   labels=["component", "error_type"])
    for stats in status.stats:
        if stats.latency_seconds is not None:
            for p, value in zip(PERCENTILES, stats.latency_seconds, strict=True):
                latency.add_metric([stats.component, f"{p / 100:g}"], value)
        for window, percent in (("24h", stats.uptime_24h_percent),
                                ("7d", stats.uptime_7d_percent)):
            if percent is not None:
                uptime.add_metric([stats.component, window], percent)
        for error_type, count in stats.failures_by_type:
            failures.add_metric([stats.component, error_type], count)
    yield from (latency, uptime, failures)


def channel_metrics(status: HubStatus) -> Iterator[Metric]:
    """Watched Discord channels' counters: gauges, as they fall to 0 at local midnight."""
    if not status.channels:
        return
    yield _labelled(GaugeMetricFamily("divoom_hub_channel_messages_today",
                                      "Messages posted today in each watched Discord channel",
                                      labels=["channel"]),
                    ((c.name, c.messages_today) for c in status.channels))
    yield _labelled(GaugeMetricFamily("divoom_hub_channel_keyword_matches_today",
                                      "Messages today matching a keyword, per watched channel",
                                      labels=["channel"]),
                    ((c.name, c.keyword_matches_today) for c in status.channels))
    by_keyword = GaugeMetricFamily("divoom_hub_channel_keyword_messages_today",
                                   "Messages today matching each keyword of a watched channel",
                                   labels=["channel", "keyword"])
    for c in status.channels:
        for keyword, count in c.keyword_counts:
            by_keyword.add_metric([c.name, keyword], count)
    yield by_keyword


def fleet_metrics(status: HubStatus) -> Iterator[Metric]:
    """Forwarding to Alertmanager (with `[alertmanager]`) and the fleet's alerts received."""
    fleet = status.fleet
    yield GaugeMetricFamily("divoom_hub_fleet_alerts_firing",
                            "Alerts Alertmanager's webhook says fire (POST /api/alertmanager)",
                            value=len(fleet.alerts))
    if fleet.forwarding is None:
        return
    yield GaugeMetricFamily("divoom_hub_alertmanager_open_incidents",
                            "Incidents open in Alertmanager, posted again while open",
                            value=fleet.forwarding.open_alerts)
    yield GaugeMetricFamily("divoom_hub_alertmanager_waiting",
                            "Incidents changed but not yet taken by Alertmanager",
                            value=fleet.forwarding.waiting)
    yield GaugeMetricFamily("divoom_hub_alertmanager_silences",
                            "Active silences in Alertmanager covering this hub",
                            value=len(fleet.silences))


def _labelled(family: GaugeMetricFamily | CounterMetricFamily,
              samples: Iterable[tuple[str, float]]) -> Metric:
    for label, value in samples:
        family.add_metric([label], value)
    return family


# -- the server ---------------------------------------------------------------------------

def _no_frame() -> bytes | None:
    return None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class StatusServer:
    """The aiohttp server; `start()`/`stop()` on the daemon's loop, or `async with`."""

    def __init__(self, listen: str, status: Callable[[], HubStatus], *,
                 frame_png: Callable[[], bytes | None] = _no_frame,
                 pages: Callable[[], PagesShown | None] = lambda: None,
                 report: Callable[[Outcome], None] | None = None,
                 notify: Callable[[Notice], None] | None = None,
                 fleet: Callable[[tuple[Received, ...]], None] | None = None,
                 rate_limits: RateLimits | None = None,
                 heartbeats: Iterable[HeartbeatMonitor] = (),
                 thresholds: Iterable[ThresholdMonitor] = (),
                 token: str = "",
                 clock: Callable[[], float] = time.time,
                 zone: ZoneInfo | None = None,
                 status_max_age_seconds: float = STATUS_MAX_AGE_SECONDS,
                 setting: str = "[hub] http_listen",
                 desk: OperatorDesk | None = None) -> None:
        address = parse_listen(listen)
        if address is None:
            raise StatusServerError(not_an_address(listen))
        self._host, self._port = address.host, address.port
        self._setting = setting  # where `listen` came from, for errors
        if not token and not address.is_loopback:
            raise StatusServerError(
                f"refusing to serve the status page on {listen} without an access token: "
                f"set {TOKEN_ENV} in the environment or .env (clients then send "
                f"'Authorization: Bearer <token>' or '?token=<token>'), or listen on "
                f"127.0.0.1 only")
        self._status = status
        self._frame_png = frame_png
        self._pages = pages  # the display's page and rotation (read on this loop)
        self._report = report
        self._heartbeats = {h.name: h for h in heartbeats}
        self._thresholds = {t.name: t for t in thresholds}
        if (self._heartbeats or self._thresholds) and report is None:
            raise ValueError("heartbeat and threshold monitors need a `report` sink")
        self._notify = notify
        self._desk = desk
        self._fleet = fleet
        self._reports = ReportDesk(rate_limits)
        self._token = token
        self._clock = clock
        self._zone = zone
        self._max_age = status_max_age_seconds
        self._registry = CollectorRegistry()
        self._registry.register(StatusCollector(status, clock, status_max_age_seconds))
        self._registry.register(DiagnosticsCollector(self._reports.refused))
        self._timeline: tuple[str, bytes] | None = None  # (version, png) last drawn
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._errors_as_json, self._authorize,
                                           self._same_origin_posts],
                              client_max_size=MAX_BODY_BYTES)
        app.router.add_get("/", self._page)
        app.router.add_get("/live", self._live)
        app.router.add_get("/health", self._health)
        app.router.add_get("/api/status", self._api_status)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/frame.png", self._frame)
        app.router.add_get("/timeline.png", self._timeline_png)
        app.router.add_post("/ping/{name}", self._ping)
        app.router.add_post("/api/metric/{name}", self._metric)
        app.router.add_post("/api/notify", self._diagnostic)
        app.router.add_get("/api/silences", self._silences)
        app.router.add_post("/api/silences", self._silence)
        app.router.add_delete("/api/silences/{component}", self._unmute)
        app.router.add_post("/api/alertmanager", self._alertmanager)
        return app

    async def start(self, wait: PortWait = NO_WAIT) -> None:
        """Bind and serve. An address in use or not (yet) on this machine is tried again
        as `wait` says, then is an `AddressUnavailable`; with no wait, and for any other
        reason, a `StatusServerError` naming the setting."""
        where = f"{self._host}:{self._port} ({self._setting})"
        delays = wait.delays()
        runner: web.AppRunner | None = None
        has_waited = False
        while runner is None:
            try:
                runner = await self._bind()
            except OSError as err:
                reason = MAY_CLEAR.get(err.errno or 0)
                if reason is None:
                    raise StatusServerError(f"cannot listen on {where}: "
                                            f"{err.strerror or err}") from None
                delay = next(delays, None)
                if delay is None:
                    raise self._unavailable(where, reason, wait.seconds) from None
                if not has_waited:  # said once, not at every attempt
                    log.warning("cannot listen on %s: %s; trying again for up to %g s",
                                where, reason, wait.seconds)
                has_waited = True
                await wait.sleep(delay)
        if has_waited:
            log.info("%s is free now", where)
        self._runner = runner
        self._bound_port = int(runner.addresses[0][1])
        log.info("status page on %s", self.url)

    async def _bind(self) -> web.AppRunner:
        """One attempt to serve on the address; nothing is left open when it fails."""
        # In-flight requests get a second at shutdown: they are small and never stream.
        runner = web.AppRunner(self.application(), access_log=None, shutdown_timeout=1.0,
                               logger=HttpErrorLog(log))
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        return runner

    def _unavailable(self, where: str, reason: str, waited_seconds: float) -> StatusServerError:
        """What to do about an address that stayed unusable."""
        still = f", still after {waited_seconds:g} s" if waited_seconds else ""
        if reason == MAY_CLEAR[errno.EADDRINUSE]:
            fix = (f"stop that program (`ss -ltnp 'sport = :{self._port}'` names it) or give "
                   f"{self._setting} another port")
        else:
            fix = f"give {self._setting} one of this machine's addresses, or 0.0.0.0 for all"
        message = f"cannot listen on {where}: {reason}{still}; {fix}"
        return AddressUnavailable(message) if waited_seconds else StatusServerError(message)

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> StatusServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The base URL (with the real port when `listen` asked for port 0)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._bound_port or self._port}"

    # -- middlewares --------------------------------------------------------------------

    @web.middleware
    async def _errors_as_json(self, request: web.Request, handler: Handler
                              ) -> web.StreamResponse:
        """aiohttp's own errors (404 of a path, 405, 413) as JSON, like ours."""
        try:
            return await handler(request)
        except web.HTTPException as err:
            if err.status < 400:
                raise
            headers = {k: v for k, v in err.headers.items() if k.lower() == "allow"}
            message = {
                404: f"no such path: {request.path}",
                405: f"{request.method} is not allowed on {request.path} "
                     f"(allowed: {headers.get('Allow', 'none')})",
                413: f"request body too large (at most {MAX_BODY_BYTES} bytes)",
            }.get(err.status, err.reason)
            return _error(err.status, message, headers=headers)

    @web.middleware
    async def _authorize(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self._token:
            return await handler(request)
        header = request.headers.get("Authorization", "")
        given = header[7:] if header.startswith("Bearer ") else request.query.get("token", "")
        # A header may carry any byte (aiohttp hands them over as surrogates): encode
        # what can never equal the token rather than fail on it.
        if not given or not hmac.compare_digest(given.encode("utf-8", "surrogatepass"),
                                                self._token.encode()):
            return _error(401, "an access token is required: send 'Authorization: Bearer "
                               "<token>' or add '?token=<token>'",
                          headers={"WWW-Authenticate": 'Bearer realm="divoom-hub"'})
        return await handler(request)

    @web.middleware
    async def _same_origin_posts(self, request: web.Request, handler: Handler
                                 ) -> web.StreamResponse:
        """A browser names the page that posts in `Origin`; only our own page may post."""
        origin = request.headers.get("Origin")
        if request.method in ("GET", "HEAD") or origin is None or _is_same_origin(origin,
                                                                                   request):
            return await handler(request)
        return _error(403, f"refusing a cross-origin {request.method}: Origin {_quoted(origin)} "
                           f"is not this server (a web page may not post here; scripts send "
                           f"no Origin header)")

    # -- pages and reads ----------------------------------------------------------------

    def _view(self, request: web.Request, status: HubStatus) -> PageView:
        now = self._clock()
        health = assess_health(status, now, self._max_age)
        frame = self._frame_png()
        frame_src = download_src = None
        if frame is not None:
            token = "&token=" + quote(request.query["token"], safe="") \
                if "token" in request.query else ""
            frame_src = f"frame.png?scale={PAGE_FRAME_SCALE}&v={zlib.crc32(frame):08x}{token}"
            download_src = f"frame.png?scale={DOWNLOAD_FRAME_SCALE}{token}"
        timeline_src = f"timeline.png?v={timeline_version(status, now)}"
        if "token" in request.query:
            timeline_src += "&token=" + quote(request.query["token"], safe="")
        return PageView(health=health.status, reasons=health.reasons, frame_src=frame_src,
                        now=now, zone=self._zone, timeline_src=timeline_src,
                        download_src=download_src, pages=self._pages())

    async def _page(self, request: web.Request) -> web.Response:
        status = self._status()
        return _html(render_page(status, self._view(request, status)))

    async def _live(self, request: web.Request) -> web.Response:
        status = self._status()
        return _html(render_live(status, self._view(request, status)))

    async def _health(self, _: web.Request) -> web.Response:
        status, now = self._status(), self._clock()
        health = assess_health(status, now, self._max_age)
        return _json(200 if health.status != UNHEALTHY else 503,
                     health_json(status, health, now))

    async def _api_status(self, _: web.Request) -> web.Response:
        status, now = self._status(), self._clock()
        body = status_json(status, assess_health(status, now, self._max_age), now)
        return _json(200, body)

    async def _metrics(self, _: web.Request) -> web.Response:
        # 0.0.4 text: understood by every Prometheus version; our names are plain ASCII.
        return web.Response(body=generate_latest(self._registry),
                            headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4,
                                     "Cache-Control": "no-store"})

    async def _frame(self, request: web.Request) -> web.Response:
        text = request.query.get("scale", "1")
        if not _SCALE.fullmatch(text) or not 1 <= int(text) <= MAX_SCALE:
            return _error(400, f"scale: expected a whole number from 1 to {MAX_SCALE}, "
                               f"got {_quoted(text)}")
        frame = self._frame_png()
        if frame is None:
            return _error(404, "no frame yet: the display has not rendered one")
        scale = int(text)
        if scale > 1:
            try:
                frame = _enlarge(frame, scale)
            except (UnidentifiedImageError, OSError, ValueError) as err:
                log.error("the latest frame is not a readable PNG: %s", err)
                return _error(500, "the latest frame is not a readable image")
        version = request.query.get("v")
        # A versioned URL names one frame forever; anything else must be fetched again.
        cache = ("private, max-age=86400, immutable"
                 if version == f"{zlib.crc32(self._frame_png() or b''):08x}" else "no-store")
        return web.Response(body=frame, content_type="image/png",
                            headers={"Cache-Control": cache})

    async def _timeline_png(self, _: web.Request) -> web.Response:
        status, now = self._status(), self._clock()
        version = timeline_version(status, now)
        if self._timeline is None or self._timeline[0] != version:
            # A long, flapping history takes tens of ms to draw: not on the daemon's loop.
            png = await asyncio.to_thread(timeline_png, status.history, now, self._zone)
            self._timeline = (version, png)
        return web.Response(body=self._timeline[1], content_type="image/png",
                            headers={"Cache-Control": "no-store"})

    # -- reports ------------------------------------------------------------------------

    async def _ping(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        monitor = self._heartbeats.get(name)
        if monitor is None:
            return _error(404, f"no heartbeat monitor named {name!r} "
                               f"(known: {', '.join(sorted(self._heartbeats)) or 'none'})")
        outcome = monitor.ping(self._clock())
        self._hand_over(outcome)
        return _json(202, {"component": name, "ok": True})

    async def _metric(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        monitor = self._thresholds.get(name)
        if monitor is None:
            return _error(404, f"no threshold monitor named {name!r} "
                               f"(known: {', '.join(sorted(self._thresholds)) or 'none'})")
        if not monitor.is_pushed:
            return _error(409, f"{name} reads its value from its url; it does not accept "
                               "pushed values")
        try:
            body, document = await _json_body(request, _METRIC_EXAMPLE)
        except BadBody as err:
            return _error(err.status, str(err))
        if not isinstance(document, dict) or "value" not in document:
            return _error(400, 'expected a JSON object with a "value" key such as '
                               f'{_METRIC_EXAMPLE}, got {_shorten(body)}')
        # A value that is there but not a number (null, "n/a") is a broken reading: the
        # device did report, so it is the monitor's failure (`bad_value`), not a 400.
        outcome = monitor.judge(document["value"], self._clock())
        self._hand_over(outcome)
        return _json(202, {"component": name, "ok": outcome.ok,
                           "error_type": outcome.error_type, "detail": outcome.detail})

    async def _diagnostic(self, request: web.Request) -> web.Response:
        """A report from another app: taken in by the desk, then into the outbox."""
        if self._notify is None:
            return _error(503, "this server takes no diagnostics (nothing to send them to)")
        try:
            _, document = await _json_body(request, _NOTIFY_EXAMPLE)
        except BadBody as err:
            self._reports.invalid()
            return _error(err.status, str(err))
        admission = self._reports.take(document, self._clock())
        if admission.refused == RATE_LIMITED:
            return _json(429, {"error": admission.message,
                               "retry_after_seconds": int(admission.retry_after)},
                         headers={"Retry-After": admission.retry_after})
        if admission.notice is None:
            return _error(400, admission.message)
        notice = admission.notice
        self._notify(notice)
        report = diagnostic_of(notice)
        answer: dict[str, Any] = {"accepted": True, "kind": notice.kind.value,
                                  "service": report.service, "level": report.level.value}
        warning = delivery_warning(self._status())
        if warning:
            answer["warning"] = warning
        return _json(202, answer)

    async def _silences(self, _: web.Request) -> web.Response:
        return _json(200, silences_json(self._status()))

    async def _silence(self, request: web.Request) -> web.Response:
        """A mute or an ack, as an operator would type it in Discord."""
        try:
            _, document = await _json_body(request, _SILENCE_EXAMPLE)
        except BadBody as err:
            return _error(err.status, str(err))
        problem = _silence_problem(document)
        if problem:
            return _error(400, f"{problem}; expected a JSON object such as {_SILENCE_EXAMPLE}")
        command = Command(document["action"], target=document["component"],
                          duration=document.get("for", ""), reason=document.get("reason", ""))
        return self._change(command, document.get("by") or HTTP_OPERATOR)

    async def _unmute(self, request: web.Request) -> web.Response:
        return self._change(Command("unmute", target=request.match_info["component"]),
                            request.query.get("by") or HTTP_OPERATOR)

    def _change(self, command: Command, by: str) -> web.Response:
        if self._desk is None:
            return _error(503, "this server cannot change silences (no policy to change)")
        try:
            change = self._desk.change(command, by[:100])
        except Refused as refusal:
            return _error(409, str(refusal))
        return _json(200, {"reply": change.reply})
    async def _alertmanager(self, request: web.Request) -> web.Response:
        """Alertmanager's webhook: its alerts to the fleet board (and the monitors)."""
        if self._fleet is None:
            return _error(503, "this server takes no Alertmanager webhooks")
        if request.content_type != "application/json":
            given = request.headers.get("Content-Type")
            return _error(415, f"expected Content-Type: application/json, got "
                               f"{_quoted(given) if given is not None else 'none'}")
        # Bigger than a report may be: read here, not with the server's 16 KiB limit.
        body = bytearray()
        while chunk := await request.content.read(65536):
            body += chunk
            if len(body) > WEBHOOK_MAX_BYTES:
                return _error(413, f"request body too large (at most {WEBHOOK_MAX_BYTES} "
                                   "bytes; lower max_alerts in the webhook receiver)")
        try:
            received = parse_webhook(strict_json.loads(bytes(body)))
        except ValueError as err:  # not JSON, or not a version 4 payload (WebhookError)
            prefix = "" if isinstance(err, WebhookError) else "expected Alertmanager's " \
                "webhook payload (JSON, version 4): "
            return _error(400, f"{prefix}{err}")
        self._fleet(received)
        return _json(200, {"received": len(received),
                           "firing": sum(1 for r in received if r.status == "firing")})

    def _hand_over(self, outcome: Outcome) -> None:
        assert self._report is not None  # checked in __init__ whenever monitors exist
        self._report(outcome)


def timeline_version(status: HubStatus, now: float) -> str:
    """Changes when the picture would: each minute, and at every state change."""
    latest = [(h.component, len(h.changes), h.changes[-1].at if h.changes else 0.0)
              for h in status.history]
    return f"{int(now // TIMELINE_REDRAW_SECONDS)}-{zlib.crc32(repr(latest).encode()):08x}"


def _enlarge(png: bytes, scale: int) -> bytes:
    with Image.open(io.BytesIO(png)) as image:
        big = image.convert("RGB").resize((image.width * scale, image.height * scale),
                                          Image.Resampling.NEAREST)
    out = io.BytesIO()
    big.save(out, format="PNG")
    return out.getvalue()


class BadBody(ValueError):
    """A request body the handler cannot read; `status` is the answer's (400, 415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _json_body(request: web.Request, example: str) -> tuple[bytes, Any]:
    """The body and the JSON document in it, or `BadBody` saying what is wrong."""
    if request.content_type != "application/json":
        given = request.headers.get("Content-Type")
        raise BadBody(415, f"expected Content-Type: application/json, got "
                           f"{_quoted(given) if given is not None else 'none'}")
    body = await request.read()
    try:
        return body, strict_json.loads(body)
    except ValueError as err:  # not UTF-8, not JSON, or JSON the hub cannot use
        raise BadBody(400, f"expected a JSON object such as {example}: {err}") from None


def delivery_warning(status: HubStatus) -> str:
    """What an accepted report should know about delivery: "" while it works.

    A report accepted while delivery is stopped for good is still kept (the outbox holds
    it until it can be sent), so the answer stays 202: a 5xx would make a careful client
    send it again, and the notice would go out twice.
    """
    delivery = status.delivery
    if delivery is None or delivery.state != "stopped":
        return ""
    return (f"delivery via {delivery.transport} is stopped ({delivery.detail}): the report "
            f"is kept and will be sent once delivery works again")


def _is_same_origin(origin: str, request: web.Request) -> bool:
    """Whether `Origin` names the host and port the request was sent to."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and bool(parts.netloc)
            and parts.netloc.lower() == (request.host or "").lower())


_QUOTED_BYTES = re.compile(r"b?'[^']{12,}'|b?\"[^\"]{12,}\"")


class HttpErrorLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's connection log, where a malformed request is the client's fault.

    aiohttp answers a bad request line or header with 400 and logs it with a traceback at
    ERROR; here it is one line at INFO. A failure of our own code (a 500) stays an error.
    """

    def exception(self, msg: object, *args: object, exc_info: Any = True,
                  **kwargs: Any) -> None:
        if isinstance(exc_info, HttpProcessingError) and 400 <= exc_info.code < 500:
            # What was wrong, without the bytes aiohttp quotes: a request line or header
            # may hold a token. ("Missing 'Host' header" keeps its short quote.)
            reason = str(exc_info.message).split("\n", 1)[0].split(":", 1)[0]
            reason = " ".join(_QUOTED_BYTES.sub("", reason).split())
            self.logger.info("refused a malformed HTTP request (%d): %s", exc_info.code,
                             reason or type(exc_info).__name__)
            return
        self.logger.exception(msg, *args, exc_info=exc_info, **kwargs)


def _shorten(body: bytes, limit: int = 60) -> str:
    return _quoted(body.decode("utf-8", errors="replace"), limit)


def _quoted(text: str, limit: int = 60) -> str:
    """Untrusted text quoted for an error message, and shortened."""
    return repr(text if len(text) <= limit else text[:limit - 1] + "…")


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None
          ) -> web.Response:
    return web.Response(status=status, text=json.dumps(body, allow_nan=False),
                        content_type="application/json",
                        headers={"Cache-Control": "no-store", **(headers or {})})


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return _json(status, {"error": message}, headers)


def _html(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html", headers={
        "Cache-Control": "no-store",
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    })

