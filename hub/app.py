"""The composition root: the one place that chooses real parts and wires them.

sources (pollers on a thread pool) → `health_notices` (machines, on the loop's
scheduler) → outbox (SQLite) → delivery → transport (bot | webhook | console). The
owner of the machines publishes an immutable `HubStatus` on a `StatusBoard` for the
bot's `status` command. Everything
runs on one asyncio loop; only blocking polls leave it, and they come back as
`Outcome`s. `run_daemon` is what `divoom-hub run` calls.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import reactivex
import requests
from reactivex import Observable, Subject
from reactivex.scheduler.eventloop import AsyncIOThreadSafeScheduler

from hub.board import StatusBoard
from hub.config import Config
from hub.notify.bot import DEFAULT_GATEWAY_URL, BotSettings, BotTransport
from hub.notify.delivery import Delivery
from hub.notify.outbox import Outbox
from hub.notify.status import HubStatus
from hub.notify.transport import ConsoleTransport, Transport
from hub.notify.webhook import DEFAULT_API_BASE, Webhook, WebhookTransport
from hub.poller import poll_outcomes
from hub.secrets import Secrets
from hub.sources.http import check_http
from hub.streams import health_notices, to_seconds
from machines import HealthMachines, Notice, NoticeKind, Outcome

log = logging.getLogger(__name__)

#: On SIGTERM the stopped notice and anything queued get this long to reach Discord;
#: systemd's default stop timeout is 90 s, so this leaves ample room.
DRAIN_SECONDS = 5.0
#: How stale the `status` reply may be at most; notices republish at once.
STATUS_PUBLISH_SECONDS = 1.0


class StartupError(RuntimeError):
    """The daemon cannot start as configured; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Components:
    """What is watched, and whether Discord itself is one of them."""

    names: tuple[str, ...]
    watches_discord: bool


def choose_transport(secrets: Secrets, write: Callable[[str], None], *,
                     status: Callable[[], HubStatus | None] = lambda: None,
                     clock: Callable[[], float] = time.time,
                     report: Callable[[Outcome], None] | None = None) -> Transport:
    """The bot when it has a token and a monitoring channel, else the webhook, else the console.

    The bot wins over a webhook because it does all the webhook does and answers `status`.
    `status`, `clock` and `report` are for the bot: where it reads the published
    `HubStatus`, the daemon's clock, and where its connection outcomes go.
    """
    api_base = secrets.discord_api_base or DEFAULT_API_BASE
    if secrets.discord_monitor_channel_id and not secrets.discord_bot_token:
        raise StartupError("DISCORD_MONITOR_CHANNEL_ID is set but DISCORD_BOT_TOKEN is not: "
                           "the monitoring channel needs the bot's token")
    if secrets.discord_bot_token and secrets.discord_monitor_channel_id:
        if secrets.discord_webhook_url:
            log.info("both a bot and a webhook are configured; notices go through the bot")
        settings = BotSettings(token=secrets.discord_bot_token,
                               monitor_channel_id=int(secrets.discord_monitor_channel_id),
                               api_base=api_base,
                               gateway_url=secrets.discord_gateway_url or DEFAULT_GATEWAY_URL)
        return BotTransport(settings, status=status, clock=clock, report=report)
    if secrets.discord_webhook_url:
        return WebhookTransport(Webhook.parse(secrets.discord_webhook_url), api_base)
    if secrets.discord_bot_token:
        log.info("DISCORD_BOT_TOKEN is set without DISCORD_MONITOR_CHANNEL_ID or a webhook: "
                 "notices go to the console")
    return ConsoleTransport(write)


def started_notice(config: Config, transport: Transport, components: Components,
                   at: float) -> Notice:
    """The **started** summary: what is watched and how, with no secret or address."""
    return Notice(kind=NoticeKind.STARTED, component=config.hub.name, at=at, details=(
        ("transport", transport.name),
        ("components", ", ".join(components.names) or "none"),
        ("default policy", f"alert after {config.policy.failures_before_alert} failures, "
                           f"remind after {config.policy.remind_after_seconds:g} s"),
    ))


async def run_daemon(config: Config, secrets: Secrets, write: Callable[[str], None],
                     stop: asyncio.Event, drain_seconds: float = DRAIN_SECONDS) -> int:
    """Run until `stop` is set, then send **stopped**, drain and return the exit code."""
    loop = asyncio.get_running_loop()
    scheduler = AsyncIOThreadSafeScheduler(loop)

    def clock() -> float:
        return to_seconds(scheduler.now)

    board = StatusBoard()
    discord_outcomes: Subject[Outcome] = Subject()
    transport = choose_transport(secrets, write, status=board.current, clock=clock,
                                 report=discord_outcomes.on_next)
    outbox = Outbox(config.hub.state_dir / "outbox.sqlite")
    components = Components(
        names=(*(m.name for m in config.monitors),
               *(("discord",) if transport.name != "console" else ())),
        watches_discord=transport.name != "console")

    delivery = Delivery(outbox, transport, config.hub.name, clock,
                        report=discord_outcomes.on_next if components.watches_discord else None)

    machines = HealthMachines()
    now = clock()
    for name in components.names:
        machines.add(name, config.policy_for(name), now)

    def publish_status() -> None:
        """The owner's immutable picture for the `status` command (DESIGN rule 2)."""
        board.publish(HubStatus(hub_name=config.hub.name, at=clock(), started_at=now,
                                machines=tuple(machines.snapshots()),
                                delivery=delivery.status, outbox_depth=outbox.depth()))

    def accept(notice: Notice) -> None:
        outbox.put([notice])
        delivery.wake()
        publish_status()

    # A worker per monitor: a hanging target holds its own worker and nobody else's.
    executor = ThreadPoolExecutor(max_workers=max(len(config.monitors), 1),
                                  thread_name_prefix="poll")
    sessions = {check.name: requests.Session() for check in config.monitors}
    sources: list[Observable[Outcome]] = [discord_outcomes]
    for check in config.monitors:
        sources.append(poll_outcomes(
            check.name, functools.partial(check_http, sessions[check.name], check, time.time),
            check.every_seconds, scheduler, executor))

    failures: list[Exception] = []

    def on_error(error: Exception) -> None:
        log.error("the monitoring pipeline failed", exc_info=error)
        failures.append(error)
        stop.set()

    accept(started_notice(config, transport, components, now))
    subscription = health_notices(reactivex.merge(*sources), machines, scheduler) \
        .subscribe(accept, on_error)
    publishing = scheduler.schedule_periodic(STATUS_PUBLISH_SECONDS,
                                             lambda _: publish_status())
    if isinstance(transport, BotTransport):
        transport.start()
    delivering = asyncio.Event()
    delivery_task = asyncio.create_task(delivery.run(delivering), name="delivery")
    try:
        await stop.wait()
    finally:
        subscription.dispose()
        publishing.dispose()
        executor.shutdown(wait=False, cancel_futures=True)
        accept(Notice(kind=NoticeKind.STOPPED, component=config.hub.name, at=clock(),
                      details=(("reason", "pipeline error" if failures else "stop requested"),)))
        delivering.set()
        await delivery_task
        await delivery.drain(drain_seconds)
        await transport.close()
        outbox.close()
        for session in sessions.values():
            session.close()
    return 1 if failures else 0
