"""The bot's answer to `preview` and `/preview`: what the display shows now, 8× as large.

* The message command is a message whose whole text is `preview` or `!preview` (any
  case) in the monitoring channel or the display channel; `/preview` is the slash
  command. Anywhere else the message is ignored and `/preview` gets a private pointer.
* Each person has a token bucket of their own (`RateLimiter`, shared by both forms): over
  it a message gets no reply, `/preview` a private "try again in N s".
* The picture is the latest frame the display drew (`frame_png`, 64×64), scaled ×8 on a
  worker thread with square pixels, attached as `preview.png`. Before the first frame,
  or without the Attach Files permission, the answer says so in words.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import time
from collections.abc import Callable, Collection
from typing import Any

import aiohttp
import discord
from discord import app_commands
from PIL import Image

from hub.display.preview import scaled_png
from hub.notify.commands import RateLimiter
from hub.notify.discord.errors import describe
from hub.notify.discord.settings import NO_MENTIONS

log = logging.getLogger(__name__)

PREVIEW_FILENAME = "preview.png"
MESSAGE_WORDS = frozenset({"preview", "!preview"})
#: Discord's 8× is 512×512: a phone shows it whole, and each LED is plain to see.
PREVIEW_SCALE = 8
WRONG_CHANNEL_TEXT = "The preview command works only in this hub's monitoring and display " \
                     "channels."
NO_FRAME_TEXT = "The display has not drawn a frame yet."
REFUSED_TEXT = "I may not attach files here: give the bot Attach Files in this channel."


def is_preview_message(content: str) -> bool:
    return content.strip().lower() in MESSAGE_WORDS


def preview_png(frame_png: bytes) -> bytes:
    """The 64×64 PNG `frame_png`, scaled up `PREVIEW_SCALE` times."""
    with Image.open(io.BytesIO(frame_png)) as frame:
        return scaled_png(frame, PREVIEW_SCALE)


class PreviewReplies:
    """Answers `preview` messages and `/preview` interactions in `channel_ids`."""

    def __init__(self, channel_ids: Collection[int], frame_png: Callable[[], bytes | None], *,
                 limiter: RateLimiter | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._channel_ids = frozenset(channel_ids)
        self._frame_png = frame_png
        self._limiter = limiter or RateLimiter()
        self._monotonic = monotonic

    def slash_commands(self) -> list[app_commands.Command[Any, Any, None]]:
        """`/preview`, for one session's command tree."""

        async def preview(interaction: discord.Interaction[Any]) -> None:
            await self.on_slash(interaction)

        command: app_commands.Command[Any, Any, None] = app_commands.Command(
            name="preview", description="What the display shows now, as a picture",
            callback=preview)
        return [app_commands.guild_only(command)]

    async def on_message(self, message: discord.Message, from_bot: bool) -> bool:
        """Answer `message` if it is the `preview` command; whether it was one (answered
        or not), so that the caller does not read it as anything else."""
        if from_bot or not is_preview_message(message.content):
            return False
        if message.channel.id not in self._channel_ids:
            return False
        if self._limiter.acquire(message.author.id, self._monotonic()) > 0.0:
            log.info("preview command over the per-person limit; not answered")
            return True
        try:
            png = await self._picture()
            if png is None:
                await message.channel.send(NO_FRAME_TEXT, allowed_mentions=NO_MENTIONS)
                return True
            try:
                await message.channel.send(file=_file(png), allowed_mentions=NO_MENTIONS)
            except discord.Forbidden:
                await message.channel.send(REFUSED_TEXT, allowed_mentions=NO_MENTIONS)
        except (discord.DiscordException, aiohttp.ClientError, OSError) as err:
            log.warning("could not answer the preview command: %s", describe(err))
        return True

    async def on_slash(self, interaction: discord.Interaction[Any]) -> None:
        """Answer a `/preview` interaction: the picture, a refusal, or "no frame yet"."""
        respond = interaction.response.send_message
        try:
            if interaction.channel_id not in self._channel_ids:
                await respond(WRONG_CHANNEL_TEXT, ephemeral=True, allowed_mentions=NO_MENTIONS)
                return
            wait = self._limiter.acquire(interaction.user.id, self._monotonic())
            if wait > 0.0:
                await respond(f"Slow down: try `/preview` again in {math.ceil(wait)} s.",
                              ephemeral=True, allowed_mentions=NO_MENTIONS)
                return
            png = await self._picture()
            if png is None:
                await respond(NO_FRAME_TEXT, ephemeral=True, allowed_mentions=NO_MENTIONS)
                return
            try:
                await respond(file=_file(png), allowed_mentions=NO_MENTIONS)
            except discord.Forbidden:
                await respond(REFUSED_TEXT, ephemeral=True, allowed_mentions=NO_MENTIONS)
        except (discord.DiscordException, aiohttp.ClientError, OSError) as err:
            log.warning("could not answer /preview: %s", describe(err))

    async def _picture(self) -> bytes | None:
        frame = self._frame_png()
        if frame is None:
            return None
        # A 512×512 PNG takes a few ms to encode: on a worker, never on the loop.
        return await asyncio.to_thread(preview_png, frame)


def _file(png: bytes) -> discord.File:
    return discord.File(io.BytesIO(png), filename=PREVIEW_FILENAME)
