"""The `status` reply's timeline picture, end to end through the real discord.py client.

The fake Discord (tests/fakes/discord_gateway.py) takes the reply as Discord does — a
multipart form with `payload_json` and `files[0]` — and records the file's bytes, which
the tests decode and read pixels from. Nothing sleeps: a slow picture is a renderer that
waits for an event the test sets once the fake has seen the deferral.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from hub.notify.commands import RateLimiter, StatusCommands
from hub.notify.discord.status_reply import ATTACH_RETRY_SECONDS
from hub.notify.discord.transport import BotTransport
from hub.notify.transport import PayloadRejected
from hub.status.history import ComponentHistory, StateChange
from hub.status.model import HubStatus
from hub.status.timeline import BAND_COLOURS, ROW_HEIGHT, layout, timeline_png
from machines import HealthState
from tests.fakes.discord_gateway import FakeDiscord, Recorded
from tests.hub.bot_support import NOW, hub_status, settings_for, started

OSLO = ZoneInfo("Europe/Oslo")
HOUR = 3600.0
#: bus healthy all day; weather healthy, then suspect, alerting for the last six hours.
HISTORY = (
    ComponentHistory("bus", (StateChange(NOW - 30 * HOUR, HealthState.HEALTHY),)),
    ComponentHistory("weather", (
        StateChange(NOW - 30 * HOUR, HealthState.HEALTHY),
        StateChange(NOW - 6 * HOUR - 300, HealthState.SUSPECT),
        StateChange(NOW - 6 * HOUR, HealthState.ALERTING),
    )),
)
Draw = Callable[[Sequence[ComponentHistory], float, ZoneInfo | None], bytes]


def status_with_history() -> HubStatus:
    return replace(hub_status(), history=HISTORY)


@asynccontextmanager
async def bot_with_picture(fake: FakeDiscord, *, draw: Draw = timeline_png,
                           budget_seconds: float = 5.0,
                           monotonic: Callable[[], float] = lambda: 0.0,
                           ) -> AsyncIterator[BotTransport]:
    # A generous budget: on a busy test machine the picture must not defer by accident.
    bot = BotTransport(settings_for(fake), status=status_with_history, clock=lambda: NOW,
                       commands=StatusCommands(int(fake.monitor_channel_id),
                                               RateLimiter(burst=10, refill_seconds=1.0)),
                       guild_ready_timeout=0.01, zone=OSLO, draw_timeline=draw,
                       slash_draw_budget_seconds=budget_seconds, monotonic=monotonic)
    async with started(bot, fake):
        yield bot


def band_colour(png: bytes, component: str, at: float) -> tuple[int, ...]:
    """The colour of `component`'s band at time `at`, read from the decoded picture."""
    place = layout(HISTORY, NOW)
    row = [h.component for h in HISTORY].index(component)
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        pixel = image.convert("RGB").getpixel(
            (round(place.x_of(at)), place.row_top(row) + ROW_HEIGHT // 2))
    assert isinstance(pixel, tuple)
    return pixel


def assert_carries_the_picture(request: Recorded, message: dict[str, Any]) -> bytes:
    """The request attached `timeline.png`, the embed shows it, and nobody is pinged."""
    [embed] = message["embeds"]
    assert embed["image"] == {"url": "attachment://timeline.png"}
    assert embed["title"] == "📋 kitchen-pi: 1 of 2 components failing"
    assert message["attachments"] == [{"id": 0, "filename": "timeline.png"}]
    assert message["allowed_mentions"]["parse"] == []
    assert not message["allowed_mentions"].get("users")
    assert not message["allowed_mentions"].get("roles")
    [attached] = request.files
    assert attached.index == 0 and attached.filename == "timeline.png"
    return request.file("timeline.png")


def assert_shows_the_day(png: bytes) -> None:
    # Drawn from the published history, at the bot's clock, on the hub's wall clock.
    assert png == timeline_png(HISTORY, NOW, OSLO)
    assert png != timeline_png(HISTORY, NOW, ZoneInfo("America/New_York"))
    assert band_colour(png, "weather", NOW - 3 * HOUR) == BAND_COLOURS[HealthState.ALERTING]
    assert band_colour(png, "weather", NOW - 12 * HOUR) == BAND_COLOURS[HealthState.HEALTHY]
    assert band_colour(png, "bus", NOW - 3 * HOUR) == BAND_COLOURS[HealthState.HEALTHY]


def test_the_status_message_reply_carries_the_timeline_picture():
    async def scenario() -> Recorded:
        async with FakeDiscord() as fake, bot_with_picture(fake):
            await fake.user_message(fake.monitor_channel_id, "status")
            await fake.wait_until(lambda: bool(fake.message_posts(fake.monitor_channel_id)))
            [post] = fake.message_posts(fake.monitor_channel_id)
            return post

    post = asyncio.run(scenario())
    assert_shows_the_day(assert_carries_the_picture(post, post.body))


def test_slash_status_answers_at_once_with_the_picture_when_it_is_drawn_in_time():
    async def scenario() -> tuple[Recorded, list[dict[str, Any]]]:
        async with FakeDiscord() as fake, bot_with_picture(fake):
            await fake.slash_command("status", fake.monitor_channel_id)
            await fake.wait_until(lambda: bool(fake.interaction_callbacks()))
            [request] = fake.interaction_requests()
            return request, fake.followups()

    request, followups = asyncio.run(scenario())
    assert request.body["type"] == 4  # the answer itself: no deferral, no follow-up
    assert followups == []
    assert not int(request.body["data"].get("flags", 0)) & 64  # for the whole channel
    assert_shows_the_day(assert_carries_the_picture(request, request.body["data"]))


def test_slash_status_defers_when_the_picture_is_slow_and_follows_up_with_it():
    released = threading.Event()

    def slow(history: Sequence[ComponentHistory], at: float, zone: ZoneInfo | None) -> bytes:
        # Finishes only once the test has seen the deferral: slower than any budget.
        assert released.wait(10)
        return timeline_png(history, at, zone)

    async def scenario() -> tuple[list[Recorded], list[dict[str, Any]]]:
        async with FakeDiscord() as fake, bot_with_picture(fake, draw=slow, budget_seconds=0):
            await fake.slash_command("status", fake.monitor_channel_id)
            await fake.wait_until(lambda: bool(fake.interaction_callbacks()))
            released.set()
            await fake.wait_until(lambda: bool(fake.followups()))
            return fake.interaction_requests(), fake.interaction_callbacks()

    (deferral, followup), [callback] = asyncio.run(scenario())
    assert callback["type"] == 5  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: "thinking…"
    assert not int((callback.get("data") or {}).get("flags", 0)) & 64  # not private
    assert deferral.files == []
    assert followup.query.get("wait") == "1"
    assert_shows_the_day(assert_carries_the_picture(followup, followup.body))


def test_a_picture_that_cannot_be_drawn_costs_the_picture_never_the_reply(caplog):
    caplog.set_level(logging.INFO)
    # The real renderer, failing for real: narrower than it can draw.
    too_narrow = functools.partial(timeline_png, width=10)

    async def scenario() -> tuple[list[Recorded], list[Recorded]]:
        async with FakeDiscord() as fake, bot_with_picture(fake, draw=too_narrow):
            for person in ("1", "2"):
                await fake.user_message(fake.monitor_channel_id, "status", user_id=person)
            await fake.slash_command("status", fake.monitor_channel_id)
            await fake.wait_until(lambda: len(fake.message_posts(fake.monitor_channel_id)) == 2
                                  and bool(fake.interaction_callbacks()))
            return fake.message_posts(fake.monitor_channel_id), fake.interaction_requests()

    posts, [callback] = asyncio.run(scenario())
    for request, message in [(p, p.body) for p in posts] + [(callback, callback.body["data"])]:
        assert request.files == []
        [embed] = message["embeds"]
        assert embed["title"] == "📋 kitchen-pi: 1 of 2 components failing"
        assert "image" not in embed
        assert message["allowed_mentions"]["parse"] == []
    assert callback.body["type"] == 4
    failures = [r for r in caplog.records if "drawing the timeline picture failed" in r.message]
    assert len(failures) == 1  # once, with the traceback, not once per reply
    assert failures[0].exc_info is not None
    assert "width: at least 320 px" in caplog.text


def test_the_picture_is_logged_as_working_again_after_a_failure(caplog):
    caplog.set_level(logging.INFO)
    failing = threading.Event()
    failing.set()

    def flaky(history: Sequence[ComponentHistory], at: float, zone: ZoneInfo | None) -> bytes:
        return timeline_png(history, at, zone, width=10 if failing.is_set() else 960)

    async def scenario() -> list[Recorded]:
        async with FakeDiscord() as fake, bot_with_picture(fake, draw=flaky):
            await fake.user_message(fake.monitor_channel_id, "status")
            await fake.wait_until(lambda: len(fake.message_posts(fake.monitor_channel_id)) == 1)
            failing.clear()
            await fake.user_message(fake.monitor_channel_id, "status")
            await fake.wait_until(lambda: len(fake.message_posts(fake.monitor_channel_id)) == 2)
            return fake.message_posts(fake.monitor_channel_id)

    without, with_picture = asyncio.run(scenario())
    assert without.files == []
    assert_shows_the_day(assert_carries_the_picture(with_picture, with_picture.body))
    assert "drawing the timeline picture works again" in caplog.text


def test_an_embed_pointing_at_a_file_that_is_not_attached_is_refused_by_the_fake():
    async def scenario() -> None:
        async with FakeDiscord() as fake, bot_with_picture(fake) as bot:
            dangling = {"embeds": [{"title": "x", "image": {"url": "attachment://timeline.png"}}]}
            with pytest.raises(PayloadRejected, match="HTTP 400"):
                await bot.send(dangling, [])
            assert fake.message_posts(fake.monitor_channel_id) == []

    asyncio.run(scenario())


def test_without_attach_files_the_reply_comes_without_the_picture_for_a_while(caplog):
    caplog.set_level(logging.INFO)
    clock = [1000.0]

    async def scenario() -> FakeDiscord:
        async with FakeDiscord() as fake, bot_with_picture(fake,
                                                           monotonic=lambda: clock[0]):
            fake.attach_files_allowed = False
            await fake.slash_command("status", fake.monitor_channel_id)
            await fake.wait_until(lambda: bool(fake.interaction_callbacks()))
            # Within the hour the picture is left out: no second 403 for `status`.
            await fake.user_message(fake.monitor_channel_id, "status")
            await fake.wait_until(lambda: len(fake.message_posts(fake.monitor_channel_id)) == 1)
            # An hour later, with the permission granted, the picture is back.
            clock[0] += ATTACH_RETRY_SECONDS
            fake.attach_files_allowed = True
            await fake.user_message(fake.monitor_channel_id, "status")
            await fake.wait_until(lambda: len(fake.message_posts(fake.monitor_channel_id)) == 2)
            return fake

    fake = asyncio.run(scenario())
    refused = [r for r in fake.requests if r.status == 403]
    # The one try with the picture: the first answer to the interaction, then retried.
    assert len(refused) == 1 and refused[0].files and "/interactions/" in refused[0].path
    without, with_picture = fake.message_posts(fake.monitor_channel_id)
    [answer] = fake.interaction_requests()
    for request, message in ((without, without.body), (answer, answer.body["data"])):
        assert request.files == []
        assert "image" not in message["embeds"][0]
        assert message["embeds"][0]["title"] == "📋 kitchen-pi: 1 of 2 components failing"
    assert_shows_the_day(assert_carries_the_picture(with_picture, with_picture.body))
    assert caplog.text.count("give the bot Attach Files") == 1


def test_a_deferred_slash_status_without_attach_files_follows_up_without_the_picture(caplog):
    released = threading.Event()

    def slow(history: Sequence[ComponentHistory], at: float, zone: ZoneInfo | None) -> bytes:
        assert released.wait(10)
        return timeline_png(history, at, zone)

    async def scenario() -> FakeDiscord:
        async with FakeDiscord() as fake, bot_with_picture(fake, draw=slow, budget_seconds=0):
            fake.attach_files_allowed = False
            await fake.slash_command("status", fake.monitor_channel_id)
            await fake.wait_until(lambda: bool(fake.interaction_callbacks()))
            released.set()
            await fake.wait_until(lambda: bool(fake.followups()))
            return fake

    fake = asyncio.run(scenario())
    [refused] = [r for r in fake.requests if r.status == 403]
    assert "/webhooks/" in refused.path and refused.files
    [deferral, followup] = fake.interaction_requests()
    assert deferral.body["type"] == 5
    assert followup.files == [] and "image" not in followup.body["embeds"][0]
    assert followup.body["allowed_mentions"]["parse"] == []
    assert "give the bot Attach Files" in caplog.text
