"""`divoom-hub check`: is the configuration valid, and can the hub reach what it needs?

Each line of the report names one thing, says ok or FAIL, and why. Nothing is posted to
Discord: the webhook is verified with a GET, which needs the same token as posting. Each
source is polled once exactly as the daemon polls it, and the Pixoo is pinged (no frame
is drawn).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import requests

from hub.config import Config
from hub.display.pixoo import PixooClient
from hub.notify.bot import DEFAULT_GATEWAY_URL, BotSettings, WatchedId, verify_bot
from hub.notify.transport import TransportError
from hub.notify.webhook import DEFAULT_API_BASE, Webhook, WebhookTransport, WebhookUrlError
from hub.secrets import Secrets
from hub.sources.bus import BusSource
from hub.sources.http import check_http
from hub.sources.threshold import read_threshold
from hub.sources.weather import WeatherSource
from machines import Outcome


@dataclass(frozen=True, slots=True)
class Finding:
    subject: str
    ok: bool
    message: str

    def line(self) -> str:
        return f"{self.subject:<12} {'ok' if self.ok else 'FAIL':<5} {self.message}"


def run_checks(config: Config, secrets: Secrets) -> list[Finding]:
    return [*_config_findings(config, secrets), *_webhook_findings(secrets),
            *_bot_findings(config, secrets), *_source_findings(config)]


def _config_findings(config: Config, secrets: Secrets) -> Iterator[Finding]:
    where = str(config.path) if config.path else "built-in defaults"
    sources = [name for name, section in (("bus", config.bus), ("weather", config.weather),
                                          ("pixoo", config.pixoo)) if section is not None]
    monitors = len(config.monitors) + len(config.heartbeats) + len(config.thresholds)
    yield Finding("config", True, f"{where}: {', '.join(sources) or 'no sources'}, "
                                  f"{monitors} monitors, {len(config.policies)} component "
                                  "policies")
    ok = True
    if secrets.discord_bot_token and secrets.discord_monitor_channel_id:
        transport = "bot (DISCORD_BOT_TOKEN + DISCORD_MONITOR_CHANNEL_ID)"
    elif secrets.discord_monitor_channel_id:
        transport, ok = "DISCORD_MONITOR_CHANNEL_ID is set but DISCORD_BOT_TOKEN is not", False
    elif secrets.discord_webhook_url:
        transport = "webhook"
    else:
        transport = "console (no DISCORD_WEBHOOK_URL or bot token and monitor channel set)"
    yield Finding("transport", ok, transport)


def _webhook_findings(secrets: Secrets) -> Iterator[Finding]:
    if not secrets.discord_webhook_url:
        return
    try:
        webhook = Webhook.parse(secrets.discord_webhook_url)
    except WebhookUrlError as err:
        yield Finding("webhook", False, str(err))
        return
    transport = WebhookTransport(webhook, secrets.discord_api_base or DEFAULT_API_BASE)

    async def verify() -> str:
        try:
            return await transport.verify()
        finally:
            await transport.close()

    try:
        name = asyncio.run(verify())
    except TransportError as err:
        yield Finding("webhook", False, str(err))
    else:
        yield Finding("webhook", True, f"reachable and authorized ({name!r})")


def _bot_findings(config: Config, secrets: Secrets) -> Iterator[Finding]:
    """The bot's token and intents, and each of its channels: monitoring, display, watched."""
    if not (secrets.discord_bot_token and secrets.discord_monitor_channel_id):
        return
    settings = BotSettings(token=secrets.discord_bot_token,
                           monitor_channel_id=int(secrets.discord_monitor_channel_id),
                           api_base=secrets.discord_api_base or DEFAULT_API_BASE,
                           gateway_url=secrets.discord_gateway_url or DEFAULT_GATEWAY_URL)
    display = int(secrets.discord_channel_id) if secrets.discord_channel_id else None
    ids = {c.name: secrets.watch_channel_id(c.env_name) for c in config.channels}
    watched = [WatchedId(c.name, c.env_name, int(ids[c.name]))
               for c in config.channels if ids[c.name]]
    for subject, ok, message in asyncio.run(
            verify_bot(settings, display_channel_id=display, watched=watched)):
        yield Finding(subject, ok, message)
    for channel in config.channels:
        if not ids[channel.name]:
            yield Finding("watched", False, f"[[channel]] {channel.name!r}: {channel.env_name} "
                                            "is not set (Discord: right-click the channel → "
                                            "Copy Channel ID)")


def _source_findings(config: Config) -> Iterator[Finding]:
    """One real poll of every source and a ping of the Pixoo, as the daemon would do."""
    with requests.Session() as session:
        polls: list[tuple[str, Callable[[], Outcome]]] = []
        if config.bus is not None:
            polls.append(("bus", BusSource(session, config.bus, time.time).poll))
        if config.weather is not None:
            polls.append(("weather", WeatherSource(session, config.weather, time.time,
                                                   zone=config.hub.zone()).poll))
        if config.pixoo is not None:
            polls.append(("pixoo", PixooClient(config.pixoo, session, time.time).ping))
        polls += [(check.name, functools.partial(check_http, session, check, time.time))
                  for check in config.monitors]
        polls += [(t.name, functools.partial(read_threshold, session, t, time.time))
                  for t in config.thresholds if not t.is_pushed]
        for name, poll in polls:
            outcome = poll()
            if outcome.ok:
                latency = f" in {outcome.latency_seconds * 1000:.0f} ms" \
                    if outcome.latency_seconds is not None else ""
                yield Finding(name, True, f"answered{latency}")
            else:
                yield Finding(name, False, f"{outcome.error_type}: {outcome.detail}")
