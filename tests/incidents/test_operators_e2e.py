"""Operators at work on the whole daemon: the real discord.py client on the fake gateway,
the status server's /api/silences, and `divoom-hub mute|unmute|silences` through it.

The daemon runs in real time (the real asyncio wiring); the tests wait on what arrives,
with generous deadlines, and never sleep to let time pass.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from typing import Any

import pytest

from hub.app import DaemonInfo, run_daemon
from hub.cli import main
from hub.config import load_config
from hub.incidents.desk import REFUSAL
from hub.secrets import Secrets
from hub.storage.incidents import IncidentStore
from tests.fakes.discord_gateway import FakeDiscord
from tests.fakes.target import Target
from tests.hub.bot_support import bot_config, secrets_for

OPERATOR, STRANGER = "4242", "5151"


def titles(fake: FakeDiscord) -> list[str]:
    return [e["title"] for e in fake.embeds_in(fake.monitor_channel_id)]


def texts(fake: FakeDiscord) -> list[str]:
    return [body.get("content") or "" for body in fake.posts_to(fake.monitor_channel_id)]


def embeds_titled(fake: FakeDiscord, start: str) -> list[dict[str, Any]]:
    return [e for e in fake.embeds_in(fake.monitor_channel_id) if e["title"].startswith(start)]


def test_operators_ack_by_text_and_slash_command_and_strangers_are_refused(tmp_path):
    async def scenario(target: Target) -> FakeDiscord:
        async with FakeDiscord() as fake:
            path = bot_config(tmp_path, target.url,
                              extra=f'\n[discord]\noperators = ["{OPERATOR}"]\n')
            stop = asyncio.Event()
            daemon = asyncio.create_task(run_daemon(load_config(path), secrets_for(fake),
                                                    lambda _: None, stop))
            await fake.wait_until(lambda: "🔵 test-hub started" in titles(fake))
            await fake.wait_until(lambda: {"status", "ack", "mute", "unmute", "silences", "help"}
                                  <= {c["name"] for c in fake.commands})
            target.status = 503
            await fake.wait_until(lambda: "🔴 web is failing" in titles(fake))
            # A stranger is refused, and nothing changes.
            await fake.user_message(fake.monitor_channel_id, "ack web", user_id=STRANGER,
                                    username="mallory")
            await fake.wait_until(lambda: REFUSAL in texts(fake))
            # The operator acks with a message: a reply, and an announcement.
            await fake.user_message(fake.monitor_channel_id, "ack web swapping the cable",
                                    user_id=OPERATOR, username="ada")
            await fake.wait_until(lambda: any(t.startswith("Acknowledged web#1")
                                              for t in texts(fake)))
            await fake.wait_until(lambda: bool(embeds_titled(fake, "🔕 ada acknowledged")))
            # The ack alone redraws the alert message in place: it names who, and why.
            await fake.wait_until(lambda: alert_of(fake, "web#1").get("Acked by")
                                  == "ada: swapping the cable")
            target.status = 200
            await fake.wait_until(lambda: "🟢 web recovered" in titles(fake))
            # The second incident is acked with /ack.
            target.status = 503
            await fake.wait_until(lambda: titles(fake).count("🔴 web is failing") == 2)
            await fake.slash_command("ack", fake.monitor_channel_id, user_id=OPERATOR,
                                     username="ada", options={"component": "web#2"})
            await fake.slash_command("mute", fake.monitor_channel_id, user_id=STRANGER,
                                     username="mallory",
                                     options={"component": "web", "duration": "1h"})
            await fake.wait_until(lambda: len(fake.interaction_callbacks()) == 2)
            await fake.wait_until(lambda: bool(embeds_titled(fake, "🔕 ada acknowledged web#2")))
            await fake.wait_until(lambda: alert_of(fake, "web#2").get("Acked by") == "ada")
            target.status = 200
            await fake.wait_until(lambda: titles(fake).count("🟢 web recovered") == 2)
            stop.set()
            assert await asyncio.wait_for(daemon, 30) == 0
            return fake

    with Target().running() as target:
        fake = asyncio.run(scenario(target))
    all_titles = titles(fake)
    assert "🔕 mallory" not in " ".join(all_titles)  # the stranger changed nothing
    # Acked incidents send no reminders after the ack; the recoveries name who acked.
    recoveries = embeds_titled(fake, "🟢 web recovered")
    assert [[f["value"] for f in e["fields"] if f["name"] == "Acked by"]
            for e in recoveries] == [["ada: swapping the cable"], ["ada"]]
    assert [[f["value"] for f in e["fields"] if f["name"] == "Incident"]
            for e in recoveries] == [["web#1"], ["web#2"]]
    ack_reply, refusal = fake.interaction_callbacks()
    assert ack_reply["data"]["content"].startswith("Acknowledged web#2: its reminders")
    assert refusal["data"]["content"] == REFUSAL
    assert all(int(c["data"]["flags"]) & 64 for c in (ack_reply, refusal))  # ephemeral
    for body in fake.posts_to(fake.monitor_channel_id):
        assert body["allowed_mentions"]["parse"] == []
    # Each incident's alert message was edited in place: it names who acked, and ends green.
    channel = fake.monitor_channel_id
    alerts = [mid for mid in fake.bot_message_ids(channel)
              if fake.message(mid)["embeds"]
              and any(f["name"] == "Incident" for f in fake.message(mid)["embeds"][0]["fields"])
              and not fake.message(mid).get("message_reference")]
    finals = [fake.message(mid)["embeds"][0] for mid in alerts]
    assert [(e["title"], fields(e)["Incident"], fields(e).get("Acked by")) for e in finals] == [
        ("🟢 web recovered", "web#1", "ada: swapping the cable"),
        ("🟢 web recovered", "web#2", "ada")]
    assert all(e.status == 200 for e in fake.edits_in(channel))


def alert_of(fake: FakeDiscord, incident: str) -> dict[str, str]:
    """The fields of `incident`'s alert message as Discord shows it now ({} before it)."""
    for mid in fake.bot_message_ids(fake.monitor_channel_id):
        message = fake.message(mid)
        if message.get("message_reference") or not message["embeds"]:
            continue
        shown = fields(message["embeds"][0])
        if shown.get("Incident") == incident:
            return shown
    return {}


def fields(embed: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed["fields"]}


def http(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read())


def test_silences_over_http_and_the_cli_reach_the_running_hub(tmp_path, capsys):
    async def scenario(target: Target) -> list[tuple[int, Any]]:
        path = bot_config(tmp_path, target.url)
        stop, lines, ready = asyncio.Event(), [], asyncio.get_running_loop().create_future()
        daemon = asyncio.create_task(run_daemon(load_config(path), Secrets(),
                                                lines.append, stop, on_ready=ready.set_result))
        info: DaemonInfo = await asyncio.wait_for(ready, 30)
        assert info.status_url is not None
        base = info.status_url.rstrip("/")
        answers = []

        def cli(*args: str) -> tuple[int, str, str]:
            code = main([*args, "--url", base, "--by", "ada"])
            out, err = capsys.readouterr()
            return code, out, err

        answers.append(await asyncio.to_thread(cli, "mute", "web", "2h", "moving the router"))
        answers.append(await asyncio.to_thread(http, "GET", f"{base}/api/silences"))
        answers.append(await asyncio.to_thread(cli, "silences"))
        answers.append(await asyncio.to_thread(
            http, "POST", f"{base}/api/silences", {"action": "mute", "component": "web"}))
        answers.append(await asyncio.to_thread(
            http, "POST", f"{base}/api/silences", {"action": "ack", "component": "web"}))
        target.status = 503
        async with asyncio.timeout(30):  # until the muted alert shows as held
            while True:
                status = await asyncio.to_thread(http, "GET", f"{base}/api/status")
                if status[1]["held_notices"]:
                    break
                await asyncio.sleep(0.05)  # the page is polled: no hook to await
        answers.append(status)
        answers.append(await asyncio.to_thread(cli, "unmute", "web"))
        answers.append(await asyncio.to_thread(cli, "unmute", "web"))
        stop.set()
        assert await asyncio.wait_for(daemon, 30) == 0
        return answers

    with Target().running() as target:
        (mute, listed, silences, bad, ack, status, unmute, again) = asyncio.run(
            scenario(target))
    assert mute[0] == 0 and mute[1].startswith("Muted web for 2 h, until ")
    assert listed[0] == 200
    [silence] = listed[1]["silences"]
    assert (silence["kind"], silence["target"], silence["by"], silence["reason"]) == (
        "mute", "web", "ada", "moving the router")
    assert silences[0] == 0 and silences[1].startswith("mute         web              until ")
    assert bad == (400, {"error": "for: required for a mute (30m, 2h, 1d; at most 7d); "
                                  'expected a JSON object such as {"action": "mute", '
                                  '"component": "bus", "for": "2h", "reason": "moving the '
                                  'router", "by": "ada"}'})
    assert ack == (409, {"error": "web has no open incident to acknowledge"})
    body = status[1]
    assert body["held_notices"][0]["kind"] == "alert"
    assert body["held_notices"][0]["held"] == "mute"
    assert body["held_notices"][0]["incident"] == "web#1"
    assert {"component": "web", "incident": "web#1"} in body["incidents"]
    web = next(c for c in body["components"] if c["name"] == "web")
    assert web["state"] in ("alerting", "reminding")
    assert unmute[0] == 0 and unmute[1].startswith("Unmuted web; the alert held meanwhile is "
                                                   "sent now (web#1).")
    assert again[0] == 1 and "the hub refused the unmute (HTTP 409): web is not muted" in again[2]
    store = IncidentStore(tmp_path / "state" / "outbox.sqlite")
    try:
        assert [n.incident for n in store.held()][:1] == ["web#1"]
    finally:
        store.close()


@pytest.mark.parametrize("args", [["silences"], ["mute", "web", "2h"]])
def test_the_cli_says_clearly_when_no_hub_answers(args, tmp_path, capsys):
    code = main([*args, "--url", "http://127.0.0.1:9"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.startswith(f"divoom-hub {args[0]}: cannot reach the hub at http://127.0.0.1:9: ")
