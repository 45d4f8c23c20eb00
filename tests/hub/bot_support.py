"""What the bot's tests share: settings and secrets pointing at the local fake Discord, a
published status to answer with, a bot running until the test is done, and the hub.toml
of the daemon runs that go through the bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from hub.notify.delivery import DeliveryStatus
from hub.notify.discord.settings import BotSettings
from hub.notify.discord.transport import BotTransport
from hub.secrets import Secrets
from hub.status.model import HubStatus
from machines import HealthState, Snapshot
from tests.daemon import write_hub_toml
from tests.fakes.discord_gateway import FakeDiscord

NOW = 1_700_000_000.0


def settings_for(fake: FakeDiscord, token: str | None = None) -> BotSettings:
    return BotSettings(token=fake.token if token is None else token,
                       monitor_channel_id=int(fake.monitor_channel_id),
                       api_base=fake.api_base, gateway_url=fake.gateway_url)


def secrets_for(fake: FakeDiscord) -> Secrets:
    return Secrets(discord_bot_token=fake.token,
                   discord_monitor_channel_id=fake.monitor_channel_id,
                   discord_api_base=fake.api_base, discord_gateway_url=fake.gateway_url)


def vars_of(secrets: Secrets) -> dict[str, str]:
    return {name: getattr(secrets, name) for name in Secrets.__dataclass_fields__}


def hub_status() -> HubStatus:
    return HubStatus(
        hub_name="kitchen-pi", at=NOW, started_at=NOW - 7200,
        machines=(
            Snapshot(component="weather", state=HealthState.ALERTING, since=NOW - 600,
                     failures=4, first_failure_at=NOW - 700, last_success_at=NOW - 720,
                     last_error_type="http_503", last_error="503 from the weather API",
                     next_reminder_at=NOW + 300),
            Snapshot(component="bus", state=HealthState.HEALTHY, since=NOW - 7000,
                     last_success_at=NOW - 5),
        ),
        delivery=DeliveryStatus("bot", "idle", "", 12, 0), outbox_depth=2)


@asynccontextmanager
async def started(bot: BotTransport, fake: FakeDiscord, *,
                  wait_connected: bool = True) -> AsyncIterator[BotTransport]:
    """`bot` started, by default once it is connected to `fake` (heartbeating, its slash
    commands registered); closed when the block ends."""
    bot.start()
    try:
        if wait_connected:
            await fake.wait_until(lambda: fake.heartbeats > 0 and bool(fake.commands))
        yield bot
    finally:
        await bot.close()


def bot_config(tmp_path: Path, url: str | None, extra: str = "") -> Path:
    """A hub alerting on the second failure and reminding every 0.6 s, with the HTTP
    monitor `web` on `url` (none for None) and `extra` TOML after it."""
    return write_hub_toml(tmp_path, url, extra=extra, policy={
        "failures_before_alert": 2, "remind_after_seconds": 0.6, "remind_backoff": 1.0})
