"""`POST /api/alertmanager`: a version 4 payload reaches the fleet board; anything else
is a 4xx that says what was wrong; the token guards it like every other endpoint."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest

from hub.app import Daemon, StartupError
from hub.config import ConfigError, load_config
from hub.fleet.received import (
    MAX_BODY_BYTES,
    AlertmanagerMonitor,
    FleetBoard,
    Received,
    parse_webhook,
)
from hub.secrets import Secrets
from hub.web.server import StatusServer
from machines import Policy
from tests.web.conftest import NOW, call, published


def payload(*alerts: dict[str, Any], version: str = "4") -> dict[str, Any]:
    return {"version": version, "status": "firing", "receiver": "hub", "groupKey": "{}:{}",
            "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "http://am:9093", "alerts": list(alerts)}


def alert(fingerprint: str = "a1", status: str = "firing", **labels: str) -> dict[str, Any]:
    return {"status": status, "labels": {"alertname": "HostDown", "instance": "nas", **labels},
            "annotations": {"summary": "nas   is\ndown"}, "startsAt": "2023-11-14T22:08:20Z",
            "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": fingerprint}


def server(taken: list[tuple[Received, ...]], token: str = "") -> StatusServer:
    return StatusServer("127.0.0.1:0", lambda: published(), fleet=taken.append, token=token,
                        clock=lambda: NOW)


def test_a_webhook_payload_reaches_the_fleet_board():
    taken: list[tuple[Received, ...]] = []
    reply = call(server(taken), "POST", "/api/alertmanager",
                 json=payload(alert("a1"), alert("b2", status="resolved", instance="lab")))
    assert reply.status == 200 and reply.json() == {"received": 2, "firing": 1}
    board = FleetBoard()
    board.take(taken[0])
    assert [a.line() for a in board.firing()] == ["HostDown nas: nas is down"]


@pytest.mark.parametrize(("body", "status", "message"), [
    (payload(alert(), version="3"), 400, 'version: expected "4"'),
    ({"alerts": []}, 400, 'version: expected "4"'),
    (payload(alert(status="pending")), 400, 'alerts[0].status: expected "firing" or'),
    (payload({**alert(), "labels": {"alertname": 3}}), 400,
     "alerts[0].labels: expected an object of strings"),
    (payload({**alert(), "fingerprint": None}), 400, "alerts[0].fingerprint: expected"),
    (payload({**alert(), "startsAt": "yesterday"}), 400, "alerts[0].startsAt: expected an RFC"),
    ([1, 2], 400, "expected Alertmanager's webhook payload (a JSON object), got list"),
])
def test_a_bad_payload_is_a_400_naming_the_field(body, status, message):
    taken: list[tuple[Received, ...]] = []
    reply = call(server(taken), "POST", "/api/alertmanager", json=body)
    assert reply.status == status
    assert message in reply.json()["error"]
    assert taken == []


def test_not_json_too_large_or_no_token_are_refused():
    taken: list[tuple[Received, ...]] = []
    assert call(server(taken), "POST", "/api/alertmanager", data=b"{",
                headers={"Content-Type": "application/json"}).status == 400
    assert call(server(taken), "POST", "/api/alertmanager", data=b"{}",
                headers={"Content-Type": "text/plain"}).status == 415
    big = json.dumps(payload(alert())).encode() + b" " * MAX_BODY_BYTES
    reply = call(server(taken), "POST", "/api/alertmanager", data=io.BytesIO(big),
                 headers={"Content-Type": "application/json"})
    assert reply.status == 413 and "max_alerts" in reply.json()["error"]
    # Bigger than a report may be (16 KiB), well within a webhook's limit.
    many = payload(*(alert(f"f{i}", instance=f"host-{i}") for i in range(200)))
    assert len(json.dumps(many)) > 16 * 1024
    assert call(server(taken), "POST", "/api/alertmanager", json=many).status == 200
    guarded = server(taken, token="s3cret")
    assert call(guarded, "POST", "/api/alertmanager", json=payload(alert())).status == 401
    assert call(guarded, "POST", "/api/alertmanager", json=payload(alert()),
                headers={"Authorization": "Bearer s3cret"}).status == 200
    assert len(taken) == 2


def test_a_monitor_fails_while_a_matching_alert_fires_and_succeeds_once_none_does(tmp_path):
    monitor = load_monitor(tmp_path, 'matchers = {alertname = "HostDown", instance = "nas"}')
    board = FleetBoard()
    firing = parse_webhook(payload(alert("a1"), alert("c3", instance="lab")))
    board.take(firing)
    outcome = monitor.judge(firing, board, NOW)
    assert outcome is not None and not outcome.ok and outcome.error_type == "alert_firing"
    assert outcome.detail == "HostDown nas: nas is down"
    other = parse_webhook(payload(alert("c3", status="resolved", instance="lab")))
    board.take(other)
    assert monitor.judge(other, board, NOW) is None  # not its alert
    resolved = parse_webhook(payload(alert("a1", status="resolved")))
    board.take(resolved)
    outcome = monitor.judge(resolved, board, NOW + 60)
    assert outcome is not None and outcome.ok
    # The alerts are the debounce: the first one alerts, unless [policy.nas] says.
    assert monitor.policy(Policy()).failures_before_alert == 1
    assert monitor.policy(Policy(failures_before_alert=2),
                          {"failures_before_alert"}).failures_before_alert == 2


def load_monitor(folder: Path, line: str) -> AlertmanagerMonitor:
    path = folder / "hub.toml"
    path.write_text(f'[[monitor]]\nkind = "alertmanager"\nname = "nas"\n{line}\n',
                    encoding="utf-8")
    return load_config(path).fleet_monitors[0]


@pytest.mark.parametrize("line", ['matchers = {}', 'matchers = {alertname = 3}',
                                  'matchers = "alertname=HostDown"', ""])
def test_a_monitor_without_usable_matchers_names_the_key(tmp_path, line):
    with pytest.raises(ConfigError) as raised:
        load_monitor(tmp_path, line)
    assert "[[monitor]] #1 (alertmanager): matchers: expected a table of label = value" \
        in str(raised.value)


def test_an_alertmanager_monitor_needs_the_status_server(tmp_path):
    """Its alerts arrive by the webhook: without `http_listen` nothing would ever come."""
    path = tmp_path / "hub.toml"
    path.write_text('[hub]\nhttp_listen = ""\nstate_dir = "state"\n\n[[monitor]]\n'
                    'kind = "alertmanager"\nname = "nas"\nmatchers = {instance = "nas"}\n',
                    encoding="utf-8")
    config = load_config(path)

    async def build() -> None:
        Daemon(config, Secrets(), lambda _: None)

    with pytest.raises(StartupError, match="alertmanager monitors report to the status "
                                           "server: set \\[hub\\] http_listen"):
        asyncio.run(build())
