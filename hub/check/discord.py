"""`divoom-hub check`'s questions to Discord about the bot: does its token work, which
intents does it have, and can it use each channel the hub gives it?

The bot is checked over REST only: it posts nothing and opens no gateway session, and
its permissions are computed as Discord computes them, from the server, the bot's roles
and the channel's overwrites. Lines name channels by name and variable, never by id, and
never show the token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import aiohttp
import discord

from hub.notify.discord.errors import describe
from hub.notify.discord.settings import BotSettings, discord_endpoints, message_content_granted

#: `divoom-hub check` gives Discord this long to answer all its questions.
CHECK_TIMEOUT_SECONDS = 20.0
#: What the bot needs in the monitoring channel: View Channel, Send Messages, Embed Links
#: and Attach Files — 52224, the permissions of the invite link in docs/discord-bot.md.
BOT_PERMISSIONS = discord.Permissions(view_channel=True, send_messages=True,
                                      embed_links=True, attach_files=True)


class WatchedId(NamedTuple):
    """A `[[channel]]` for `verify_bot`: its name, its variable and the id read from it."""

    name: str
    variable: str
    channel_id: int


@dataclass(frozen=True, slots=True)
class _CheckedChannel:
    subject: str  # the report line's subject
    label: str  # how the line names the channel
    variable: str  # where its id comes from, for "check <variable>"
    channel_id: int
    #: (discord.Permissions flag, what goes wrong without it), in the report's order.
    needs: tuple[tuple[str, str], ...] = ()


_MONITOR_NEEDS = (
    ("send_messages", "nothing can be posted there"),
    ("embed_links", "alerts and `status` replies are embeds"),
    ("attach_files", "`status` replies come without the timeline picture"),
)
_DISPLAY_NEEDS = (("send_messages", "posts there get no answer"),)


async def verify_bot(settings: BotSettings, *, display_channel_id: int | None = None,
                     watched: Sequence[WatchedId] = ()) -> list[tuple[str, bool, str]]:
    """For `divoom-hub check`: (subject, ok, message) about the token, the intents, and
    each channel the hub uses — the monitoring one, the display one (`DISCORD_CHANNEL_ID`)
    and the watched ones — reachable, and with the permissions the bot needs there.

    Logs in over REST only (`GET /users/@me`, `GET /oauth2/applications/@me`), reads each
    channel (`GET /channels/{id}`) and, to compute the bot's permissions as Discord does,
    its server and the bot's own member; posts nothing, opens no gateway. Lines name
    channels by name and variable, never by id.
    """
    channels = [_CheckedChannel("channel", "monitoring channel", "DISCORD_MONITOR_CHANNEL_ID",
                                settings.monitor_channel_id, _MONITOR_NEEDS)]
    if display_channel_id is not None:
        channels.append(_CheckedChannel("display", "display channel", "DISCORD_CHANNEL_ID",
                                        display_channel_id, _DISPLAY_NEEDS))
    channels += [_CheckedChannel("watched", f"[[channel]] {w.name!r}", w.variable,
                                 w.channel_id) for w in watched]
    findings: list[tuple[str, bool, str]] = []
    with discord_endpoints(settings.api_base, settings.gateway_url):
        async with discord.Client(intents=discord.Intents.none()) as client:
            try:
                async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                    await client.login(settings.token)
            except discord.LoginFailure:
                return [("bot", False, "Discord rejected DISCORD_BOT_TOKEN (HTTP 401): copy "
                                       "the token again from Developer Portal → Bot")]
            except (discord.DiscordException, aiohttp.ClientError, OSError,
                    TimeoutError) as err:
                return [("bot", False, f"cannot log in to Discord: {describe(err)}")]
            findings.append(("bot", True, f"token valid (logged in as {client.user})"))
            if message_content_granted(client.application_flags):
                findings.append(("intents", True, "Message Content intent enabled: `status` "
                                                  "and /status both work"))
            else:
                findings.append(("intents", True, "Message Content intent not enabled: only "
                                                  "/status works (Developer Portal → Bot → "
                                                  "Message Content Intent)"))
            members: dict[int, discord.Member] = {}
            for checked in channels:
                findings.append(await _channel_finding(client, checked, members))
    return findings


async def _channel_finding(client: discord.Client, checked: _CheckedChannel,
                           members: dict[int, discord.Member]) -> tuple[str, bool, str]:
    """Whether the bot can read `checked` and holds the permissions it needs there."""
    subject, label = checked.subject, checked.label
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            channel = await client.fetch_channel(checked.channel_id)
    except discord.Forbidden:
        return (subject, False, f"the bot cannot see the {label} (HTTP 403): give it View "
                                "Channel there")
    except discord.NotFound:
        return (subject, False, f"{label} not found (HTTP 404): check {checked.variable} and "
                                "that the bot is in its server")
    except (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError) as err:
        return (subject, False, f"cannot read the {label}: {describe(err)}")
    reachable = f"{label}: #{getattr(channel, 'name', None) or '(unnamed)'} reachable"
    if not checked.needs:
        return (subject, True, reachable)
    if not isinstance(channel, discord.abc.GuildChannel):
        return (subject, True, f"{reachable} (not a server channel: permissions not checked)")
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            granted = await _bot_permissions(client, channel, members)
    except (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError) as err:
        return (subject, False, f"{reachable}, but the bot's permissions there cannot be "
                                f"read: {describe(err)}")
    missing = [(flag, why) for flag, why in checked.needs if not getattr(granted, flag)]
    if not missing:
        return (subject, True, f"{reachable}; "
                               f"{', '.join(_title(flag) for flag, _ in checked.needs)} granted")
    lacking = "; ".join(f"{_title(flag)} ({why})" for flag, why in missing)
    return (subject, False, f"{reachable}, but the bot lacks {lacking}: grant "
                            f"{' and '.join(_title(flag) for flag, _ in missing)} to the bot "
                            "there (channel permissions, or its role; the invite link's "
                            f"permissions integer is {BOT_PERMISSIONS.value})")


def _title(flag: str) -> str:
    """`attach_files` → `Attach Files`, as Discord's settings name the permission."""
    return flag.replace("_", " ").title()


async def _bot_permissions(client: discord.Client, channel: discord.abc.GuildChannel,
                           members: dict[int, discord.Member]) -> discord.Permissions:
    """The bot's effective permissions in `channel`, computed by discord.py as Discord does
    (server owner, @everyone, the bot's roles, the channel's role and member overwrites,
    administrator, timeout). Without a gateway session nothing is cached, so the server
    (with its roles) and the bot's member are read over REST, once per server, and the
    channel again through that server so that it resolves roles against it."""
    assert client.user is not None  # logged in
    member = members.get(channel.guild.id)
    if member is None:
        guild = await client.fetch_guild(channel.guild.id, with_counts=False)
        member = members[guild.id] = await guild.fetch_member(client.user.id)
    in_guild = await member.guild.fetch_channel(channel.id)
    return in_guild.permissions_for(member)
