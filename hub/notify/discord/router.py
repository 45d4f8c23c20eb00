"""Where each message the gateway delivers goes: one channel, one role.

* A message in a **watched channel** (`[[channel]]`, `DISCORD_WATCH_<NAME>`), from a
  person, a bot or a webhook but never the hub's own, is counted by the `WatchedChannels`
  it was given (`hub.sources.channels`) and is nothing else — never a command, never a
  display post.
* A post in the **display channel** (`DISCORD_CHANNEL_ID`), from a person, goes to the
  `DisplayPosts` it was given (`hub.display.messages`: who may post, what a post means,
  the `MessageBoard`), and the poster gets its short answer as a reply that pings nobody.
  It is never read as a `status` command.
* `preview` in the monitoring or the display channel, from a person, is the preview
  command (`hub.notify.discord.preview_reply`), never a display post.
* Anything else may be an operator's command (`ack`, `mute`, …: `operator_replies`) or
  the `status` command, which only count in the monitoring channel; the operators' go
  first, and what is none of theirs goes to the status reply (`hub.notify.commands`).

The hub's own channels cannot be watched, and the display channel is not the monitoring
channel: the router refuses to be built otherwise, so the roles never mix.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import aiohttp
import discord

from hub.notify.commands import RateLimiter
from hub.notify.discord.errors import describe
from hub.notify.discord.settings import NO_MENTIONS
from hub.notify.inbound import DisplayPosts, WatchedChannels

log = logging.getLogger(__name__)


class MessageRouter:
    """Hands each gateway message to the one role it is for; see the module docstring."""

    def __init__(self, monitor_channel_id: int, *,
                 status_command: Callable[[discord.Message, bool], Awaitable[None]],
                 operator_command: Callable[[discord.Message], Awaitable[bool]] | None = None,
                 own_user_id: Callable[[], int | None], clock: Callable[[], float],
                 monotonic: Callable[[], float] = time.monotonic,
                 display: DisplayPosts | None = None,
                 display_replies: RateLimiter | None = None,
                 channels: WatchedChannels | None = None,
                 preview_command: Callable[[discord.Message, bool], Awaitable[bool]]
                 | None = None) -> None:
        if display is not None and display.channel_id == monitor_channel_id:
            raise ValueError("the display channel and the monitoring channel must differ")
        if channels is not None and (monitor_channel_id in channels or (
                display is not None and display.channel_id in channels)):
            raise ValueError("the hub's own channels cannot be watched channels")
        self._status_command = status_command
        self._operator_command = operator_command
        self._own_user_id = own_user_id
        self._clock = clock
        self._monotonic = monotonic
        self._display = display
        # Answers in the display channel are limited per person like `status` replies, so
        # someone spamming it (allowed or not) cannot spend the bot's rate limit.
        self._display_replies = display_replies or RateLimiter()
        self._channels = channels
        self._preview_command = preview_command

    async def on_message(self, message: discord.Message) -> None:
        if self._channels is not None and message.channel.id in self._channels:
            # A watched channel is only counted: never a command, never a display post.
            if not self._is_own(message):
                self._channels.on_message(message.channel.id, message_text(message),
                                          self._clock())
            return
        from_bot = message.author.bot or message.webhook_id is not None
        if self._preview_command is not None and await self._preview_command(message, from_bot):
            return
        if self._display is not None and message.channel.id == self._display.channel_id:
            # The display channel is the display's alone: never a `status` command.
            if not from_bot:
                await self._on_display_post(self._display, message)
            return
        if not from_bot and self._operator_command is not None \
                and await self._operator_command(message):
            return
        await self._status_command(message, from_bot)

    def _is_own(self, message: discord.Message) -> bool:
        """Whether the hub's bot posted `message` (Discord echoes the bot's own posts)."""
        own = self._own_user_id()
        return own is not None and message.author.id == own

    def message_content_missing(self) -> None:
        """Say in the log what is lost without the Message Content intent."""
        display = (" and display messages posted in the display channel (DISCORD_CHANNEL_ID) "
                   "arrive empty and are ignored") if self._display is not None else ""
        if self._channels is not None:
            display += (", and watched channels ([[channel]]) count messages but cannot "
                        "match their keywords")
        log.warning(
            "the bot lacks the privileged Message Content intent, so the `status` message "
            "command cannot read messages%s; /status works. To enable them: Discord "
            "Developer Portal → your application → Bot → Privileged Gateway Intents → "
            "Message Content Intent, then restart the hub", display)

    async def _on_display_post(self, display: DisplayPosts, message: discord.Message) -> None:
        if not message.content.strip():
            # An image on its own, or any message while the Message Content intent is
            # missing (then the warning at start-up said why): nothing to show or refuse.
            return
        author = message.author
        role_ids = [role.id for role in author.roles] \
            if isinstance(author, discord.Member) else []
        try:
            answer = display.on_message(message.channel.id, author.id, role_ids,
                                        author.display_name, message.content, self._clock())
        except OSError as err:
            log.warning("could not save the display message: %s", err)
            answer = ("⚠️ The hub could not save this to disk (see its log): it may not "
                      "survive a restart.")
        if answer is None:
            return
        if self._display_replies.acquire(author.id, self._monotonic()) > 0.0:
            log.info("display channel answer over the per-person limit; not sent")
            return
        try:
            try:
                # A reply that points at the post without pinging its author (or anyone).
                await message.channel.send(
                    answer, reference=message.to_reference(fail_if_not_exists=False),
                    mention_author=False, allowed_mentions=NO_MENTIONS)
            except discord.Forbidden:
                # Replies need Read Message History; without it a plain answer still helps.
                log.info("could not reply in the display channel (HTTP 403: give the bot "
                         "Read Message History there); answering without the reply")
                await message.channel.send(answer, allowed_mentions=NO_MENTIONS)
        except (discord.DiscordException, aiohttp.ClientError, OSError) as err:
            log.warning("could not answer in the display channel: %s", describe(err))


def message_text(message: discord.Message) -> str:
    """What a watched message says: its text and its embeds' titles, descriptions, fields.

    Feeds posted by bots and webhooks often carry everything in an embed.
    """
    parts = [message.content or ""]
    for embed in message.embeds:
        parts += [embed.title or "", embed.description or ""]
        for embed_field in embed.fields:
            parts += [embed_field.name or "", embed_field.value or ""]
    return "\n".join(part for part in parts if part)
