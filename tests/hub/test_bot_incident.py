"""An incident's alert message through the bot: replies, `Message.edit`, the critical ping.

The real discord.py client (`BotTransport`) with the real `Outbox` and `Delivery`, against
the local fake Discord (tests/fakes/discord_gateway.py), which records each edit (PATCH)
with its final embed. Tests wait for what the fake received; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from hub.notify.alerting import Alerting, Mention, Severity
from hub.notify.delivery import Delivery
from hub.notify.discord.transport import BotTransport
from hub.notify.outbox import Outbox
from machines import NoticeKind
from tests.fakes.discord_gateway import FakeDiscord, Reply
from tests.hub.bot_support import NOW, hub_status, settings_for, started
from tests.hub.test_incident_edits import T0, fields_of, notice

#: Far more steps than a scenario needs: a delivery that never settles fails the test.
MAX_STEPS = 50


class BotRig:
    """Outbox and delivery through a connected bot."""

    def __init__(self, bot: BotTransport, path: Path, alerting: Alerting | None) -> None:
        self.outbox = Outbox(path)
        self.delivery = Delivery(self.outbox, bot, "kitchen-pi", lambda: NOW,
                                 message_interval_seconds=0.0, alerting=alerting)

    async def deliver(self) -> None:
        for _ in range(MAX_STEPS):
            if await self.delivery.step() is None:
                return
        raise AssertionError("delivery still busy")


@asynccontextmanager
async def bot_rig(fake: FakeDiscord, path: Path,
                  alerting: Alerting | None = None) -> AsyncIterator[BotRig]:
    bot = BotTransport(settings_for(fake), status=hub_status, clock=lambda: NOW,
                       guild_ready_timeout=0.01)
    async with started(bot, fake):
        rig = BotRig(bot, path, alerting)
        try:
            yield rig
        finally:
            rig.outbox.close()


def ids(values: list[Any]) -> list[str]:
    return [str(v) for v in values]


def test_the_alert_message_is_edited_as_the_incident_moves_and_the_rest_reply_to_it(
        tmp_path):
    async def scenario() -> FakeDiscord:
        async with FakeDiscord() as fake, bot_rig(fake, tmp_path / "outbox.sqlite") as rig:
            rig.outbox.put([notice(NoticeKind.ALERT)])
            await rig.deliver()
            rig.outbox.put([notice(NoticeKind.REMINDER, at=T0 + 3600, reminder=1)])
            await rig.deliver()
            assert rig.outbox.put_ack("bus#1", "kari", "on it")
            await rig.deliver()
            rig.outbox.put([notice(NoticeKind.RECOVERY, at=T0 + 5400, acked_by="kari",
                                   ack_reason="on it")])
            await rig.deliver()
            return fake

    fake = asyncio.run(scenario())
    channel = fake.monitor_channel_id
    alert, reminder, recovery = fake.message_posts(channel)
    alert_id = fake.bot_message_ids(channel)[0]
    assert "message_reference" not in alert.body
    for reply in (reminder, recovery):  # replies to the alert, pinging nobody
        assert reply.body["message_reference"]["message_id"] in (alert_id, int(alert_id))
        assert reply.body["allowed_mentions"]["replied_user"] is False
    edits = fake.edits_in(channel)
    assert [e.status for e in edits] == [200, 200, 200]
    assert {e.path for e in edits} == {f"/api/v10/channels/{channel}/messages/{alert_id}"}
    reminded, acked, recovered = (e.body["embeds"][0] for e in edits)
    assert reminded["title"] == "🔴 bus is failing"
    assert reminded["description"] == "Failing for 1 h 1 min; 1 reminder sent."
    assert fields_of(acked)["Acked by"] == "kari: on it"
    assert recovered["title"] == "🟢 bus recovered"
    assert recovered["color"] == 0x00FF00
    assert fields_of(recovered)["Acked by"] == "kari: on it"
    assert fields_of(recovered)["Downtime"] == "1 h 31 min"
    # The message as Discord now shows it is the final state.
    assert fake.message(alert_id)["embeds"][0]["title"] == "🟢 bus recovered"
    for edit in edits:
        assert edit.body["allowed_mentions"]["parse"] == []


def test_an_edit_of_a_message_deleted_in_discord_is_dropped_once(tmp_path, caplog):
    async def scenario() -> FakeDiscord:
        async with FakeDiscord() as fake, bot_rig(fake, tmp_path / "outbox.sqlite") as rig:
            rig.outbox.put([notice(NoticeKind.ALERT)])
            await rig.deliver()
            [alert_id] = fake.bot_message_ids(fake.monitor_channel_id)
            fake.delete_message(alert_id)
            rig.outbox.put([notice(NoticeKind.REMINDER, at=T0 + 3600, reminder=1)])
            await rig.deliver()
            assert rig.outbox.put_ack("bus#1", "kari") is False  # forgotten with its message
            assert rig.delivery.status.state == "idle"
            return fake

    with caplog.at_level(logging.WARNING):
        fake = asyncio.run(scenario())
    assert [e.status for e in fake.edits_in(fake.monitor_channel_id)] == [404]
    assert "dropping the edit of bus#1's alert message: the alert message was deleted" \
        in caplog.text


def test_a_critical_alert_pings_the_configured_role_with_allowed_mentions_naming_it_only(
        tmp_path):
    async def scenario() -> FakeDiscord:
        async with FakeDiscord() as fake:
            alerting = Alerting({"router": Severity.CRITICAL},
                                mention_critical=Mention("role", fake.family_role_id))
            async with bot_rig(fake, tmp_path / "outbox.sqlite", alerting) as rig:
                for item in (notice(NoticeKind.ALERT, "router"),
                             notice(NoticeKind.REMINDER, "router", at=T0 + 3600),
                             notice(NoticeKind.ALERT, "bus")):
                    rig.outbox.put([item])
                    await rig.deliver()
            return fake

    fake = asyncio.run(scenario())
    critical, reminder, warning = (r.body for r in fake.message_posts(fake.monitor_channel_id))
    assert critical["content"] == f"<@&{fake.family_role_id}>"
    mentions = critical["allowed_mentions"]
    assert ids(mentions["roles"]) == [fake.family_role_id]
    assert mentions["parse"] == [] and not mentions.get("users")
    for body in (reminder, warning):
        assert not body.get("content")
        assert body["allowed_mentions"]["parse"] == []
        assert not body["allowed_mentions"].get("roles")
        assert not body["allowed_mentions"].get("users")


def test_without_read_message_history_the_reminder_is_posted_without_the_reply(
        tmp_path, caplog):
    caplog.set_level(logging.INFO)

    async def scenario() -> FakeDiscord:
        async with FakeDiscord() as fake, bot_rig(fake, tmp_path / "outbox.sqlite") as rig:
            rig.outbox.put([notice(NoticeKind.ALERT)])
            await rig.deliver()
            # Discord refuses a reply where the bot may not read the channel's history.
            fake.message_replies.append(Reply(403, {"message": "Missing Permissions",
                                                    "code": 50013}))
            rig.outbox.put([notice(NoticeKind.REMINDER, at=T0 + 3600, reminder=1)])
            await rig.deliver()
            assert rig.delivery.status.state == "idle"  # not stopped for good
            return fake

    fake = asyncio.run(scenario())
    posts = fake.requests_to("POST", f"/channels/{fake.monitor_channel_id}/messages")
    assert [r.status for r in posts] == [200, 403, 200]
    assert posts[1].body["message_reference"] and "message_reference" not in posts[2].body
    assert [e.status for e in fake.edits_in(fake.monitor_channel_id)] == [200]
    assert "give the bot Read Message History in the monitoring channel" in caplog.text
