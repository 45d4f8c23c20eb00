"""`preview` and `/preview`, end to end through the real discord.py client on the fake
Discord: the display's latest frame comes back as `preview.png`, 8× as large, in the
monitoring and display channels only, within each person's limit. Tests wait for what
the fake received; where something must *not* happen, they first wait for a later event
on the same connection (discord.py handles events in order), never for time to pass."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from PIL import Image

from hub.app import run_daemon
from hub.config import load_config
from hub.display.messages import DisplayChannel, MessageBoard, MessageSettings
from hub.display.render import render
from hub.notify.commands import RateLimiter
from hub.notify.discord.preview_reply import NO_FRAME_TEXT, WRONG_CHANNEL_TEXT
from hub.notify.discord.transport import BotTransport
from tests.display.scenes import rainy_morning
from tests.fakes.discord_gateway import FakeDiscord, Recorded
from tests.hub.bot_support import (
    NOW,
    bot_config,
    hub_status,
    secrets_for,
    settings_for,
    started,
)

EPHEMERAL = 64


def frame_png() -> bytes:
    buffer = io.BytesIO()
    render(rainy_morning()).save(buffer, format="PNG")
    return buffer.getvalue()


@asynccontextmanager
async def preview_bot(fake: FakeDiscord, tmp_path: Path, *,
                      frame: Callable[[], bytes | None] = frame_png,
                      limiter: RateLimiter | None = None) -> AsyncIterator[MessageBoard]:
    board = MessageBoard(tmp_path)
    display = DisplayChannel(int(fake.display_channel_id), board,
                             MessageSettings(allowed_users=frozenset({4242})))
    bot = BotTransport(settings_for(fake), status=hub_status, clock=lambda: NOW,
                       guild_ready_timeout=0.01, display=display, frame_png=frame,
                       preview_limiter=limiter or RateLimiter(burst=10, refill_seconds=1.0),
                       monotonic=lambda: 0.0)
    async with started(bot, fake):
        yield board


def assert_is_the_frame_eight_times(request: Recorded, message: dict[str, Any]) -> None:
    assert message["attachments"] == [{"id": 0, "filename": "preview.png"}]
    assert message["allowed_mentions"]["parse"] == []
    with Image.open(io.BytesIO(request.file("preview.png"))) as picture:
        assert picture.format == "PNG" and picture.size == (512, 512)
        rgb = picture.convert("RGB")
    frame = render(rainy_morning())
    assert rgb.resize((64, 64), Image.Resampling.NEAREST).tobytes() == frame.tobytes()
    # Square pixels: every 8×8 block is one LED's colour.
    assert rgb.resize((64, 64), Image.Resampling.BOX).tobytes() == frame.tobytes()


def test_preview_in_the_monitoring_channel_answers_with_the_frame(tmp_path):
    async def scenario() -> Recorded:
        async with FakeDiscord() as fake, preview_bot(fake, tmp_path):
            await fake.user_message(fake.monitor_channel_id, " Preview ")
            await fake.wait_until(lambda: bool(fake.message_posts(fake.monitor_channel_id)))
            [post] = fake.message_posts(fake.monitor_channel_id)
            return post

    post = asyncio.run(scenario())
    assert_is_the_frame_eight_times(post, post.body)


def test_preview_in_the_display_channel_answers_and_is_not_a_display_message(tmp_path):
    async def scenario() -> tuple[Recorded, MessageBoard]:
        async with FakeDiscord() as fake, preview_bot(fake, tmp_path) as board:
            await fake.user_message(fake.display_channel_id, "!preview")
            await fake.wait_until(lambda: bool(fake.message_posts(fake.display_channel_id)))
            [post] = fake.message_posts(fake.display_channel_id)
            return post, board

    post, board = asyncio.run(scenario())
    assert_is_the_frame_eight_times(post, post.body)
    assert board.current(NOW) is None


def test_preview_elsewhere_is_ignored_and_slash_preview_points_to_the_channels(tmp_path):
    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with FakeDiscord() as fake, preview_bot(fake, tmp_path):
            await fake.user_message(fake.other_channel_id, "preview")
            await fake.slash_command("preview", fake.other_channel_id)
            await fake.wait_until(lambda: bool(fake.interaction_callbacks()))
            return fake.posts_to(fake.other_channel_id), fake.interaction_callbacks()

    posts, [callback] = asyncio.run(scenario())
    assert posts == []
    assert callback["data"]["content"] == WRONG_CHANNEL_TEXT
    assert int(callback["data"]["flags"]) & EPHEMERAL


def test_slash_preview_answers_with_the_frame_then_asks_to_slow_down(tmp_path):
    async def scenario() -> list[Recorded]:
        async with FakeDiscord() as fake, preview_bot(
                fake, tmp_path, limiter=RateLimiter(burst=1, refill_seconds=30.0)):
            await fake.slash_command("preview", fake.monitor_channel_id)
            await fake.wait_until(lambda: len(fake.interaction_callbacks()) == 1)
            await fake.slash_command("preview", fake.display_channel_id)
            await fake.wait_until(lambda: len(fake.interaction_callbacks()) == 2)
            # Another person has a bucket of their own.
            await fake.slash_command("preview", fake.monitor_channel_id, user_id="5151")
            await fake.wait_until(lambda: len(fake.interaction_callbacks()) == 3)
            return fake.interaction_requests()

    first, second, third = asyncio.run(scenario())
    assert first.body["type"] == 4 and not int(first.body["data"].get("flags", 0)) & EPHEMERAL
    assert_is_the_frame_eight_times(first, first.body["data"])
    assert second.body["data"]["content"] == "Slow down: try `/preview` again in 30 s."
    assert int(second.body["data"]["flags"]) & EPHEMERAL and not second.files
    assert_is_the_frame_eight_times(third, third.body["data"])


def test_over_the_limit_a_preview_message_gets_no_answer(tmp_path):
    async def scenario() -> list[Recorded]:
        async with FakeDiscord() as fake, preview_bot(
                fake, tmp_path, limiter=RateLimiter(burst=1, refill_seconds=30.0)):
            await fake.user_message(fake.monitor_channel_id, "preview")
            await fake.user_message(fake.monitor_channel_id, "preview")
            await fake.user_message(fake.monitor_channel_id, "status")  # a later event
            await fake.wait_until(lambda: len(fake.message_posts(fake.monitor_channel_id)) == 2)
            return fake.message_posts(fake.monitor_channel_id)

    posts = asyncio.run(scenario())
    # One picture and the status reply (in either order: each answer is its own task);
    # the second preview was refused before the status command was read.
    assert sorted(bool(post.files) and "embeds" not in post.body for post in posts) \
        == [False, True]
    assert sum("embeds" in post.body for post in posts) == 1


def test_before_the_first_frame_the_answer_says_so(tmp_path):
    async def scenario() -> list[dict[str, Any]]:
        async with FakeDiscord() as fake, preview_bot(fake, tmp_path, frame=lambda: None):
            await fake.user_message(fake.monitor_channel_id, "preview")
            await fake.wait_until(lambda: bool(fake.posts_to(fake.monitor_channel_id)))
            return fake.posts_to(fake.monitor_channel_id)

    [post] = asyncio.run(scenario())
    assert post["content"] == NO_FRAME_TEXT


def test_the_daemon_answers_preview_with_the_frame_it_drew(tmp_path):
    config = load_config(bot_config(tmp_path, None))

    async def scenario() -> tuple[Recorded, bytes | None]:
        async with FakeDiscord() as fake:
            stop = asyncio.Event()
            daemon = asyncio.create_task(run_daemon(config, secrets_for(fake), [].append,
                                                    stop))
            try:
                large = config.hub.state_dir / "frame-large.png"
                async with asyncio.timeout(60):  # the display draws its first frame
                    while not large.exists():  # noqa: ASYNC110 - a file: no event
                        await asyncio.sleep(0.05)  # written off the loop: nothing to await
                await fake.slash_command("preview", fake.monitor_channel_id)
                await fake.wait_until(lambda: bool(fake.interaction_callbacks()))
                [request] = fake.interaction_requests()
            finally:
                stop.set()
                assert await asyncio.wait_for(daemon, 20) == 0
            return request, large.read_bytes()

    request, _ = asyncio.run(scenario())
    assert request.body["data"]["attachments"] == [{"id": 0, "filename": "preview.png"}]
    with Image.open(io.BytesIO(request.file("preview.png"))) as picture:
        assert picture.size == (512, 512)
