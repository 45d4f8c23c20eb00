"""Display messages through the bot, end to end: the real discord.py client against the
local fake Discord, the real `DisplayChannel` and `MessageBoard`, and the real renderer.

A person posts in the display channel (`DISCORD_CHANNEL_ID`); the post lands on the
`MessageBoard` (kept under the state dir), the frame shows it, and the poster gets a
reply that pings nobody. Tests wait for what the fake received; where they check that
something did *not* happen, they first wait for a later event on the same gateway
connection (discord.py handles events in order), never for time to pass.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from PIL import Image

from hub.app import StartupError, choose_transport, run_daemon
from hub.config import load_config
from hub.display.messages import DisplayChannel, MessageBoard, MessageSettings
from hub.display.render import SIZE, WEATHER_TOP, WHITE, render
from hub.display.text import load_fonts
from hub.display.view import DashboardView, DisplayMessage
from hub.notify.commands import RateLimiter
from hub.notify.discord.transport import BotTransport
from hub.secrets import Secrets
from hub.status.model import HubStatus
from tests.display.test_render import ink, text_ink
from tests.fakes.discord_gateway import FakeDiscord, Reply
from tests.hub.bot_support import (
    NOW,
    bot_config,
    hub_status,
    secrets_for,
    settings_for,
    started,
    vars_of,
)

OWNER = "4242"  # the fake's default poster, allowed by id below
STRANGER = "9999"
MAMMA = "7777"  # allowed through the family role only


def allow_owner_and_family(fake: FakeDiscord, **settings: Any) -> MessageSettings:
    return MessageSettings(allowed_users=frozenset({int(OWNER)}),
                           allowed_roles=frozenset({int(fake.family_role_id)}), **settings)


@asynccontextmanager
async def display_bot(fake: FakeDiscord, board: MessageBoard,
                      settings: MessageSettings | None = None, *,
                      status: Callable[[], HubStatus | None] = hub_status,
                      replies: RateLimiter | None = None) -> AsyncIterator[BotTransport]:
    display = DisplayChannel(int(fake.display_channel_id), board,
                             settings or allow_owner_and_family(fake))
    bot = BotTransport(settings_for(fake), status=status, clock=lambda: NOW,
                       guild_ready_timeout=0.01, display=display,
                       display_replies=replies or RateLimiter(burst=100, refill_seconds=1.0))
    async with started(bot, fake):
        yield bot


def frame(board: MessageBoard, now: float = NOW) -> Image.Image:
    """The dashboard at `now` with whatever the board shows then."""
    return render(DashboardView(now=now, message=board.current(now)))


def message_ink(image: Image.Image) -> bytes:
    """The message text drawn in the overlay (white below the clock; the frame and the
    author line have colours of their own)."""
    return ink(image, (0, WEATHER_TOP, SIZE, SIZE), (WHITE,))


async def reply_to(fake: FakeDiscord, message_id: str) -> dict[str, Any]:
    """The bot's reply to `message_id` in the display channel, once it arrives."""

    def replies() -> list[dict[str, Any]]:
        return [b for b in fake.posts_to(fake.display_channel_id)
                if str((b.get("message_reference") or {}).get("message_id")) == message_id]

    await fake.wait_until(lambda: bool(replies()))
    [body] = replies()
    return body


def assert_pings_nobody(body: dict[str, Any]) -> None:
    mentions = body["allowed_mentions"]
    assert mentions["parse"] == []
    assert not mentions.get("users") and not mentions.get("roles")
    assert mentions.get("replied_user") is False  # a reply, but no ping for its author


# --- posting, clearing, restarting ---------------------------------------------------------


def test_an_allowed_post_is_shown_answered_cleared_and_survives_a_restart(tmp_path):
    plain = frame(MessageBoard(tmp_path / "empty"))

    async def scenario() -> None:
        board = MessageBoard(tmp_path)
        async with FakeDiscord() as fake, display_bot(fake, board):
            posted = await fake.user_message(fake.display_channel_id, "[30m]  Pizza!")
            answer = await reply_to(fake, posted)
            assert answer["content"] == "✅ On the display for 30 min."
            assert answer["message_reference"]["fail_if_not_exists"] is False
            assert_pings_nobody(answer)
            shown = DisplayMessage("Pizza!", "owner", posted_at=NOW, expires_at=NOW + 1800)
            assert board.current(NOW) == shown
            assert message_ink(frame(board)) == text_ink("Pizza!", load_fonts().small)
            # A restart reads the same message back from the state dir.
            assert MessageBoard(tmp_path).current(NOW) == shown
            assert message_ink(frame(MessageBoard(tmp_path))) == message_ink(frame(board))

            cleared = await fake.user_message(fake.display_channel_id, "clear")
            assert (await reply_to(fake, cleared))["content"] == "🧹 Cleared from the display."
            assert board.current(NOW) is None
            assert frame(board).tobytes() == plain.tobytes()
            assert MessageBoard(tmp_path).current(NOW) is None
            # The bot saw its own two replies come back and answered neither.
            assert len(fake.posts_to(fake.display_channel_id)) == 2
            assert fake.posts_to(fake.monitor_channel_id) == []

    asyncio.run(scenario())


def test_a_post_expires_on_the_display_at_its_time(tmp_path):
    async def scenario() -> MessageBoard:
        board = MessageBoard(tmp_path)
        async with FakeDiscord() as fake, display_bot(fake, board):
            posted = await fake.user_message(fake.display_channel_id, "[10m] Back soon")
            await reply_to(fake, posted)
        return board

    board = asyncio.run(scenario())
    # Pages show for 5 s, then the dashboard for 5 s: a whole 10 s from posting is a
    # moment the message would be drawn, were it still there.
    assert message_ink(frame(board, NOW + 590)) == text_ink("Back soon", load_fonts().small)
    assert frame(board, NOW + 600).tobytes() == frame(MessageBoard(tmp_path / "none"),
                                                      NOW + 600).tobytes()


def test_a_stranger_is_refused_and_nothing_is_shown(tmp_path):
    plain = frame(MessageBoard(tmp_path / "empty"))

    async def scenario() -> None:
        board = MessageBoard(tmp_path)
        async with FakeDiscord() as fake, display_bot(fake, board):
            posted = await fake.user_message(fake.display_channel_id, "Free pizza, click here",
                                             user_id=STRANGER, username="spammer",
                                             role_ids=[fake.guest_role_id])
            answer = await reply_to(fake, posted)
            assert answer["content"].startswith("🚫 Only people listed")
            assert_pings_nobody(answer)
            assert board.current(NOW) is None
            assert frame(board).tobytes() == plain.tobytes()
            assert not (tmp_path / "display-message.json").exists()

    asyncio.run(scenario())


def test_a_member_holding_an_allowed_role_may_post_under_their_server_nickname(tmp_path):
    async def scenario() -> None:
        board = MessageBoard(tmp_path)
        async with FakeDiscord() as fake, display_bot(fake, board):
            posted = await fake.user_message(fake.display_channel_id, "Middag kl 18",
                                             user_id=MAMMA, username="kari.n",
                                             role_ids=[fake.guest_role_id,
                                                       fake.family_role_id],
                                             nick="Mamma")
            answer = await reply_to(fake, posted)
            assert answer["content"] == "✅ On the display until cleared."
            assert board.current(NOW) == DisplayMessage("Middag kl 18", "Mamma", NOW)

    asyncio.run(scenario())


def test_an_empty_allow_list_lets_nobody_post(tmp_path):
    async def scenario() -> None:
        board = MessageBoard(tmp_path)
        async with FakeDiscord() as fake, display_bot(fake, board, MessageSettings()):
            posted = await fake.user_message(fake.display_channel_id, "hello",
                                             role_ids=[fake.family_role_id])
            assert (await reply_to(fake, posted))["content"].startswith("🚫")
            assert board.current(NOW) is None

    asyncio.run(scenario())


# --- the two channels never mix -------------------------------------------------------------


def test_posts_in_the_monitoring_or_another_channel_never_reach_the_display(tmp_path):
    async def scenario() -> None:
        board = MessageBoard(tmp_path)
        async with FakeDiscord() as fake, display_bot(fake, board):
            await fake.user_message(fake.monitor_channel_id, "Pizza!")
            await fake.user_message(fake.monitor_channel_id, "[5m] clear")
            await fake.user_message(fake.other_channel_id, "Pizza!")
            # A later command in the monitoring channel is answered, so those were seen.
            await fake.user_message(fake.monitor_channel_id, "status")
            await fake.wait_until(lambda: bool(fake.posts_to(fake.monitor_channel_id)))
            assert board.current(NOW) is None
            assert not (tmp_path / "display-message.json").exists()
            assert fake.posts_to(fake.display_channel_id) == []
            assert fake.posts_to(fake.other_channel_id) == []
            [status] = fake.posts_to(fake.monitor_channel_id)
            assert status["embeds"][0]["title"].startswith("📋 kitchen-pi")

    asyncio.run(scenario())


def test_status_in_the_display_channel_is_never_read_as_the_command(tmp_path):
    asked: list[float] = []

    def status() -> HubStatus:
        asked.append(NOW)
        return hub_status()

    async def scenario() -> None:
        board = MessageBoard(tmp_path)
        async with FakeDiscord() as fake, display_bot(fake, board, status=status):
            refused = await fake.user_message(fake.display_channel_id, "!status",
                                              user_id=STRANGER)
            assert (await reply_to(fake, refused))["content"].startswith("🚫")
            shown = await fake.user_message(fake.display_channel_id, "status")
            assert (await reply_to(fake, shown))["content"] == \
                "✅ On the display until cleared."
            # For the display, "status" is just a word an allowed person wants shown.
            assert board.current(NOW) == DisplayMessage("status", "owner", NOW)
            assert asked == []
            assert fake.posts_to(fake.monitor_channel_id) == []
            assert not [b for b in fake.posts_to(fake.display_channel_id) if b.get("embeds")]

    asyncio.run(scenario())


# --- the edges ------------------------------------------------------------------------------


def test_without_message_content_display_posts_are_ignored_and_the_log_says_why(
        tmp_path, caplog):
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        board = MessageBoard(tmp_path)
        async with FakeDiscord(message_content_granted=False) as fake, \
                display_bot(fake, board) as bot:
            assert not bot.message_content_enabled
            await fake.user_message(fake.display_channel_id, "Pizza!")  # arrives empty
            await fake.user_message(fake.display_channel_id, "Hi", user_id=STRANGER)
            await fake.slash_command("status", fake.monitor_channel_id)  # a later event
            await fake.wait_until(lambda: bool(fake.interaction_callbacks()))
            assert board.current(NOW) is None
            assert fake.posts_to(fake.display_channel_id) == []  # not even a refusal

    asyncio.run(scenario())
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
                and "Message Content intent" in r.getMessage()]
    assert len(warnings) == 1
    assert "display messages posted in the display channel" in warnings[0]


def test_answers_in_the_display_channel_are_limited_per_person_but_posts_still_apply(
        tmp_path):
    async def scenario() -> None:
        board = MessageBoard(tmp_path)
        async with FakeDiscord() as fake, display_bot(
                fake, board, replies=RateLimiter(burst=1, refill_seconds=3600.0)):
            first = await fake.user_message(fake.display_channel_id, "one")
            await reply_to(fake, first)
            await fake.user_message(fake.display_channel_id, "two")
            await fake.user_message(fake.display_channel_id, "spam", user_id=STRANGER)
            await fake.user_message(fake.display_channel_id, "spam", user_id=STRANGER)
            await fake.slash_command("status", fake.monitor_channel_id)  # a later event
            await fake.wait_until(lambda: bool(fake.interaction_callbacks()))
            assert board.current(NOW) == DisplayMessage("two", "owner", NOW)
            # One answer for the owner, one refusal for the stranger, then silence.
            contents = [b["content"][:1] for b in fake.posts_to(fake.display_channel_id)]
            assert sorted(contents) == sorted(["✅", "🚫"])

    asyncio.run(scenario())


def test_a_message_that_cannot_be_saved_is_answered_with_a_warning(tmp_path, caplog):
    (tmp_path / "display-message.json").mkdir()  # where the board wants to write a file

    async def scenario() -> None:
        board = MessageBoard(tmp_path)
        async with FakeDiscord() as fake, display_bot(fake, board):
            posted = await fake.user_message(fake.display_channel_id, "Pizza!")
            answer = await reply_to(fake, posted)
            assert answer["content"].startswith("⚠️ The hub could not save this")

    asyncio.run(scenario())
    assert "could not save the display message" in caplog.text


def test_a_display_reply_to_a_deleted_post_is_still_sent(tmp_path):
    """`fail_if_not_exists: false`: Discord posts the answer even if the post is gone."""

    async def scenario() -> None:
        board = MessageBoard(tmp_path)
        async with FakeDiscord() as fake, display_bot(fake, board):
            await fake.user_message(fake.display_channel_id, "Pizza!", deleted=True)
            await fake.wait_until(lambda: bool(fake.posts_to(fake.display_channel_id)))
            [answer] = fake.posts_to(fake.display_channel_id)
            assert answer["content"].startswith("✅")
            assert board.current(NOW) == DisplayMessage("Pizza!", "owner", NOW)

    asyncio.run(scenario())


def test_without_read_message_history_the_answer_comes_as_a_plain_message(tmp_path, caplog):
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        board = MessageBoard(tmp_path)
        async with FakeDiscord() as fake, display_bot(fake, board):
            # Discord refuses a reply where the bot may not read the channel's history.
            fake.message_replies.append(Reply(403, {"message": "Missing Permissions",
                                                    "code": 50013}))
            await fake.user_message(fake.display_channel_id, "Pizza!")
            await fake.wait_until(lambda: bool(fake.posts_to(fake.display_channel_id)))
            [answer] = fake.posts_to(fake.display_channel_id)
            assert answer["content"] == "✅ On the display until cleared."
            assert "message_reference" not in answer
            assert answer["allowed_mentions"]["parse"] == []
            refused = fake.requests_to("POST", f"/channels/{fake.display_channel_id}/messages")
            assert [r.status for r in refused] == [403, 200]
            assert refused[0].body["message_reference"]

    asyncio.run(scenario())
    assert "Read Message History" in caplog.text


# --- wiring: choose_transport -----------------------------------------------------------------


def test_choose_transport_gives_the_bot_the_display_channel(tmp_path):
    async def scenario() -> None:
        board = MessageBoard(tmp_path)
        async with FakeDiscord() as fake:
            secrets = Secrets(**{**vars_of(secrets_for(fake)),
                                 "discord_channel_id": fake.display_channel_id})
            display = DisplayChannel(int(secrets.discord_channel_id), board,
                                     allow_owner_and_family(fake))
            bot = choose_transport(secrets, [].append, status=hub_status, clock=lambda: NOW,
                                   display=display)
            assert isinstance(bot, BotTransport)
            bot.start()
            try:
                posted = await fake.user_message(fake.display_channel_id, "Hei!")
                assert (await reply_to(fake, posted))["content"].startswith("✅")
            finally:
                await bot.close()
            assert board.current(NOW) == DisplayMessage("Hei!", "owner", NOW)

    asyncio.run(scenario())


def test_choose_transport_refuses_one_channel_for_both_and_warns_without_the_bot(
        tmp_path, caplog):
    board = MessageBoard(tmp_path)
    same = DisplayChannel(1, board, MessageSettings())
    with pytest.raises(StartupError, match="same channel"):
        choose_transport(Secrets(discord_bot_token="t", discord_monitor_channel_id="1",
                                 discord_channel_id="1"), [].append, display=same)
    caplog.set_level(logging.WARNING)
    channel_id = "123456789012345678"
    console = choose_transport(Secrets(discord_channel_id=channel_id), [].append,
                               display=DisplayChannel(int(channel_id), board, MessageSettings()))
    assert console.name == "console"
    assert "display messages need the Discord bot" in caplog.text
    assert channel_id not in caplog.text


# --- the daemon, end to end ----------------------------------------------------------------------


def test_the_daemon_wires_the_display_channel_from_the_secrets_and_config(tmp_path):
    config = load_config(bot_config(tmp_path, None,
                                    extra=f"\n[messages]\nallowed_users = [{OWNER}]\n"))

    async def scenario() -> None:
        async with FakeDiscord() as fake:
            secrets = Secrets(**{**vars_of(secrets_for(fake)),
                                 "discord_channel_id": fake.display_channel_id})
            stop = asyncio.Event()
            daemon = asyncio.create_task(run_daemon(config, secrets, [].append, stop))
            try:
                posted = await fake.user_message(fake.display_channel_id, "[1h] Pizza!")
                answer = await reply_to(fake, posted)
                refused = await fake.user_message(fake.display_channel_id, "x",
                                                  user_id=STRANGER)
                refusal = await reply_to(fake, refused)
            finally:
                stop.set()
                assert await asyncio.wait_for(daemon, 20) == 0
            assert answer["content"] == "✅ On the display for 60 min."
            assert refusal["content"].startswith("🚫")
            # What the bot accepted is on the board the daemon keeps in its state dir.
            saved = MessageBoard(config.hub.state_dir).current(time.time())  # the daemon's clock
            assert saved is not None and saved.text == "Pizza!" and saved.author == "owner"
            assert saved.expires_at == saved.posted_at + 3600

    asyncio.run(scenario())
