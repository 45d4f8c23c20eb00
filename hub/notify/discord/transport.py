"""The Discord bot transport (`DISCORD_BOT_TOKEN` + `DISCORD_MONITOR_CHANNEL_ID`): sending.

It sends the outbox's messages to the monitoring channel over REST (the same `Delivery`
and outbox as the webhook), with the supervised session's client, mapping discord.py's
errors onto the `TransportError` tree (`hub.notify.discord.errors`). Each send is bounded
by `SEND_TIMEOUT_SECONDS` and pings nobody but the one id a payload's `allowed_mentions`
names (the critical mention). A reminder or a recovery is posted as a reply to its
incident's alert message (`message_reference`), and that message is kept current with
`Message.edit`.

`BotTransport` is also where the bot's roles meet, each in its own module: the gateway
session (`session`), the `status` reply (`status_reply`), the operators' commands
(`operator_replies`) and the router of inbound messages (`router`). `start` starts the
session, `close` ends it.

The **started** notice is not sent here: the daemon puts it in the outbox once per
process, so a reconnect never repeats it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import discord
from discord import app_commands

from hub.notify.commands import RateLimiter, StatusCommands
from hub.notify.discord.errors import transport_error
from hub.notify.discord.operator_replies import OperatorReplies
from hub.notify.discord.preview_reply import PreviewReplies
from hub.notify.discord.router import MessageRouter
from hub.notify.discord.session import GUILD_READY_TIMEOUT_SECONDS, GatewaySession
from hub.notify.discord.settings import NO_MENTIONS, BotSettings
from hub.notify.discord.status_reply import (
    SLASH_DRAW_BUDGET_SECONDS,
    DrawTimeline,
    StatusReplies,
)
from hub.notify.inbound import DisplayPosts, OperatorCommands, WatchedChannels
from hub.notify.transport import UNKNOWN_MESSAGE, MessageGone, RetryableError
from hub.status.model import HubStatus
from hub.status.timeline import timeline_png
from hub.trouble import Trouble
from machines import Notice, Outcome

log = logging.getLogger(__name__)

#: Bound on one send, above discord.py's own in-request waits (a ≤ 30 s 429 and its 5xx
#: retries of 1 + 3 + 5 + 7 + 9 s): past it the path is broken, not slow.
SEND_TIMEOUT_SECONDS = 60.0


class BotTransport:
    """Sends to the monitoring channel; runs the session, `status` and the router beside it.

    `status`, `clock` and `report` are where it reads the published `HubStatus`, the
    daemon's clock, and where the `discord` component's outcomes go; `display` and
    `channels` take the display channel's posts and the watched channels' messages;
    `frame_png` is the display's latest frame, which `preview` answers with.
    The rest are seams for tests.
    """

    name = "bot"

    def __init__(self, settings: BotSettings, *, status: Callable[[], HubStatus | None],
                 clock: Callable[[], float], report: Callable[[Outcome], None] | None = None,
                 commands: StatusCommands | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None,
                 guild_ready_timeout: float = GUILD_READY_TIMEOUT_SECONDS,
                 display: DisplayPosts | None = None,
                 display_replies: RateLimiter | None = None,
                 channels: WatchedChannels | None = None,
                 zone: ZoneInfo | None = None,
                 draw_timeline: DrawTimeline = timeline_png,
                 slash_draw_budget_seconds: float = SLASH_DRAW_BUDGET_SECONDS,
                 frame_png: Callable[[], bytes | None] | None = None,
                 preview_limiter: RateLimiter | None = None) -> None:
        self._settings = settings
        replies = StatusReplies(commands or StatusCommands(settings.monitor_channel_id),
                                status=status, latency=lambda: self.latency_seconds,
                                clock=clock, monotonic=monotonic, zone=zone,
                                draw_timeline=draw_timeline,
                                slash_draw_budget_seconds=slash_draw_budget_seconds)
        self._operators = OperatorReplies(settings.monitor_channel_id, monotonic=monotonic)
        # `preview` answers where people look at the hub: the monitoring channel and the
        # display channel; without the display's frames (`frame_png`) there is none.
        previews = PreviewReplies(
            {settings.monitor_channel_id, *([display.channel_id] if display else [])},
            frame_png, limiter=preview_limiter, monotonic=monotonic) \
            if frame_png is not None else None
        router = MessageRouter(settings.monitor_channel_id, status_command=replies.on_message,
                               operator_command=self._operators.on_message,
                               own_user_id=lambda: self._session.user_id, clock=clock,
                               monotonic=monotonic, display=display,
                               display_replies=display_replies, channels=channels,
                               preview_command=previews.on_message if previews else None)

        def slash_commands() -> list[app_commands.Command[Any, Any, None]]:
            return [*replies.slash_commands(), *self._operators.slash_commands(),
                    *(previews.slash_commands() if previews is not None else [])]

        self._session = GatewaySession(settings, on_message=router.on_message,
                                       slash_commands=slash_commands,
                                       on_message_content_missing=router.message_content_missing,
                                       clock=clock, report=report, monotonic=monotonic,
                                       rng=rng, guild_ready_timeout=guild_ready_timeout)

        # Told once per outbreak: each reminder would otherwise say it again.
        self._replying = Trouble(log, "discord: replying to alert messages")

    def __repr__(self) -> str:
        return "BotTransport(***)"

    def attach_operators(self, desk: OperatorCommands) -> None:
        """Take the operators' commands to `desk` (before `start`, which registers them)."""
        self._operators.attach(desk)

    def start(self) -> None:
        """Start the supervised gateway session on the running loop."""
        self._session.start()

    async def close(self) -> None:
        await self._session.close()

    @property
    def latency_seconds(self) -> float | None:
        return self._session.latency_seconds

    @property
    def message_content_enabled(self) -> bool:
        return self._session.message_content_enabled

    async def send(self, payload: dict[str, Any], notices: list[Notice]) -> str | None:
        """Post one message to the monitoring channel; the id Discord gave it."""
        client = await self._session.client_for_sending()
        channel = client.get_partial_messageable(self._settings.monitor_channel_id)
        embeds = [discord.Embed.from_dict(embed) for embed in payload.get("embeds", [])]
        answered = payload.get("message_reference")
        # A reply when it answers an alert message (discord.py takes no `reference=None`).
        reply: dict[str, Any] = {"reference": discord.MessageReference(
            message_id=int(answered["message_id"]),
            channel_id=self._settings.monitor_channel_id,
            fail_if_not_exists=False), "mention_author": False} if answered else {}
        async with self._sending(client):
            try:
                message = await channel.send(content=payload.get("content") or None,
                                             embeds=embeds,
                                             allowed_mentions=_allowed_mentions(payload),
                                             **reply)
            except discord.Forbidden:
                if not reply:
                    raise
                # Replies need Read Message History; without it the message still goes.
                self._replying.happened("could not reply to the alert message (HTTP 403: "
                                        "give the bot Read Message History in the "
                                        "monitoring channel); posting without the reply")
                message = await channel.send(content=payload.get("content") or None,
                                             embeds=embeds,
                                             allowed_mentions=_allowed_mentions(payload))
        return str(message.id)

    async def edit(self, message_id: str, payload: dict[str, Any]) -> None:
        """Replace the embeds of the bot's message `message_id` in the monitoring channel."""
        client = await self._session.client_for_sending()
        channel = client.get_partial_messageable(self._settings.monitor_channel_id)
        embeds = [discord.Embed.from_dict(embed) for embed in payload.get("embeds", [])]
        async with self._sending(client):
            try:
                await channel.get_partial_message(int(message_id)).edit(
                    embeds=embeds, allowed_mentions=NO_MENTIONS)
            except discord.NotFound as err:
                if err.code != UNKNOWN_MESSAGE:
                    raise
                raise MessageGone("the alert message was deleted (HTTP 404, Unknown "
                                  "Message)", "http_404") from None

    @contextlib.asynccontextmanager
    async def _sending(self, client: discord.Client) -> AsyncIterator[None]:
        """One request to Discord, bounded, its failures as `TransportError`s."""
        try:
            async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                yield
        except TimeoutError:
            raise RetryableError("Discord did not answer in time", "timeout") from None
        except RuntimeError:
            # aiohttp's "Session is closed": the supervisor replaced the session mid-send.
            if client.is_closed():
                raise RetryableError("the Discord session was restarting", "connect") from None
            raise
        except (discord.DiscordException, aiohttp.ClientError, OSError) as err:
            raise transport_error(err) from None


def _allowed_mentions(payload: dict[str, Any]) -> discord.AllowedMentions:
    """The payload's `allowed_mentions` (nobody, or the one critical id) for discord.py."""
    allowed = payload.get("allowed_mentions") or {}
    users = [discord.Object(id=int(i)) for i in allowed.get("users", [])]
    roles = [discord.Object(id=int(i)) for i in allowed.get("roles", [])]
    if not (users or roles):
        return NO_MENTIONS
    return discord.AllowedMentions(everyone=False, users=users, roles=roles,
                                   replied_user=False)
