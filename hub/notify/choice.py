"""Which transport the Discord settings choose: decided once, for `run` and for `check`.

The bot when it has a token and a monitoring channel, else the webhook, else the console.
The bot wins over a webhook because it does all the webhook does and answers `status`.
`run` builds the chosen transport (`hub.app.choose_transport`); `check` names it and tests
it. Settings the choice cannot honour or leaves unused are flagged here and told by each
in its own way: `run` refuses to start or logs a line, `check` prints a FAIL or WARN line
that says what to set.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from hub.notify.bot_settings import DEFAULT_API_BASE, DEFAULT_GATEWAY_URL, BotSettings
from hub.secrets import Secrets

#: Why a display channel that is the monitoring channel is refused (`run`) or failed
#: (`check`): the bot would take every notice it posts for a display message.
SHARED_DISPLAY_CHANNEL = ("DISCORD_CHANNEL_ID and DISCORD_MONITOR_CHANNEL_ID are the same "
                          "channel: display messages need a channel of their own")


class TransportKind(Enum):
    BOT = "bot"
    WEBHOOK = "webhook"
    CONSOLE = "console"


@dataclass(frozen=True, slots=True)
class TransportChoice:
    kind: TransportKind
    #: Discord's REST API, for the webhook and the bot alike (`DISCORD_API_BASE`).
    api_base: str
    #: The bot's settings, when the bot is chosen (`kind` is BOT).
    bot: BotSettings | None = None
    #: DISCORD_MONITOR_CHANNEL_ID is set without DISCORD_BOT_TOKEN: `run` refuses to start.
    lacks_bot_token: bool = False
    #: DISCORD_BOT_TOKEN is set, but without a monitoring channel the bot is not used.
    is_bot_token_unused: bool = False
    #: DISCORD_CHANNEL_ID names the monitoring channel itself: `run` refuses to start.
    shares_display_channel: bool = False


def transport_choice(secrets: Secrets) -> TransportChoice:
    """The transport `secrets` choose, with the bot's settings when it is the bot."""
    api_base = secrets.discord_api_base or DEFAULT_API_BASE
    token, monitor_channel = secrets.discord_bot_token, secrets.discord_monitor_channel_id
    if token and monitor_channel:
        display_channel = secrets.discord_channel_id
        return TransportChoice(TransportKind.BOT, api_base, bot=BotSettings(
            token=token, monitor_channel_id=int(monitor_channel), api_base=api_base,
            gateway_url=secrets.discord_gateway_url or DEFAULT_GATEWAY_URL),
            shares_display_channel=bool(display_channel)
            and int(display_channel) == int(monitor_channel))
    kind = TransportKind.WEBHOOK if secrets.discord_webhook_url else TransportKind.CONSOLE
    return TransportChoice(kind, api_base, lacks_bot_token=bool(monitor_channel),
                           is_bot_token_unused=bool(token))
