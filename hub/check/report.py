"""`divoom-hub check`: is the configuration valid, and can the hub reach what it needs?

Each line of the report names one thing, says ok, WARN or FAIL, and why; a WARN (the hub
runs, but not as you probably meant) needs no fix to start, a FAIL does (exit code 1).
In order: the config, the transport, `state_dir`, the status server, the Discord
webhook or bot and its channels, then every component: each source polled once exactly
as the daemon polls it, the Pixoo pinged (no frame is drawn), and each heartbeat and
pushed threshold with the address it must be sent to. Nothing is posted to Discord: the
webhook is verified with a GET, which needs the same token as posting. Nothing is left
behind in `state_dir`: it is tested with a file that never gets a name.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from hub.check.discord import WatchedId, verify_bot
from hub.config import Config
from hub.display.pixoo import PixooClient
from hub.formatting import duration
from hub.incidents.operations import local_time
from hub.listen import TOKEN_ENV, Listen, not_an_address, parse_listen
from hub.notify.choice import SHARED_DISPLAY_CHANNEL, TransportKind, transport_choice
from hub.notify.transport import TransportError
from hub.notify.webhook import Webhook, WebhookTransport, WebhookUrlError
from hub.secrets import Secrets
from hub.world import pollers

#: Where a channel id comes from, said wherever one is missing.
COPY_CHANNEL_ID = "Discord: right-click the channel → Copy Channel ID"


@dataclass(frozen=True, slots=True)
class Finding:
    subject: str
    ok: bool
    message: str
    #: ok for the exit code, but not what the owner probably meant: shown as WARN.
    is_warning: bool = False

    def line(self) -> str:
        mark = "FAIL" if not self.ok else "WARN" if self.is_warning else "ok"
        return f"{self.subject:<12} {mark:<5} {self.message}"


def warning(subject: str, message: str) -> Finding:
    return Finding(subject, True, message, is_warning=True)


def run_checks(config: Config, secrets: Secrets) -> list[Finding]:
    return [*_config_findings(config, secrets), _state_dir_finding(config.hub.state_dir),
            _status_server_finding(config, secrets), *_webhook_findings(secrets),
            *_bot_findings(config, secrets), *_incident_findings(config, secrets),
            *_source_findings(config), *_reported_findings(config, secrets)]


def _config_findings(config: Config, secrets: Secrets) -> Iterator[Finding]:
    where = str(config.path) if config.path else "built-in defaults"
    sources = [name for name, section in (("bus", config.bus), ("weather", config.weather),
                                          ("pixoo", config.pixoo)) if section is not None]
    monitors = len(config.monitors) + len(config.heartbeats) + len(config.thresholds)
    yield Finding("config", True, f"{where}: {', '.join(sources) or 'no sources'}, "
                                  f"{monitors} monitors, {len(config.policies)} component "
                                  "policies")
    yield from _transport_findings(config, secrets)


def _transport_findings(config: Config, secrets: Secrets) -> Iterator[Finding]:
    """Which transport `run` will choose (`hub.notify.choice`), and what in the Discord
    settings it will ignore or refuse."""
    choice = transport_choice(secrets)
    has_bot = choice.bot is not None
    set_monitor_channel = ("set DISCORD_MONITOR_CHANNEL_ID to the monitoring channel's id "
                           f"({COPY_CHANNEL_ID})")
    if has_bot:
        yield Finding("transport", True, "bot (DISCORD_BOT_TOKEN + DISCORD_MONITOR_CHANNEL_ID)")
    elif choice.lacks_bot_token:
        yield Finding("transport", False,
                      "DISCORD_MONITOR_CHANNEL_ID is set but DISCORD_BOT_TOKEN is not")
    elif choice.kind is TransportKind.WEBHOOK:
        yield Finding("transport", True, "webhook")
        if choice.is_bot_token_unused:
            yield warning("bot", "DISCORD_BOT_TOKEN is set but not used: without "
                                 f"DISCORD_MONITOR_CHANNEL_ID notices go to the webhook; "
                                 f"to use the bot, {set_monitor_channel}")
    elif choice.is_bot_token_unused:
        yield warning("transport", "console: DISCORD_BOT_TOKEN is set, but without "
                                   "DISCORD_MONITOR_CHANNEL_ID notices are only printed on "
                                   f"the console; {set_monitor_channel}")
    else:
        yield Finding("transport", True,
                      "console (no DISCORD_WEBHOOK_URL or bot token and monitor channel set)")
    if choice.shares_display_channel:
        yield Finding("display", False, SHARED_DISPLAY_CHANNEL)
    if secrets.discord_channel_id and not has_bot:
        yield warning("display", "DISCORD_CHANNEL_ID is set, but display messages need the "
                                 "bot (DISCORD_BOT_TOKEN and DISCORD_MONITOR_CHANNEL_ID): "
                                 "nothing posted there reaches the display")
    if config.channels and not has_bot:
        yield Finding("watched", False, "[[channel]] watches Discord channels through the bot: "
                                        "set DISCORD_BOT_TOKEN and DISCORD_MONITOR_CHANNEL_ID, "
                                        "or remove the [[channel]] tables")


def _incident_findings(config: Config, secrets: Secrets,
                       now: float | None = None) -> Iterator[Finding]:
    """Who may silence what, the maintenance windows' next occurrences, the kill switch."""
    if not config.hub.notifications:
        yield warning("notices", "[hub] notifications = false: every notice is recorded and "
                                 "none is sent")
    has_bot = transport_choice(secrets).bot is not None
    operators = config.discord.operators
    if operators and not has_bot:
        yield warning("operators", "[discord] operators need the bot (DISCORD_BOT_TOKEN and "
                                   "DISCORD_MONITOR_CHANNEL_ID); without it use divoom-hub "
                                   "mute/unmute/ack or /api/silences")
    elif has_bot:
        yield Finding("operators", True,
                      f"{len(operators)} user or role ids may ack and mute in Discord"
                      if operators else "none in [discord] operators: nobody can ack or "
                      "mute in Discord (divoom-hub mute and /api/silences still can)")
    now = time.time() if now is None else now
    zone = config.hub.zone()
    for window in config.maintenance:
        upcoming = window.occurrences(now, now + 8 * 86_400, zone)
        what = ", ".join(sorted(window.components)).replace("*", "every component")
        when = (f"next {local_time(upcoming[0].start, zone)} to "
                f"{local_time(upcoming[0].end, zone)}" if upcoming else "no day chosen")
        yield Finding("maintenance", True, f"{what}: {when}"
                      + (f" ({window.reason})" if window.reason else ""))


def _state_dir_finding(state_dir: Path) -> Finding:
    """Whether the hub can keep its outbox, journal and frames in `state_dir`; the probe is
    an unnamed temporary file, so nothing is left there (nor is the directory created)."""
    state_dir = state_dir.absolute()
    fix = "the outbox, journal and frames live there: give the hub's user that directory, " \
          "or set [hub] state_dir"
    if state_dir.exists() and not state_dir.is_dir():
        return Finding("state_dir", False, f"{state_dir} is not a directory; {fix}")
    existing = next(p for p in (state_dir, *state_dir.parents) if p.exists())
    if not existing.is_dir():
        return Finding("state_dir", False, f"{state_dir} cannot be created ({existing} is not "
                                           f"a directory); {fix}")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        what = (f"cannot write there ({err.strerror})" if existing == state_dir
                else f"cannot be created ({existing}: {err.strerror})")
        return Finding("state_dir", False, f"{state_dir}: {what}; {fix}")
    if existing == state_dir:
        return Finding("state_dir", True, f"{state_dir}: writable")
    return Finding("state_dir", True, f"{state_dir}: not there yet; the hub creates it at "
                                      f"start ({existing} is writable)")


def _status_server_finding(config: Config, secrets: Secrets) -> Finding:
    """Whether `run` can serve the status page (and the heartbeats' and thresholds' POSTs)
    as configured; whether the port is free is not asked (a running hub holds it)."""
    listen = config.hub.http_listen
    reported = [h.name for h in config.heartbeats] + \
        [t.name for t in config.thresholds if t.is_pushed]
    if not listen:
        if reported:
            return Finding("status", False, f"[hub] http_listen is \"\" (off), but "
                                            f"{', '.join(reported)} report to it: set it, e.g. "
                                            "\"127.0.0.1:8787\"")
        return Finding("status", True, "off ([hub] http_listen = \"\")")
    address = parse_listen(listen)
    if address is None:  # a Config not read from a file: the server would refuse it
        return Finding("status", False, not_an_address(listen))
    if address.is_loopback:
        return Finding("status", True, f"page at {_base_url(address)}/ (from this machine only)")
    if not secrets.hub_http_token:
        return Finding("status", False, f"[hub] http_listen {listen} reaches beyond this "
                                        f"machine, so the hub refuses to start without an "
                                        f"access token: set {TOKEN_ENV} in .env (or listen on "
                                        "127.0.0.1 only)")
    return Finding("status", True, f"page at {_base_url(address)}/ ({TOKEN_ENV} required)")


def _base_url(address: Listen) -> str:
    """The status server's address as another machine writes it."""
    host, port = address.host, address.port
    if host in ("0.0.0.0", "::", ""):  # every interface: the machine's name reaches it
        host = socket.gethostname()
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}" if port else f"http://{host}:<port chosen at start>"


def _webhook_findings(secrets: Secrets) -> Iterator[Finding]:
    if not secrets.discord_webhook_url:
        return
    try:
        webhook = Webhook.parse(secrets.discord_webhook_url)
    except WebhookUrlError as err:
        yield Finding("webhook", False, str(err))
        return
    transport = WebhookTransport(webhook, transport_choice(secrets).api_base)

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
    settings = transport_choice(secrets).bot
    if settings is None:
        return
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
                                            f"is not set ({COPY_CHANNEL_ID})")


def _source_findings(config: Config) -> Iterator[Finding]:
    """One real poll of every source and a ping of the Pixoo, as the daemon would do."""
    with requests.Session() as session:
        polls = [(p.name, p.poll) for p in pollers(config, lambda: session)]
        if config.pixoo is not None:  # after the dashboard's sources, as the config line has it
            dashboard = sum(section is not None for section in (config.bus, config.weather))
            polls.insert(dashboard, ("pixoo", PixooClient(config.pixoo, session, time.time).ping))
        for name, poll in polls:
            outcome = poll()
            if outcome.ok:
                latency = f" in {outcome.latency_seconds * 1000:.0f} ms" \
                    if outcome.latency_seconds is not None else ""
                yield Finding(name, True, f"answered{latency}")
            else:
                yield Finding(name, False, f"{outcome.error_type}: {outcome.detail}")


def _reported_findings(config: Config, secrets: Secrets) -> Iterator[Finding]:
    """A line for each component that reports in instead of being polled: what it must
    send, where, and (for a heartbeat) how soon silence alerts."""
    listen = config.hub.http_listen
    if not listen:
        return  # the status line already failed, naming them
    address = parse_listen(listen)
    if address is None:
        return  # named by the status line
    base = _base_url(address)
    how = f" with 'Authorization: Bearer <{TOKEN_ENV}>'" if secrets.hub_http_token else ""
    where = f"; only this machine can reach {listen}" if address.is_loopback else ""
    for heartbeat in config.heartbeats:
        silence = config.heartbeat_policy(heartbeat).failures_before_alert \
            * heartbeat.silence_limit_seconds
        yield Finding(heartbeat.name, True,
                      f"heartbeat: expects POST {base}/ping/{heartbeat.name}{how} every "
                      f"{duration(heartbeat.period_seconds)} (+ "
                      f"{duration(heartbeat.grace_seconds)} grace): alerts after "
                      f"{duration(silence)} without one{where}")
    for threshold in config.thresholds:
        if threshold.is_pushed:
            yield Finding(threshold.name, True,
                          f"threshold: expects POST {base}/api/metric/{threshold.name}{how} "
                          f'{{"value": <number>}}{where}')
