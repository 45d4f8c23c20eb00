"""The bot transport end to end: the real discord.py client against a local fake Discord.

The fake (tests/fakes/discord_gateway.py) speaks Discord's REST API and gateway protocol
on 127.0.0.1. Tests wait for what the fake received, with timeouts; nothing sleeps to
let time pass. The daemon tests run the real `run_daemon` with a local HTTP target.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from hub.app import StartupError, choose_transport, run_daemon
from hub.check.report import Finding, run_checks
from hub.config import load_config
from hub.notify.commands import RateLimiter, StatusCommands, Verdict
from hub.notify.discord.settings import BotSettings
from hub.notify.discord.transport import BotTransport
from hub.notify.embeds import embed_for, message_payload
from hub.notify.outbox import Outbox
from hub.notify.transport import (
    PayloadRejected,
    PermanentError,
    RateLimited,
    RetryableError,
    TransportError,
)
from hub.secrets import Secrets
from hub.status.history import ComponentHistory
from hub.status.model import HubStatus
from hub.status.timeline import BAND_COLOURS, ROW_HEIGHT, layout
from machines import HealthState, Notice, NoticeKind, Outcome
from tests.fakes.discord_gateway import INTENT_MESSAGE_CONTENT, FakeDiscord, Reply
from tests.fakes.target import Target
from tests.hub.bot_support import (
    NOW,
    bot_config,
    hub_status,
    secrets_for,
    settings_for,
    started,
    vars_of,
)


class Recorder:
    """Outcomes the bot reports for the `discord` component."""

    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []
        self.reported = asyncio.Event()

    def __call__(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        self.reported.set()

    async def wait_until(self, predicate: Callable[[list[Outcome]], bool]) -> None:
        async with asyncio.timeout(10):
            while not predicate(self.outcomes):
                self.reported.clear()
                await self.reported.wait()


@asynccontextmanager
async def connected_bot(fake: FakeDiscord, *, status: Callable[[], HubStatus | None] = hub_status,
                        commands: StatusCommands | None = None,
                        report: Callable[[Outcome], None] | None = None,
                        token: str | None = None, wait_connected: bool = True,
                        ) -> AsyncIterator[BotTransport]:
    bot = BotTransport(settings_for(fake, token), status=status, clock=lambda: NOW,
                       report=report, commands=commands, guild_ready_timeout=0.01)
    async with started(bot, fake, wait_connected=wait_connected):
        yield bot


def one_line(notice_kind: NoticeKind, component: str = "weather") -> Notice:
    return Notice(kind=notice_kind, component=component, at=NOW, failures=3,
                  failing_for_seconds=120.0, error_type="timeout",
                  error_detail="no answer in 5 s @everyone", last_success_at=NOW - 130)


# --- sending ----------------------------------------------------------------------------


def test_notices_reach_the_monitoring_channel_as_embeds_that_ping_nobody():
    async def scenario() -> None:
        async with FakeDiscord() as fake, connected_bot(fake) as bot:
            notice = one_line(NoticeKind.ALERT)
            payload = message_payload([embed_for(notice, "kitchen-pi")])
            await bot.send(payload, [notice])
            [body] = fake.posts_to(fake.monitor_channel_id)
            [sent] = body["embeds"]
            expected = payload["embeds"][0]
            for key in ("title", "description", "color", "footer", "fields"):
                assert sent[key] == expected[key], key
            assert sent["timestamp"].startswith(expected["timestamp"][:19])
            assert body["allowed_mentions"]["parse"] == []
            assert not body["allowed_mentions"].get("users")
            assert not body["allowed_mentions"].get("roles")

    asyncio.run(scenario())


@pytest.mark.parametrize(("reply", "error", "error_type"), [
    (Reply(403, {"message": "Missing Permissions", "code": 50013}), PermanentError, "http_403"),
    (Reply(404, {"message": "Unknown Channel", "code": 10003}), PermanentError, "http_404"),
    (Reply(400, {"message": "Invalid Form Body", "code": 50035}), PayloadRejected, "http_400"),
    (Reply(503, {"message": "upstream connect error", "code": 0}), RetryableError, "http_503"),
    (Reply.rate_limited(120.0), RateLimited, "http_429"),
    (Reply(429, {"message": "banned"}, {"Retry-After": "90"}, via=False), RateLimited,
     "http_429"),
    (Reply.connection_reset(), RetryableError, "connect"),
])
def test_send_failures_map_onto_the_transport_error_tree(reply, error, error_type, caplog):
    caplog.set_level(logging.DEBUG)

    async def scenario() -> TransportError:
        async with FakeDiscord() as fake, connected_bot(fake) as bot:
            fake.message_replies.append(reply)
            notice = one_line(NoticeKind.ALERT)
            with pytest.raises(TransportError) as raised:
                await bot.send(message_payload([embed_for(notice, "hub")]), [notice])
            # One request for one send: discord.py does not retry any of these by itself.
            posts = fake.requests_to("POST", f"/channels/{fake.monitor_channel_id}/messages")
            assert len(posts) == 1
            text = str(raised.value)
            assert fake.token not in text and fake.monitor_channel_id not in text
            return raised.value

    err = asyncio.run(scenario())
    assert type(err) is error
    assert err.error_type == error_type
    if isinstance(err, RateLimited):
        assert err.retry_after == (120.0 if reply.via else 90.0)


def test_a_rejected_token_stops_the_bot_for_good_loudly_and_without_the_token(caplog):
    caplog.set_level(logging.DEBUG)
    recorder = Recorder()

    async def scenario() -> None:
        async with FakeDiscord() as fake:
            async with connected_bot(fake, token="not.the.token", report=recorder,
                                     wait_connected=False) as bot:
                notice = one_line(NoticeKind.ALERT)
                with pytest.raises(PermanentError):
                    await bot.send(message_payload([embed_for(notice, "hub")]), [notice])
            # It tried once and then stopped: no hammering with a bad token.
            assert len(fake.requests_to("GET", "/users/@me")) == 1
            assert not fake.identifies

    asyncio.run(scenario())
    assert "rejected the bot token" in caplog.text
    assert "not.the.token" not in caplog.text
    assert [(o.ok, o.error_type) for o in recorder.outcomes] == [(False, "auth")]


# --- the status command -------------------------------------------------------------------


def test_status_message_in_the_monitoring_channel_shows_every_machine():
    async def scenario() -> dict[str, Any]:
        async with FakeDiscord() as fake, connected_bot(fake):
            await fake.user_message(fake.monitor_channel_id, "  Status ")
            await fake.wait_until(lambda: bool(fake.posts_to(fake.monitor_channel_id)))
            [body] = fake.posts_to(fake.monitor_channel_id)
            assert body["allowed_mentions"]["parse"] == []
            [embed] = body["embeds"]
            return embed

    embed = asyncio.run(scenario())
    assert embed["title"] == "📋 kitchen-pi: 1 of 2 components failing"
    assert [f["name"] for f in embed["fields"]] == ["weather", "bus"]
    weather = embed["fields"][0]["value"]
    assert "alerting for 10 min" in weather and "4 failures" in weather
    assert f"last success <t:{int(NOW - 720)}:f>" in weather
    assert "http_503: 503 from the weather API" in weather
    assert f"next reminder <t:{int(NOW + 300)}:f>" in weather
    assert "healthy" in embed["fields"][1]["value"]
    assert "up 2 h" in embed["description"]
    assert "outbox 2 queued" in embed["description"]
    assert "Discord latency" in embed["description"]


def test_slash_status_is_registered_at_start_up_and_answers_in_the_channel():
    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        async with FakeDiscord() as fake, connected_bot(fake):
            await fake.slash_command("status", fake.monitor_channel_id)
            await fake.wait_until(lambda: bool(fake.interaction_callbacks()))
            assert len(fake.requests_to(
                "PUT", f"/applications/{fake.application_id}/commands")) == 1
            return fake.commands, fake.interaction_callbacks()[0]

    commands, callback = asyncio.run(scenario())
    assert [c["name"] for c in commands] == ["status"]
    assert callback["type"] == 4  # CHANNEL_MESSAGE_WITH_SOURCE
    data = callback["data"]
    assert not int(data.get("flags", 0)) & 64  # visible to the channel, not ephemeral
    assert data["allowed_mentions"]["parse"] == []
    assert data["embeds"][0]["title"] == "📋 kitchen-pi: 1 of 2 components failing"


def test_commands_outside_the_monitoring_channel_are_not_answered_there():
    async def scenario() -> tuple[list[Any], list[Any], list[dict[str, Any]]]:
        async with FakeDiscord() as fake, connected_bot(fake):
            await fake.user_message(fake.other_channel_id, "status")
            await fake.slash_command("status", fake.other_channel_id)
            await fake.wait_until(lambda: bool(fake.interaction_callbacks()))
            # A later command in the right channel is answered, so the first was seen.
            await fake.user_message(fake.monitor_channel_id, "status")
            await fake.wait_until(lambda: bool(fake.posts_to(fake.monitor_channel_id)))
            return (fake.posts_to(fake.other_channel_id), fake.posts_to(fake.monitor_channel_id),
                    fake.interaction_callbacks())

    elsewhere, here, [callback] = asyncio.run(scenario())
    assert elsewhere == []
    assert len(here) == 1
    assert int(callback["data"]["flags"]) & 64  # a private pointer, not a channel message
    assert "only in this hub's monitoring channel" in callback["data"]["content"]
    assert "embeds" not in callback["data"] or not callback["data"]["embeds"]


def test_messages_that_are_not_the_command_or_come_from_bots_are_ignored():
    async def scenario() -> list[dict[str, Any]]:
        async with FakeDiscord() as fake, connected_bot(fake):
            await fake.user_message(fake.monitor_channel_id, "what is the status?")
            await fake.user_message(fake.monitor_channel_id, "status", user_id="77", bot=True)
            await fake.user_message(fake.monitor_channel_id, "!status")
            await fake.wait_until(lambda: bool(fake.posts_to(fake.monitor_channel_id)))
            return fake.posts_to(fake.monitor_channel_id)

    assert len(asyncio.run(scenario())) == 1


def test_each_person_is_rate_limited_and_over_the_limit_gets_a_quiet_refusal():
    async def scenario() -> tuple[int, list[dict[str, Any]]]:
        async with FakeDiscord() as fake:
            limited = StatusCommands(int(fake.monitor_channel_id),
                                     RateLimiter(burst=3, refill_seconds=20.0))
            async with connected_bot(fake, commands=limited):
                for _ in range(4):
                    await fake.user_message(fake.monitor_channel_id, "status", user_id="1")
                await fake.slash_command("status", fake.monitor_channel_id, user_id="1")
                await fake.wait_until(lambda: bool(fake.interaction_callbacks()))
                await fake.user_message(fake.monitor_channel_id, "status", user_id="2")
                await fake.wait_until(lambda: len(fake.posts_to(fake.monitor_channel_id)) >= 4)
                return len(fake.posts_to(fake.monitor_channel_id)), fake.interaction_callbacks()

    posts, [refusal] = asyncio.run(scenario())
    assert posts == 4  # three for person 1, none for the fourth, one for person 2
    assert int(refusal["data"]["flags"]) & 64
    assert refusal["data"]["content"].startswith("Slow down: try `/status` again in")


def test_without_the_message_content_intent_the_log_says_so_and_slash_status_works(caplog):
    caplog.set_level(logging.INFO)

    async def scenario() -> tuple[FakeDiscord, list[dict[str, Any]]]:
        async with FakeDiscord(message_content_granted=False) as fake, connected_bot(fake) as bot:
            assert not bot.message_content_enabled
            await fake.user_message(fake.monitor_channel_id, "status")
            await fake.slash_command("status", fake.monitor_channel_id)
            await fake.wait_until(lambda: bool(fake.interaction_callbacks()))
            return fake, fake.posts_to(fake.monitor_channel_id)

    fake, posts = asyncio.run(scenario())
    assert "lacks the privileged Message Content intent" in caplog.text
    assert "/status works" in caplog.text
    assert all(not int(i["intents"]) & INTENT_MESSAGE_CONTENT for i in fake.identifies)
    # The message arrived with empty content, so it could not be read as a command.
    assert posts == []
    [callback] = fake.interaction_callbacks()
    assert callback["data"]["embeds"][0]["title"].startswith("📋 kitchen-pi")


def test_a_session_refused_for_the_intent_reconnects_without_it(caplog):
    caplog.set_level(logging.INFO)

    async def scenario() -> FakeDiscord:
        # The application claims the intent, the gateway still refuses it (close 4014).
        async with FakeDiscord(message_content_granted=False,
                               advertise_message_content=True) as fake, connected_bot(fake):
            await fake.slash_command("status", fake.monitor_channel_id)  # once connected
            await fake.wait_until(lambda: bool(fake.interaction_callbacks()))
            return fake

    fake = asyncio.run(scenario())
    assert [bool(int(i["intents"]) & INTENT_MESSAGE_CONTENT) for i in fake.identifies] \
        == [True, False]
    assert "lacks the privileged Message Content intent" in caplog.text


def test_before_the_first_published_status_the_reply_says_the_hub_is_starting():
    async def scenario() -> list[dict[str, Any]]:
        async with FakeDiscord() as fake, connected_bot(fake, status=lambda: None):
            await fake.slash_command("status", fake.monitor_channel_id)
            await fake.wait_until(lambda: bool(fake.interaction_callbacks()))
            return fake.interaction_callbacks()

    [callback] = asyncio.run(scenario())
    assert callback["data"]["content"] == "The hub is still starting."


# --- the connection --------------------------------------------------------------------------


def test_a_dropped_gateway_is_resumed_and_reported_as_discord_outcomes(caplog):
    caplog.set_level(logging.INFO)
    recorder = Recorder()

    async def scenario() -> FakeDiscord:
        async with FakeDiscord() as fake, connected_bot(fake, report=recorder):
            await recorder.wait_until(lambda outcomes: any(o.ok for o in outcomes))
            await fake.drop_connection(resumable=True)
            await fake.wait_until(lambda: len(fake.resumes) == 1)
            await recorder.wait_until(lambda outcomes: sum(o.ok for o in outcomes) == 2)
            # Still answering after the resume.
            await fake.user_message(fake.monitor_channel_id, "status")
            await fake.wait_until(lambda: bool(fake.posts_to(fake.monitor_channel_id)))
            return fake

    fake = asyncio.run(scenario())
    assert len(fake.identifies) == 1
    assert [(o.component, o.ok, o.error_type) for o in recorder.outcomes] == [
        ("discord", True, ""), ("discord", False, "gateway"), ("discord", True, "")]
    assert "lost the Discord gateway connection" in caplog.text
    assert "Discord gateway connection resumed" in caplog.text


def test_a_session_that_cannot_be_resumed_identifies_again():
    async def scenario() -> FakeDiscord:
        async with FakeDiscord() as fake, connected_bot(fake):
            await fake.drop_connection(resumable=False)
            await fake.wait_until(lambda: len(fake.identifies) == 2 and fake.heartbeats >= 2)
            await fake.slash_command("status", fake.monitor_channel_id)
            await fake.wait_until(lambda: bool(fake.interaction_callbacks()))
            return fake

    fake = asyncio.run(scenario())
    assert len(fake.resumes) == 1
    # /status was registered once per process, not once per session.
    assert len(fake.requests_to("PUT", f"/applications/{fake.application_id}/commands")) == 1


def test_an_unreachable_discord_is_retried_with_backoff_and_reported(caplog):
    caplog.set_level(logging.INFO)

    async def scenario() -> Recorder:
        recorder = Recorder()
        async with FakeDiscord() as fake:
            dead_port = fake.port
        # Nothing listens there any more: the login fails with a connection error.
        bot = BotTransport(BotSettings(token="t", monitor_channel_id=1,
                                       api_base=f"http://127.0.0.1:{dead_port}/api/v10",
                                       gateway_url=f"ws://127.0.0.1:{dead_port}/gateway"),
                           status=lambda: None, clock=lambda: NOW, report=recorder)
        bot.start()
        try:
            await recorder.wait_until(bool)
            # While it waits to try again, a send fails at once instead of hanging.
            with pytest.raises(RetryableError):
                await bot.send(message_payload([]), [])
        finally:
            await bot.close()
        return recorder

    recorder = asyncio.run(scenario())
    [outcome] = recorder.outcomes
    assert not outcome.ok and outcome.error_type == "session"
    assert "starting a new one in" in caplog.text


# --- the daemon, end to end ------------------------------------------------------------------


def titles_in(fake: FakeDiscord) -> list[str]:
    return [e["title"] for e in fake.embeds_in(fake.monitor_channel_id)]


def test_alert_reminder_recovery_and_status_through_the_bot_end_to_end(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)

    async def scenario(target: Target) -> tuple[int, FakeDiscord]:
        async with FakeDiscord() as fake:
            config = load_config(bot_config(tmp_path, target.url))
            stop, lines = asyncio.Event(), []
            daemon = asyncio.create_task(
                run_daemon(config, secrets_for(fake), lines.append, stop))
            await fake.wait_until(lambda: any("test-hub started" in t for t in titles_in(fake)))
            target.status = 503
            await fake.wait_until(lambda: any("web is still failing" in t
                                              for t in titles_in(fake)))
            await fake.slash_command("status", fake.monitor_channel_id)
            await fake.wait_until(lambda: bool(fake.interaction_callbacks()))
            target.status = 200
            await fake.wait_until(lambda: any("web recovered" in t for t in titles_in(fake)))
            stop.set()
            code = await asyncio.wait_for(daemon, 20)
            assert lines == []  # nothing went to the console: the bot carried it all
            return code, fake

    with Target().running() as target:
        code, fake = asyncio.run(scenario(target))
    assert code == 0
    titles = titles_in(fake)
    web = [t for t in titles if " web " in f" {t} "]
    assert web[0] == "🔴 web is failing"
    assert web[-1] == "🟢 web recovered"
    assert set(web[1:-1]) == {"🟠 web is still failing"}
    assert titles[0] == "🔵 test-hub started" and titles[-1] == "⚪ test-hub stopped"
    assert titles.count("🔵 test-hub started") == 1
    started_embed = json.dumps(fake.embeds_in(fake.monitor_channel_id)[0])
    assert "components" in started_embed
    assert "127.0.0.1" not in started_embed and "status page" not in started_embed
    for body in fake.posts_to(fake.monitor_channel_id):
        assert body["allowed_mentions"]["parse"] == []
    # The status reply was built from the daemon's published picture, mid-incident.
    [callback] = fake.interaction_callbacks()
    status = callback["data"]["embeds"][0]
    assert status["title"] == "📋 test-hub: 1 of 3 components failing"
    assert [f["name"] for f in status["fields"]] == ["web", "discord", "hub"]
    assert "http_503" in status["fields"][0]["value"]
    assert "next reminder" in status["fields"][0]["value"]
    # With the picture of the day: rows `discord`, `hub` and `web` (by name), the web
    # incident open at the right edge (seconds old, so drawn as the one-pixel incident mark).
    assert status["image"] == {"url": "attachment://timeline.png"}
    [answer] = fake.interaction_requests()
    with Image.open(io.BytesIO(answer.file("timeline.png"))) as picture:
        place = layout([ComponentHistory(name, ()) for name in ("discord", "hub", "web")],
                       0.0)
        assert picture.size == (place.width, place.height)
        edge = picture.convert("RGB").getpixel((place.right - 1,
                                                place.row_top(2) + ROW_HEIGHT // 2))
    assert edge in {BAND_COLOURS[s] for s in HealthState if s.is_incident_open}
    # The token is in no log line and no message; our own logs hold no channel id either.
    assert fake.token not in caplog.text
    assert all(fake.token not in json.dumps(body)
               for body in fake.posts_to(fake.monitor_channel_id))
    assert not [r for r in caplog.records if r.name.startswith("hub")
                and fake.monitor_channel_id in r.getMessage()]
    with Outbox(tmp_path / "state" / "outbox.sqlite") as outbox:
        assert outbox.depth() == 0


def test_a_reconnect_does_not_send_a_second_started_message(tmp_path):
    async def scenario() -> FakeDiscord:
        async with FakeDiscord() as fake:
            config = load_config(bot_config(tmp_path, None))
            stop = asyncio.Event()
            daemon = asyncio.create_task(run_daemon(config, secrets_for(fake), [].append, stop))
            await fake.wait_until(lambda: bool(titles_in(fake)))
            # A session Discord will not resume: the client identifies again, gets a new
            # READY, and discord.py fires its ready events a second time.
            await fake.drop_connection(resumable=False)
            await fake.wait_until(lambda: len(fake.identifies) == 2)
            await fake.drop_connection(resumable=True)
            await fake.wait_until(lambda: len(fake.resumes) == 2)
            await fake.slash_command("status", fake.monitor_channel_id)  # it is back
            await fake.wait_until(lambda: bool(fake.interaction_callbacks()))
            stop.set()
            assert await asyncio.wait_for(daemon, 20) == 0
            return fake

    fake = asyncio.run(scenario())
    assert titles_in(fake) == ["🔵 test-hub started", "⚪ test-hub stopped"]


def test_a_gateway_outage_is_an_incident_of_the_discord_component(tmp_path, caplog):
    caplog.set_level(logging.INFO)

    async def scenario() -> FakeDiscord:
        async with FakeDiscord() as fake:
            config = load_config(bot_config(
                tmp_path, None, extra="\n[policy.discord]\nfailures_before_alert = 1\n"))
            stop = asyncio.Event()
            daemon = asyncio.create_task(run_daemon(config, secrets_for(fake), [].append, stop))
            await fake.wait_until(lambda: bool(titles_in(fake)) and fake.heartbeats > 0)
            await fake.drop_connection(resumable=True)
            await fake.wait_until(lambda: "🟢 discord recovered" in titles_in(fake))
            stop.set()
            assert await asyncio.wait_for(daemon, 20) == 0
            return fake

    fake = asyncio.run(scenario())
    titles = titles_in(fake)
    assert titles.index("🔴 discord is failing") < titles.index("🟢 discord recovered")
    assert titles.count("🔵 test-hub started") == 1
    alert = next(e for e in fake.embeds_in(fake.monitor_channel_id)
                 if e["title"] == "🔴 discord is failing")
    assert {"name": "Error type", "value": "gateway", "inline": True} in alert["fields"]
    assert "lost the Discord gateway connection" in caplog.text


def test_choose_transport_prefers_the_bot_and_needs_its_token():
    bot = choose_transport(Secrets(discord_bot_token="t", discord_monitor_channel_id="1",
                                   discord_webhook_url="https://discord.com/api/webhooks/1/x"),
                           [].append)
    assert bot.name == "bot" and isinstance(bot, BotTransport)
    assert "t" not in repr(bot).replace("BotTransport", "")
    with pytest.raises(StartupError, match="DISCORD_BOT_TOKEN is not"):
        choose_transport(Secrets(discord_monitor_channel_id="1"), [].append)
    assert choose_transport(Secrets(discord_bot_token="t"), [].append).name == "console"


# --- divoom-hub check ---------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "expected"), [
    ({}, [("bot", True), ("intents", True), ("channel", True)]),
    ({"discord_bot_token": "wrong.token"}, [("bot", False)]),
    ({"discord_monitor_channel_id": "999"}, [("bot", True), ("intents", True),
                                              ("channel", False)]),
    ({"discord_monitor_channel_id": "hidden"}, [("bot", True), ("intents", True),
                                                 ("channel", False)]),
])
def test_check_reports_whether_the_token_works_and_the_channel_is_reachable(
        tmp_path, change, expected):
    config = load_config(bot_config(tmp_path, None))

    async def scenario() -> tuple[FakeDiscord, list[Finding]]:
        async with FakeDiscord() as fake:
            values = {**vars_of(secrets_for(fake)), **change}
            if values["discord_monitor_channel_id"] == "hidden":
                values["discord_monitor_channel_id"] = fake.hidden_channel_id
            # `check` runs its own event loop, so it runs on a thread beside the fake's.
            findings = await asyncio.to_thread(run_checks, config, Secrets(**values))
            return fake, findings

    fake, findings = asyncio.run(scenario())
    discord_findings = [(f.subject, f.ok) for f in findings
                        if f.subject in ("bot", "intents", "channel")]
    assert discord_findings == expected
    report = "\n".join(f.line() for f in findings)
    assert fake.token not in report and fake.monitor_channel_id not in report
    assert not fake.identifies  # check opens no gateway session and posts nothing
    assert not [r for r in fake.requests if r.method == "POST"]
    if expected == [("bot", True), ("intents", True), ("channel", True)]:
        assert "#hub-monitoring reachable" in report


# --- the command rules (pure) ------------------------------------------------------------------


def test_a_person_gets_a_burst_then_one_command_per_refill_period():
    limiter = RateLimiter(burst=3, refill_seconds=20.0)
    assert [limiter.acquire(1, 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire(1, 100.0) == pytest.approx(20.0)
    assert limiter.acquire(2, 100.0) == 0.0  # somebody else is not affected
    assert limiter.acquire(1, 110.0) == pytest.approx(10.0)
    assert limiter.acquire(1, 120.0) == 0.0
    assert limiter.acquire(1, 120.0) == pytest.approx(20.0)


@given(st.lists(st.floats(min_value=0.0, max_value=50.0), max_size=40))
def test_no_window_grants_more_than_the_burst_plus_the_refills(gaps):
    limiter = RateLimiter(burst=3, refill_seconds=20.0)
    granted: list[float] = []
    now = 0.0
    for gap in gaps:
        now += gap
        if limiter.acquire(7, now) == 0.0:
            granted.append(now)
    for i, start in enumerate(granted):
        for end in granted[i:]:
            in_window = sum(1 for t in granted if start <= t <= end)
            assert in_window <= 3 + (end - start) / 20.0 + 1e-9


def test_the_command_is_the_whole_message_and_only_counts_in_the_monitoring_channel():
    commands = StatusCommands(10, RateLimiter(burst=100, refill_seconds=1.0))
    reply = commands.on_message(10, 1, " STATUS\n", False, 0.0)
    assert reply.verdict is Verdict.REPLY
    assert commands.on_message(10, 1, "!status", False, 0.0).verdict is Verdict.REPLY
    for content in ("status?", "the status", "", "statuses"):
        assert commands.on_message(10, 1, content, False, 0.0).verdict is Verdict.IGNORE
    assert commands.on_message(11, 1, "status", False, 0.0).verdict is Verdict.IGNORE
    assert commands.on_message(10, 1, "status", True, 0.0).verdict is Verdict.IGNORE
    assert commands.on_slash(11, 1, 0.0).verdict is Verdict.WRONG_CHANNEL
    assert commands.on_slash(None, 1, 0.0).verdict is Verdict.WRONG_CHANNEL
    assert commands.on_slash(10, 1, 0.0).verdict is Verdict.REPLY
