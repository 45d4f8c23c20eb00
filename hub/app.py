"""The composition root: the one place that chooses real parts and wires them.

sources (pollers on a thread pool) → `health_notices` (machines, on the loop's
scheduler) → outbox (SQLite) → delivery → transport (webhook | console). Everything
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

from hub.config import Config
from hub.notify.delivery import Delivery
from hub.notify.outbox import Outbox
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


class StartupError(RuntimeError):
    """The daemon cannot start as configured; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Components:
    """What is watched, and whether Discord itself is one of them."""

    names: tuple[str, ...]
    watches_discord: bool


def choose_transport(secrets: Secrets, write: Callable[[str], None]) -> Transport:
    api_base = secrets.discord_api_base or DEFAULT_API_BASE
    if secrets.discord_webhook_url:
        return WebhookTransport(Webhook.parse(secrets.discord_webhook_url), api_base)
    if secrets.discord_bot_token or secrets.discord_monitor_channel_id:
        raise StartupError(
            "the bot transport (DISCORD_BOT_TOKEN + DISCORD_MONITOR_CHANNEL_ID) is not "
            "available in this version; set DISCORD_WEBHOOK_URL instead")
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
    transport = choose_transport(secrets, write)
    outbox = Outbox(config.hub.state_dir / "outbox.sqlite")
    components = Components(
        names=(*(m.name for m in config.monitors),
               *(("discord",) if transport.name != "console" else ())),
        watches_discord=transport.name != "console")

    def clock() -> float:
        return to_seconds(scheduler.now)

    discord_outcomes: Subject[Outcome] = Subject()
    delivery = Delivery(outbox, transport, config.hub.name, clock,
                        report=discord_outcomes.on_next if components.watches_discord else None)

    def accept(notice: Notice) -> None:
        outbox.put([notice])
        delivery.wake()

    machines = HealthMachines()
    now = clock()
    for name in components.names:
        machines.add(name, config.policy_for(name), now)

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
    delivering = asyncio.Event()
    delivery_task = asyncio.create_task(delivery.run(delivering), name="delivery")
    try:
        await stop.wait()
    finally:
        subscription.dispose()
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
