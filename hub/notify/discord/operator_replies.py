"""The operators' commands in Discord: `ack`, `mute`, `unmute`, `silences`, `help`.

As messages in the monitoring channel (the router hands them here first; what is no
command goes on to `status`) and as slash commands `/ack`, `/mute`, `/unmute`,
`/silences`, `/help`. What they do and who may use them is the `OperatorCommands` desk's
business (hub/incidents/desk.py); here is only Discord:

* a message command is answered as a reply to it that pings nobody; a slash command
  privately (ephemeral), since every change is announced in the channel anyway;
* a slash command outside the monitoring channel gets a private pointer;
* each person gets the `status` command's token bucket, so nobody can make the bot spend
  its rate limit on answers; over it, messages get no answer and slash commands a private
  "slow down".

The desk is attached once the daemon has built it (`attach`); until then nothing here
answers and no slash command of it is registered.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import discord
from discord import app_commands

from hub.notify.commands import RateLimiter
from hub.notify.discord.errors import describe
from hub.notify.discord.settings import NO_MENTIONS
from hub.notify.inbound import OperatorCommands

log = logging.getLogger(__name__)

WRONG_CHANNEL_TEXT = "The operators' commands work only in this hub's monitoring channel."

SlashCommand = app_commands.Command[Any, Any, None]


class OperatorReplies:
    """Answers the operators' commands in Discord; see the module docstring."""

    def __init__(self, monitor_channel_id: int, *,
                 monotonic: Callable[[], float] = time.monotonic,
                 limiter: RateLimiter | None = None) -> None:
        self._channel_id = monitor_channel_id
        self._monotonic = monotonic
        self._limiter = limiter or RateLimiter()
        self._desk: OperatorCommands | None = None

    def attach(self, desk: OperatorCommands) -> None:
        self._desk = desk

    async def on_message(self, message: discord.Message) -> bool:
        """Answer `message` if it is an operator's command; whether it was one."""
        if self._desk is None or message.channel.id != self._channel_id:
            return False
        author = message.author
        answer = self._desk.on_text(message.content, author.id, _role_ids(author),
                                    author.display_name)
        if answer is None:
            return False
        if self._limiter.acquire(author.id, self._monotonic()) > 0.0:
            log.info("operator command over the per-person limit; not answered")
            return True
        try:
            await message.channel.send(
                answer, reference=message.to_reference(fail_if_not_exists=False),
                mention_author=False, allowed_mentions=NO_MENTIONS)
        except (discord.DiscordException, aiohttp.ClientError, OSError) as err:
            log.warning("could not answer an operator's command: %s", describe(err))
        return True

    def slash_commands(self) -> list[SlashCommand]:
        """`/ack`, `/mute`, `/unmute`, `/silences`, `/help` (none before `attach`)."""
        if self._desk is None:
            return []

        async def ack(interaction: discord.Interaction[Any], component: str,
                      reason: str = "") -> None:
            await self._slash(interaction, "ack", component=component, reason=reason)

        async def mute(interaction: discord.Interaction[Any], component: str, duration: str,
                       reason: str = "") -> None:
            await self._slash(interaction, "mute", component=component, duration=duration,
                              reason=reason)

        async def unmute(interaction: discord.Interaction[Any], component: str) -> None:
            await self._slash(interaction, "unmute", component=component)

        async def silences(interaction: discord.Interaction[Any]) -> None:
            await self._slash(interaction, "silences")

        async def help_(interaction: discord.Interaction[Any]) -> None:
            await self._slash(interaction, "help")

        # name, description, callback (its parameters are the options), their descriptions
        described: list[tuple[str, str, Any, dict[str, str]]] = [
            ("ack", "Acknowledge an open incident: its reminders stop until it recovers", ack,
             {"component": "A component, an incident such as bus#3, or all",
              "reason": "Why (shown with the incident)"}),
            ("mute", "Hold a component's alerts and reminders for a while", mute,
             {"component": "A component, or all", "duration": "30m, 2h, 1d (at most 7d)",
              "reason": "Why (shown in the announcement)"}),
            ("unmute", "Lift a mute: an alert held meanwhile is sent now", unmute,
             {"component": "A component, or all"}),
            ("silences", "List the mutes, maintenance windows and acks in force", silences,
             {}),
            ("help", "The operators' commands, with an example each", help_, {}),
        ]
        commands: list[SlashCommand] = []
        for name, description, callback, params in described:
            if params:
                callback = app_commands.describe(**params)(callback)
            command: SlashCommand = app_commands.Command(name=name, description=description,
                                                         callback=callback)
            commands.append(app_commands.guild_only(command))
        return commands

    async def _slash(self, interaction: discord.Interaction[Any], name: str,
                     **options: str) -> None:
        try:
            await interaction.response.send_message(
                self._slash_answer(interaction, name, options), ephemeral=True,
                allowed_mentions=NO_MENTIONS)
        except (discord.DiscordException, aiohttp.ClientError, OSError) as err:
            log.warning("could not answer /%s: %s", name, describe(err))

    def _slash_answer(self, interaction: discord.Interaction[Any], name: str,
                      options: dict[str, str]) -> str:
        if interaction.channel_id != self._channel_id:
            return WRONG_CHANNEL_TEXT
        user = interaction.user
        wait = self._limiter.acquire(user.id, self._monotonic())
        if wait > 0.0:
            return f"Slow down: try again in {math.ceil(wait)} s."
        assert self._desk is not None  # registered only once attached
        return self._desk.on_slash(name, options, user.id, _role_ids(user),
                                   user.display_name)


def _role_ids(author: discord.User | discord.Member) -> list[int]:
    return [role.id for role in author.roles] if isinstance(author, discord.Member) else []
