"""The bot's answer to `status` and `/status`: the status embed with the 24-hour timeline.

`status` in the monitoring channel and `/status` (registered by the session, see
`slash_commands`) are answered with the status embed, built from the `HubStatus` the
daemon publishes — never from the machines themselves (see `hub.notify.commands` for the
channel and rate rules) — and the timeline picture (`hub.status.timeline`) attached as
`timeline.png` and shown as the embed's image.

The picture is drawn on a worker thread, never on the loop; a drawing that fails costs the
picture, never the reply. `/status` must be answered within Discord's 3 s: when the
picture is not ready within `SLASH_DRAW_BUDGET_SECONDS` the bot defers ("thinking…") and
sends the reply as the follow-up once it is. Without the Attach Files permission Discord
refuses the picture (403): the reply then goes out without it, and the bot leaves it out
for `ATTACH_RETRY_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import discord
from discord import app_commands

from hub.formatting import duration
from hub.notify.commands import Decision, StatusCommands, Verdict
from hub.notify.discord.errors import describe
from hub.notify.discord.settings import NO_MENTIONS
from hub.notify.status_embed import status_embed
from hub.status.history import ComponentHistory
from hub.status.model import HubStatus
from hub.status.timeline import timeline_png
from hub.trouble import Trouble

log = logging.getLogger(__name__)

#: The status reply's picture: the attachment's name and the embed image that shows it.
TIMELINE_FILENAME = "timeline.png"
#: Discord drops an interaction not answered within 3 s. The picture takes ≈ 15–130 ms on
#: the development machine (5 to 20 components, up to a change a minute all day), several
#: times that on a small Pi, and may wait for a worker thread busy with a slow poll: when
#: it is not ready in this long, /status defers and follows up, leaving ≥ 2 s for the
#: round trip of the deferral itself.
SLASH_DRAW_BUDGET_SECONDS = 1.0
#: Attaching needs the Attach Files permission; without it Discord answers 403 and the
#: reply goes out without the picture. Repeated 403s can get a host banned, so after one
#: the bot leaves the picture out for this long before trying again.
ATTACH_RETRY_SECONDS = 3600.0

DrawTimeline = Callable[[Sequence[ComponentHistory], float, ZoneInfo | None], bytes]


class StatusReplies:
    """Answers `status` messages and `/status` interactions; see the module docstring."""

    def __init__(self, commands: StatusCommands, *, status: Callable[[], HubStatus | None],
                 latency: Callable[[], float | None], clock: Callable[[], float],
                 monotonic: Callable[[], float] = time.monotonic,
                 zone: ZoneInfo | None = None, draw_timeline: DrawTimeline = timeline_png,
                 slash_draw_budget_seconds: float = SLASH_DRAW_BUDGET_SECONDS) -> None:
        self._commands = commands
        self._status = status
        self._latency = latency
        self._clock = clock
        self._monotonic = monotonic
        # The picture's wall clock (`[hub] timezone`; None: the system's zone), its
        # renderer, and how long /status waits for it before deferring.
        self._zone = zone
        self._draw_timeline = draw_timeline
        self._slash_draw_budget_seconds = slash_draw_budget_seconds
        self._drawing = Trouble(log, "drawing the timeline picture")
        self._attach_refused_at: float | None = None  # monotonic, of the last 403

    def slash_commands(self) -> list[app_commands.Command[Any, Any, None]]:
        """`/status`, for one session's command tree (each session gets its own)."""

        async def status(interaction: discord.Interaction[Any]) -> None:
            await self.on_slash(interaction)

        command: app_commands.Command[Any, Any, None] = app_commands.Command(
            name="status", description="Every watched component's state, and the hub's",
            callback=status)
        return [app_commands.guild_only(command)]

    async def on_message(self, message: discord.Message, from_bot: bool) -> None:
        """Answer `message` if it is the `status` command (and its author is within limits)."""
        decision = self._commands.on_message(
            message.channel.id, message.author.id, message.content, from_bot,
            self._monotonic())
        if decision.verdict is Verdict.SLOW_DOWN:
            log.info("status command over the per-person limit; not answered")
        if decision.verdict is not Verdict.REPLY:
            return
        status = self._current_status()
        try:
            if status is None:
                await message.channel.send("The hub is still starting.",
                                           allowed_mentions=NO_MENTIONS)
            else:
                await self._send_status(message.channel.send, status,
                                        await self._draw(status))
        except (discord.DiscordException, aiohttp.ClientError, OSError) as err:
            log.warning("could not answer the status command: %s", describe(err))

    async def on_slash(self, interaction: discord.Interaction[Any]) -> None:
        """Answer a `/status` interaction: the reply, a refusal, or "still starting"."""
        decision = self._commands.on_slash(interaction.channel_id, interaction.user.id,
                                           self._monotonic())
        try:
            await self._answer_slash(interaction, decision)
        except (discord.DiscordException, aiohttp.ClientError, OSError) as err:
            log.warning("could not answer /status: %s", describe(err))

    def _current_status(self) -> HubStatus | None:
        """The published status, stamped now and with the live gateway latency."""
        status = self._status()
        if status is None:
            return None
        return replace(status, at=self._clock(), discord_latency_seconds=self._latency())

    async def _draw(self, status: HubStatus) -> bytes | None:
        """The timeline picture, drawn on a worker thread; None when drawing failed or
        Discord lately refused the attachment."""
        if self._attach_refused_at is not None \
                and self._monotonic() - self._attach_refused_at < ATTACH_RETRY_SECONDS:
            return None
        try:
            png = await asyncio.to_thread(self._draw_timeline, status.history, status.at,
                                          self._zone)
        except Exception as err:  # noqa: BLE001 - the picture is an extra: whatever breaks
            # it must cost the picture, never the status reply; logged once per outbreak.
            self._drawing.happened("drawing the timeline picture failed; the status reply "
                                   "goes out without it", exc_info=err)
            return None
        self._drawing.cleared()
        return png

    async def _send_status(self, send: Callable[..., Awaitable[object]], status: HubStatus,
                           png: bytes | None) -> None:
        """Send the status reply through `send` (a channel's, an interaction's or its
        follow-up's); without the picture when Discord refuses the attachment."""
        embed, files = status_reply(status, png, self._zone)
        try:
            await send(embed=embed, files=files, allowed_mentions=NO_MENTIONS)
            return
        except discord.Forbidden:
            if not files:
                raise
        self._attach_refused_at = self._monotonic()
        log.warning("Discord refused the status reply's timeline picture (HTTP 403: give the "
                    "bot Attach Files in the monitoring channel); answering without it, and "
                    "without pictures for the next %s", duration(ATTACH_RETRY_SECONDS))
        embed, files = status_reply(status, None, self._zone)
        await send(embed=embed, files=files, allowed_mentions=NO_MENTIONS)

    async def _answer_slash(self, interaction: discord.Interaction[Any],
                            decision: Decision) -> None:
        if decision.verdict is not Verdict.REPLY:
            await interaction.response.send_message(decision.refusal_text(), ephemeral=True,
                                                    allowed_mentions=NO_MENTIONS)
            return
        status = self._current_status()
        if status is None:
            await interaction.response.send_message("The hub is still starting.",
                                                    ephemeral=True,
                                                    allowed_mentions=NO_MENTIONS)
            return
        drawing = asyncio.create_task(self._draw(status), name="status-timeline")
        try:
            done, _ = await asyncio.wait([drawing],
                                         timeout=self._slash_draw_budget_seconds)
            if done:
                await self._send_status(interaction.response.send_message, status,
                                        drawing.result())
                return
            # Too slow for Discord's 3 s deadline: show "thinking…", then follow up.
            await interaction.response.defer(thinking=True)
            await self._send_status(interaction.followup.send, status, await drawing)
        finally:
            if not drawing.done():  # the answer failed: nobody will see the picture
                drawing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await drawing


def status_reply(status: HubStatus, png: bytes | None, zone: ZoneInfo | None = None
                 ) -> tuple[discord.Embed, list[discord.File]]:
    """The status embed, with the timeline picture attached and shown when there is one."""
    embed = discord.Embed.from_dict(status_embed(status, zone))
    if png is None:
        return embed, []
    embed.set_image(url=f"attachment://{TIMELINE_FILENAME}")
    return embed, [discord.File(io.BytesIO(png), filename=TIMELINE_FILENAME)]
