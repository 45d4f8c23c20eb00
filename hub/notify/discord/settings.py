"""Where and as whom the bot talks to Discord, what it may hear there, and the seam that
points discord.py at it.

discord.py's only seams for its endpoints are two class attributes,
`discord.http.Route.BASE` and `discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`;
`discord_endpoints` sets them for a while (the bot's lifetime, one `divoom-hub check`) and
restores them after.

The token and the channel id never appear in a repr, a log line or an error message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from hub.notify.bot_settings import DEFAULT_API_BASE as DEFAULT_API_BASE
from hub.notify.bot_settings import DEFAULT_GATEWAY_URL as DEFAULT_GATEWAY_URL
from hub.notify.bot_settings import BotSettings as BotSettings

#: Everything the bot posts pings nobody: alerts, `status` replies and display answers
#: are read when people look, and a ping from a monitor soon gets it muted.
NO_MENTIONS = discord.AllowedMentions.none()


@contextlib.contextmanager
def discord_endpoints(api_base: str, gateway_url: str) -> Iterator[None]:
    """Point discord.py's REST and gateway at `api_base` / `gateway_url` for a while."""
    old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = api_base.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = old_base, old_gateway


def message_content_granted(flags: discord.ApplicationFlags) -> bool:
    """Whether the application may receive message text (the privileged intent is on)."""
    return bool(flags.gateway_message_content or flags.gateway_message_content_limited)
