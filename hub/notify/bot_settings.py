"""Where and as whom the bot talks to Discord, as plain values: what choosing the
transport needs, without loading discord.py (only a configuration with a bot does)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"


@dataclass(frozen=True, slots=True)
class BotSettings:
    token: str
    monitor_channel_id: int
    api_base: str = DEFAULT_API_BASE
    gateway_url: str = DEFAULT_GATEWAY_URL

    def __repr__(self) -> str:
        return "BotSettings(token=***, monitor_channel_id=***)"
