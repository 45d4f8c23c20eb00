"""Incidents are seen everywhere (DESIGN.md): the page, `status`, `/api/status`,
`/metrics` and the console show the open incidents, the silences (who, why, until) and
what the policy held, beside the machines' true states."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient, TestServer

from hub.incidents.operations import Silence
from hub.notify.console import console_line
from hub.notify.status_embed import status_embed
from hub.status.model import HubStatus
from hub.web.page import PageView, render_live
from hub.web.server import StatusServer
from machines import HealthState, HeldReason, Notice, NoticeKind, Snapshot

NOW = 1_700_000_000.0
UTC = ZoneInfo("UTC")


def status(*, notifications: bool = True) -> HubStatus:
    return HubStatus(
        hub_name="kitchen", at=NOW, started_at=NOW - 3600,
        machines=(Snapshot(component="bus", state=HealthState.ALERTING, since=NOW - 600,
                           failures=3, last_error_type="timeout"),
                  Snapshot(component="pixoo", state=HealthState.HEALTHY, since=NOW - 3600)),
        delivery=None, outbox_depth=0,
        incidents=(("bus", "bus#7"),),
        silences=(Silence("mute", "pixoo", "ada", "moving it", NOW - 60, NOW + 7140),
                  Silence("ack", "bus#7", "bo", "on it", None, None)),
        held_notices=(Notice(kind=NoticeKind.REMINDER, component="bus", at=NOW - 30,
                             failures=3, reminder=2, error_type="timeout", incident="bus#7",
                             held=HeldReason.ACK),),
        held_by_reason=(("ack", 1),), notifications=notifications)


def test_the_page_shows_incident_ids_silences_and_held_notices():
    html = render_live(status(), PageView("degraded", (), None, NOW, UTC))
    assert "bus#7" in html
    assert "<li>mute pixoo until Wed 15 Nov 00:12 UTC, by ada: moving it</li>" in html
    assert "<li>ack bus#7 until it recovers, by bo: on it</li>" in html
    assert "<em>held: ack</em>" in html and "Held lately" in html
    off = render_live(status(notifications=False), PageView("degraded", (), None, NOW, UTC))
    assert "<b>notifications are off</b>" in off


def test_the_status_reply_names_the_incident_and_the_silences():
    embed = status_embed(status(), UTC)
    [bus] = [f for f in embed["fields"] if f["name"] == "bus"]
    assert bus["value"].startswith("🔴 alerting for 10 min · bus#7 · 3 failures")
    lines = embed["description"].split("\n")
    assert "🔕 mute pixoo until Wed 15 Nov 00:12 UTC, by ada: moving it" in lines
    assert "🔕 ack bus#7 until it recovers, by bo: on it" in lines
    assert "1 notices held lately (the page lists them)" in lines
    assert "🔕 notifications are off (`[hub] notifications = false`)" in \
        status_embed(status(notifications=False), UTC)["description"]


def test_api_status_and_metrics_show_the_policy_beside_the_true_states():
    async def fetch() -> tuple[dict, str, dict]:
        server = StatusServer("127.0.0.1:0", lambda: status(), clock=lambda: NOW)
        async with TestClient(TestServer(server.application())) as client:
            body = await (await client.get("/api/status")).json()
            metrics = await (await client.get("/metrics")).text()
            silences = await (await client.get("/api/silences")).json()
        return body, metrics, silences

    body, metrics, silences = asyncio.run(fetch())
    assert [(c["name"], c["state"]) for c in body["components"]] == [
        ("bus", "alerting"), ("pixoo", "healthy")]
    assert body["incidents"] == [{"component": "bus", "incident": "bus#7"}]
    assert body["silences"][0] == {"kind": "mute", "target": "pixoo", "by": "ada",
                                   "reason": "moving it", "since": "2023-11-14T22:12:20+00:00",
                                   "until": "2023-11-15T00:12:20+00:00"}
    assert body["held_notices"] == [{
        "at": "2023-11-14T22:12:50+00:00", "kind": "reminder", "component": "bus",
        "incident": "bus#7", "held": "ack",
        "summary": "reminder 2: still failing after 0 s · timeout"}]
    assert body["held_by_reason"] == {"ack": 1} and body["notifications"] is True
    assert silences == {key: body[key] for key in ("notifications", "silences", "incidents")}
    assert 'divoom_hub_incident_open{component="bus",incident="bus#7"} 1.0' in metrics
    assert 'divoom_hub_silences{kind="mute"} 1.0' in metrics
    assert 'divoom_hub_silences{kind="ack"} 1.0' in metrics
    assert 'divoom_hub_notices_held_total{reason="ack"} 1.0' in metrics
    assert "divoom_hub_notifications_enabled 1.0" in metrics


def test_silences_cannot_be_changed_on_a_server_without_a_policy():
    async def post() -> tuple[int, dict]:
        server = StatusServer("127.0.0.1:0", lambda: status(), clock=lambda: NOW)
        async with TestClient(TestServer(server.application())) as client:
            response = await client.post("/api/silences", json={
                "action": "mute", "component": "bus", "for": "1h"})
            return response.status, await response.json()

    assert asyncio.run(post()) == (503, {
        "error": "this server cannot change silences (no policy to change)"})


def test_the_console_line_carries_the_incident():
    line = console_line(Notice(kind=NoticeKind.ALERT, component="bus", at=NOW, failures=3,
                               error_type="timeout", incident="bus#7"), UTC)
    assert line == "22:13:20  ALERT     bus        bus#7 failing for 0 s, 3 failures: timeout"


def test_the_cli_without_the_token_says_which_one_to_pass(capsys, monkeypatch):
    from hub.cli import main

    monkeypatch.delenv("HUB_HTTP_TOKEN", raising=False)

    async def run() -> int:
        server = StatusServer("127.0.0.1:0", lambda: status(), clock=lambda: NOW,
                              token="s3cret-token")
        async with TestServer(server.application()) as test_server:
            url = str(test_server.make_url("/")).rstrip("/")
            return await asyncio.to_thread(main, ["silences", "--url", url])

    assert asyncio.run(run()) == 1
    err = capsys.readouterr().err
    assert err.startswith("divoom-hub silences: the hub refused the request (HTTP 401): an "
                          "access token is required")
    assert err.rstrip().endswith("(pass the hub's HUB_HTTP_TOKEN)")
