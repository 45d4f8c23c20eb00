"""Alertmanager's webhook (`POST /api/alertmanager`, payload version 4) and what the hub
makes of it: the fleet's firing alerts (`FleetBoard`), shown on the page and the Pixoo,
and `[[monitor]] kind = "alertmanager"`, a component whose outcomes are the alerts its
label matchers select (firing: a failure; none firing any more: a success).

    {"version": "4", "status": "firing", "receiver": "...", "groupKey": "...",
     "alerts": [{"status": "firing", "labels": {...}, "annotations": {...},
                 "startsAt": "...", "endsAt": "...", "fingerprint": "..."}], ...}

Parsing is strict and pure: a payload that is not version 4 or misses a field is a
`WebhookError` naming it (the server answers 400 with it).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hub.fleet.matchers import Matcher, all_match
from hub.fleet.model import FleetAlert
from hub.settings_table import Table
from machines import Outcome, Policy

KIND = "alertmanager"
#: The version of the webhook payload Alertmanager has sent since 0.6.
PAYLOAD_VERSION = "4"
#: An Alertmanager sends at most this many alerts per notification unless its
#: `max_alerts` says fewer; the hub keeps as many firing at most (the oldest go first).
MAX_ALERTS = 500
#: Webhook bodies can be far larger than a report: 500 alerts of a few hundred bytes.
MAX_BODY_BYTES = 1024 * 1024
#: A monitor's alerts are its debounce already (Alertmanager's `for` and group_wait):
#: the first firing alert alerts, unless `[policy.<name>]` says otherwise.
ALERT_AT_ONCE: Mapping[str, Any] = {"failures_before_alert": 1, "failing_for_seconds": 0.0}
FIRING, RESOLVED = "firing", "resolved"


class WebhookError(ValueError):
    """A webhook payload the hub cannot read; the message names what is wrong."""


@dataclass(frozen=True, slots=True)
class Received:
    """One alert of a webhook payload: firing or resolved."""

    status: str
    alert: FleetAlert


def parse_webhook(document: Any) -> tuple[Received, ...]:
    """The alerts of one version 4 payload, or a `WebhookError` naming the bad field."""
    if not isinstance(document, dict):
        raise WebhookError(f"expected Alertmanager's webhook payload (a JSON object), got "
                           f"{type(document).__name__}")
    version = document.get("version")
    if version != PAYLOAD_VERSION:
        raise WebhookError(f"version: expected \"4\" (Alertmanager's webhook payload), got "
                           f"{_shown(version)}")
    alerts = document.get("alerts")
    if not isinstance(alerts, list):
        raise WebhookError(f"alerts: expected a list, got {_shown(alerts)}")
    if len(alerts) > MAX_ALERTS:
        raise WebhookError(f"alerts: at most {MAX_ALERTS} per payload (set max_alerts in "
                           f"the webhook receiver), got {len(alerts)}")
    return tuple(_alert(item, index) for index, item in enumerate(alerts))


def _alert(item: Any, index: int) -> Received:
    where = f"alerts[{index}]"
    if not isinstance(item, dict):
        raise WebhookError(f"{where}: expected an object, got {_shown(item)}")
    status = item.get("status")
    if status not in (FIRING, RESOLVED):
        raise WebhookError(f"{where}.status: expected \"firing\" or \"resolved\", got "
                           f"{_shown(status)}")
    labels = _strings(item.get("labels"), f"{where}.labels")
    annotations = _strings(item.get("annotations", {}), f"{where}.annotations")
    fingerprint = item.get("fingerprint")
    if not isinstance(fingerprint, str) or not fingerprint:
        raise WebhookError(f"{where}.fingerprint: expected a string, got {_shown(fingerprint)}")
    summary = annotations.get("summary") or annotations.get("description") or ""
    return Received(status, FleetAlert(
        fingerprint=fingerprint, labels=tuple(sorted(labels.items())),
        summary=" ".join(summary.split())[:200],
        starts_at=_time(item.get("startsAt"), f"{where}.startsAt")))


def _strings(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                              for k, v in value.items()):
        raise WebhookError(f"{where}: expected an object of strings, got {_shown(value)}")
    return value


def _time(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise WebhookError(f"{where}: expected an RFC 3339 time, got {_shown(value)}")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise WebhookError(f"{where}: expected an RFC 3339 time, got {_shown(value)}") from None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


class FleetBoard:
    """The fleet's alerts firing now, by fingerprint (on the daemon's loop)."""

    def __init__(self) -> None:
        self._firing: dict[str, FleetAlert] = {}

    def take(self, received: Iterable[Received]) -> None:
        for item in received:
            if item.status == FIRING:
                self._firing.pop(item.alert.fingerprint, None)  # the latest at the end
                self._firing[item.alert.fingerprint] = item.alert
            else:
                self._firing.pop(item.alert.fingerprint, None)
        while len(self._firing) > MAX_ALERTS:
            del self._firing[next(iter(self._firing))]

    def firing(self) -> tuple[FleetAlert, ...]:
        """Oldest first (by when each began)."""
        return tuple(sorted(self._firing.values(),
                            key=lambda a: (a.starts_at or 0.0, a.fingerprint)))


@dataclass(frozen=True, slots=True)
class AlertmanagerMonitor:
    """`[[monitor]] kind = "alertmanager"`: the alerts its matchers select are a component."""

    name: str
    matchers: tuple[Matcher, ...]

    def selects(self, alert: FleetAlert) -> bool:
        return all_match(self.matchers, dict(alert.labels))

    def policy(self, base: Policy, owner_keys: Collection[str] = ()) -> Policy:
        """`base`, alerting at the first firing alert unless `[policy.<name>]` says."""
        return base.with_overrides({k: v for k, v in ALERT_AT_ONCE.items()
                                    if k not in owner_keys})

    def judge(self, received: Iterable[Received], board: FleetBoard,
              at: float) -> Outcome | None:
        """After a payload: a failure while any selected alert fires, a success when the
        payload resolved the last one, None when the payload did not concern it."""
        if not any(self.selects(item.alert) for item in received):
            return None
        firing = [a for a in board.firing() if self.selects(a)]
        if firing:
            return Outcome.failure(self.name, at, "alert_firing",
                                   "; ".join(a.line() for a in firing)[:300])
        return Outcome.success(self.name, at)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], path: Path,
                   index: int) -> AlertmanagerMonitor:
        reader = Table.monitor(table, path, index, KIND)
        reader.only_keys({"name", "matchers"})
        name = reader.name()
        matchers = table.get("matchers")
        if not isinstance(matchers, dict) or not matchers or not all(
                isinstance(k, str) and k and isinstance(v, str) for k, v in matchers.items()):
            raise reader.expected("matchers", "a table of label = value, such as "
                                              '{alertname = "HostDown", instance = "nas"}',
                                  matchers)
        return cls(name=name, matchers=tuple(Matcher(k, v) for k, v in
                                             sorted(matchers.items())))
