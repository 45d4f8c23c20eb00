"""The forwarder's parts without a real Alertmanager: its config, its durable table, the
credentials it sends and never shows, and which notices it forwards."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from hub.app import Daemon
from hub.config import ConfigError, load_config
from hub.fleet.alertmanager import AlertmanagerSettings, alert_of, incident_of, posted
from hub.fleet.forward import AlertStore, Forwarder
from hub.secrets import Secrets, load_secrets
from machines import HeldReason, Notice, NoticeKind
from tests.daemon import Lines, write_hub_toml
from tests.fakes.target import Target
from tests.fleet.binaries import free_port

NOW = 1_700_000_000.0


def alert(incident: str = "web#1", kind: NoticeKind = NoticeKind.ALERT, **extra: object
          ) -> Notice:
    return Notice(kind=kind, component=incident.split("#")[0], at=NOW, failures=3,
                  error_type="timeout", first_failure_at=NOW - 60, incident=incident,
                  **extra)  # type: ignore[arg-type]


def config_of(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(f'[hub]\nname = "cabin"\n\n[alertmanager]\n{table}\n', encoding="utf-8")
    return path


def test_alertmanager_settings_are_read_with_their_defaults(tmp_path):
    config = load_config(config_of(tmp_path, 'url = "http://am.lan:9093/"'))
    assert config.alertmanager == AlertmanagerSettings(url="http://am.lan:9093")


@pytest.mark.parametrize(("table", "message"), [
    ('url = "http://ops:hunter2@am.lan:9093"', "url: holds credentials: put the password "
                                                "in ALERTMANAGER_PASSWORD"),
    ('url = "am.lan:9093"', "url: expected an http:// or https:// URL"),
    ('url = "http://am.lan"\nresend_seconds = 600', "resend_seconds: expected a number from "
                                                    "0.1 to 240 (below Alertmanager's"),
    ("resend_seconds = 30", "url: required"),
    ('url = "http://am.lan"\nsend = true', "send"),
])
def test_a_bad_alertmanager_setting_names_the_file_and_key(tmp_path, table, message):
    with pytest.raises(ConfigError) as raised:
        load_config(config_of(tmp_path, table))
    assert f"{tmp_path / 'hub.toml'}: [alertmanager] " in str(raised.value)
    assert message in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_open_incidents_survive_a_restart_of_the_hub(tmp_path):
    store = AlertStore(tmp_path / "outbox.sqlite")
    store.opened("web#1", {"labels": {"incident": "web#1"}})
    store.opened("nas#2", {"labels": {"incident": "nas#2"}})
    store.taken(store.due(NOW, 60.0), NOW)
    assert store.resolved("nas#2", NOW + 5)
    store.close()
    reopened = AlertStore(tmp_path / "outbox.sqlite")
    # The open one is due again a resend after its post; the resolution at once.
    assert [r.incident for r in reopened.due(NOW + 10, 60.0)] == ["nas#2"]
    assert [(r.incident, r.resolved_at) for r in reopened.due(NOW + 61, 60.0)] == [
        ("nas#2", NOW + 5), ("web#1", None)]
    reopened.taken(reopened.due(NOW + 61, 60.0), NOW + 61)
    assert reopened.counts() == (1, 0)  # the resolved one is done, web#1 still open
    assert not reopened.resolved("bus#9", NOW)  # never opened: nothing to resolve
    reopened.close()


def test_an_open_incident_ends_a_few_resends_ahead_and_a_recovery_at_its_time():
    body = alert_of(alert(), "cabin", "critical")
    assert body["labels"]["severity"] == "critical"
    assert body["startsAt"] == "2023-11-14T22:12:20+00:00"
    assert posted(body, now=NOW, resend_seconds=60, resolved_at=None)["endsAt"] == \
        "2023-11-14T22:17:20+00:00"  # 4 × 60 s ahead
    assert posted(body, now=NOW, resend_seconds=60, resolved_at=NOW - 1)["endsAt"] == \
        "2023-11-14T22:13:19+00:00"


def test_which_notices_belong_to_an_incident():
    assert incident_of(alert()) == "web#1"
    assert incident_of(Notice(kind=NoticeKind.STARTED, component="cabin", at=NOW)) is None
    # Before the notification policy stamps an id, the incident's start names it.
    assert incident_of(Notice(kind=NoticeKind.ALERT, component="web", at=NOW,
                              first_failure_at=NOW - 60)) == "web@1699999940"


def test_a_held_alert_is_not_forwarded_but_a_recovery_always_is(tmp_path):
    store = AlertStore(tmp_path / "outbox.sqlite")
    settings = AlertmanagerSettings(url="http://127.0.0.1:9")
    forwarder = Forwarder(settings, store, "cabin", lambda: NOW)
    forwarder.record(alert("web#1", held=HeldReason.MUTE))
    assert store.counts() == (0, 0)
    forwarder.record(alert("web#1"))
    forwarder.record(alert("web#1", kind=NoticeKind.RECOVERY, held=HeldReason.MUTE))
    assert store.counts() == (0, 1)  # resolved, waiting to be posted
    forwarder.close()


@pytest.mark.parametrize(("secrets", "expected"), [
    ({"ALERTMANAGER_TOKEN": "s3cret-token"}, "Bearer s3cret-token"),
    ({"ALERTMANAGER_PASSWORD": "s3cret-pass"}, "Basic b3BzOnMzY3JldC1wYXNz"),  # ops:…
])
def test_credentials_are_sent_and_never_logged(tmp_path, caplog, secrets, expected):
    """A refusing Alertmanager (a local server speaking its API): the header arrives,
    the error kept for the status and the log name the status only."""
    seen: list[str] = []

    async def alerts(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return web.json_response({"error": "forbidden"}, status=403)

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/api/v2/alerts", alerts)
        app.router.add_get("/api/v2/silences", alerts)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        loaded = load_secrets(secrets, None)
        forwarder = Forwarder(
            AlertmanagerSettings(url=f"http://127.0.0.1:{port}", username="ops"),
            AlertStore(tmp_path / "outbox.sqlite"), "cabin", lambda: NOW,
            token=loaded.alertmanager_token, password=loaded.alertmanager_password)
        forwarder.record(alert())
        try:
            async with aiohttp.ClientSession() as session:
                assert not await forwarder.step(session)
            assert forwarder.last_error.startswith("HTTP 403")
            assert forwarder.status().waiting == 1  # kept for the next step
        finally:
            forwarder.close()
            await runner.cleanup()

    with caplog.at_level(logging.DEBUG):
        asyncio.run(main())
    assert seen == [expected, expected]  # the post and the silences
    logged = caplog.text
    assert "cannot post to Alertmanager at http://127.0.0.1" in logged
    for secret in secrets.values():
        assert secret not in logged
    assert "b3BzOnMzY3JldC1wYXNz" not in logged


def test_a_hanging_alertmanager_does_not_hold_the_stop_and_its_incident_waits(tmp_path):
    """The post in flight is cut short after the drain; the incident stays in the table
    for the next start."""
    target = Target()
    target.is_hanging = True
    extra = (f'\n[alertmanager]\nurl = "{target.base}"\ntimeout_seconds = 60\n')
    config = load_config(write_hub_toml(tmp_path, None, http_listen="", extra=extra))

    async def main() -> None:
        daemon = Daemon(config, Secrets(), Lines(30.0).write)
        assert await daemon.start(asyncio.Event()) is not None
        daemon.accept(alert())
        async with asyncio.timeout(30):
            while not target.requests:  # noqa: ASYNC110 - a thread-side server: look again
                await asyncio.sleep(0.01)
        async with asyncio.timeout(20):  # the post alone would hang for 60 s
            await daemon.stop(drain_seconds=0.5)

    with target.running():
        asyncio.run(main())
    store = AlertStore(tmp_path / "state" / "outbox.sqlite")
    assert [row.incident for row in store.due(NOW, 60.0)] == ["web#1"]
    store.close()


def test_forwarding_needs_a_hub_name_of_its_own(tmp_path):
    """Two hubs both left at the default name would share their incidents in Alertmanager."""
    path = tmp_path / "hub.toml"
    path.write_text('[alertmanager]\nurl = "http://am.lan:9093"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value) == (
        f"{tmp_path / 'hub.toml'}: [hub] name: required with [alertmanager]: a name of this "
        'hub\'s own, such as "cabin" (the fleet\'s Alertmanager tells hubs apart by it)')
