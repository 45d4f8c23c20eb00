"""The bot's gateway session, supervised: connected, reconnected, and reported.

discord.py resumes or re-identifies a dropped gateway session by itself (with its own
jittered exponential backoff); whatever still ends a session (a failed login, a refused
IDENTIFY, an unreachable Discord) is caught by the supervisor here, which logs it and
starts a new session after an exponential backoff with jitter, forever — only a rejected
token stops it, loudly. Every connect and disconnect is an `Outcome` of the `discord`
component, so an outage alerts like any other (on the console log at once, in Discord once
it is back).

The session hands what the gateway delivers to others: each message to `on_message`, and
the slash commands it registers (synced with Discord once per process, at the first
session) come from `slash_commands`. Sends borrow its client (`client_for_sending`) and
are told at once whether one can be made.

The Message Content intent is privileged. When the application does not have it
(Developer Portal → Bot → Message Content Intent), the session starts again without it
and calls `on_message_content_missing` (which says in the log what is lost); slash
commands keep working, while messages then arrive with empty text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import discord
from discord import app_commands

from hub.formatting import duration
from hub.notify.discord.errors import describe
from hub.notify.discord.settings import BotSettings, discord_endpoints, message_content_granted
from hub.notify.transport import PermanentError, RetryableError
from machines import Outcome

log = logging.getLogger(__name__)

#: discord.py waits out a 429 shorter than this inside the request (its minimum is 30 s);
#: a longer one is raised to `Delivery`, which waits without blocking anything else.
MAX_RATELIMIT_WAIT_SECONDS = 30.0
#: A send waits this long for the bot to be logged in before counting as a failure.
LOGIN_WAIT_SECONDS = 10.0
#: Supervisor backoff between sessions: 2 s, 4 s, 8 s … capped at 10 min, ±25 % jitter so
#: many hubs behind one outage do not come back in lock step.
RECONNECT_FIRST_SECONDS = 2.0
RECONNECT_MAX_SECONDS = 600.0
#: On shutdown the gateway session gets this long to close before it is abandoned.
CLOSE_SECONDS = 5.0
#: While the gateway stays down, one more failed `discord` outcome per this period: an
#: outage alerts after `failures_before_alert` periods, while a routine reconnect (which
#: can fire two disconnect events within a second) stays a blip that sends nothing.
DOWN_REPORT_SECONDS = 20.0
#: Discord's own wait for the guild list after READY; tests make it tiny.
GUILD_READY_TIMEOUT_SECONDS = 2.0
COMPONENT = "discord"

SlashCommand = app_commands.Command[Any, Any, None]


class _RestartWithoutMessageContent(Exception):
    """The session asked for an intent the application lacks: start again without it."""


class GatewaySession:
    """One gateway session at a time, kept alive and reported; see the module docstring."""

    def __init__(self, settings: BotSettings, *,
                 on_message: Callable[[discord.Message], Awaitable[None]],
                 slash_commands: Callable[[], Sequence[SlashCommand]],
                 on_message_content_missing: Callable[[], None],
                 clock: Callable[[], float], report: Callable[[Outcome], None] | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None,
                 guild_ready_timeout: float = GUILD_READY_TIMEOUT_SECONDS) -> None:
        self._settings = settings
        self._on_message = on_message
        self._slash_commands = slash_commands
        self._on_message_content_missing = on_message_content_missing
        self._clock = clock
        self._report = report
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        self._guild_ready_timeout = guild_ready_timeout
        self._endpoints = contextlib.ExitStack()
        self._client: _HubClient | None = None
        self._logged_in = False
        # Set when a send can be decided: logged in, stopped for good, or waiting to retry.
        self._settled = asyncio.Event()
        self._closing = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._wants_message_content = True
        self._commands_synced = False
        self._down_since: float | None = None
        self._down_reports: asyncio.Task[None] | None = None
        self._connected = False
        self._session_failures = 0
        self._stopped_because = ""

    def __repr__(self) -> str:
        return "GatewaySession(***)"

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start the supervised connection on the running loop."""
        if self._supervisor is None:
            # The hub never joins voice: discord.py's "PyNaCl/davey is not installed" warnings
            # would only confuse owners. These are the flags it clears after warning once.
            discord.VoiceClient.warn_nacl = False
            discord.VoiceClient.warn_dave = False
            self._endpoints.enter_context(discord_endpoints(self._settings.api_base,
                                                            self._settings.gateway_url))
            self._supervisor = asyncio.create_task(self._supervise(), name="discord-bot")

    async def close(self) -> None:
        self._closing.set()
        self._settled.set()
        client = self._client
        if client is not None:
            await client.close()
        if self._supervisor is not None:
            # Closing the client ends its session cleanly (close code 1000); a supervisor
            # caught between sessions, or a close that hangs, is cancelled instead.
            done, _ = await asyncio.wait([self._supervisor], timeout=CLOSE_SECONDS)
            if not done:
                log.warning("the Discord connection did not close in time; abandoning it")
                self._supervisor.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._supervisor
        reports = self._down_reports
        self._stop_down_reports()
        if reports is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await reports
        self._endpoints.close()

    @property
    def latency_seconds(self) -> float | None:
        """The gateway's heartbeat round trip; None while not connected."""
        client = self._client
        if client is None or not self._connected:
            return None
        latency = client.latency
        return latency if math.isfinite(latency) else None

    @property
    def message_content_enabled(self) -> bool:
        return self._wants_message_content

    @property
    def user_id(self) -> int | None:
        """The bot's own user id, once logged in (Discord echoes the bot's own posts)."""
        client = self._client
        own = client.user if client is not None else None
        return own.id if own is not None else None

    async def client_for_sending(self) -> discord.Client:
        """The logged-in client, for a REST send; raises `TransportError` when there is none.

        Waits while a session is being set up; fails at once while the supervisor waits to
        retry, so Delivery backs off instead of the send hanging.
        """
        try:
            async with asyncio.timeout(LOGIN_WAIT_SECONDS):
                await self._settled.wait()
        except TimeoutError:
            raise RetryableError("not logged in to Discord yet", "connect") from None
        if self._stopped_because:
            raise PermanentError(self._stopped_because, "auth")
        client = self._client
        if not self._logged_in or client is None or client.is_closed():
            raise RetryableError("not connected to Discord (reconnecting)", "connect")
        return client

    # --- the supervisor -----------------------------------------------------------------

    async def _supervise(self) -> None:
        while not self._closing.is_set():
            self._settled.clear()
            intents = discord.Intents.none()
            intents.guilds = True
            intents.guild_messages = True
            intents.message_content = self._wants_message_content
            client = _HubClient(self, intents)
            self._client = client
            error: BaseException | None = None
            try:
                async with client:
                    await client.login(self._settings.token)
                    if self._closing.is_set():
                        return
                    if self._wants_message_content and \
                            not message_content_granted(client.application_flags):
                        raise _RestartWithoutMessageContent
                    self._logged_in = True
                    self._settled.set()
                    await client.connect(reconnect=True)
            except (_RestartWithoutMessageContent, discord.PrivilegedIntentsRequired):
                self._wants_message_content = False
                self._on_message_content_missing()
                continue
            except discord.LoginFailure:
                self._stop_for_good("Discord rejected the bot token (DISCORD_BOT_TOKEN): "
                                    "reset it in the Developer Portal and restart the hub")
                return
            except discord.ConnectionClosed as err:
                if err.code == 4004:
                    self._stop_for_good("Discord's gateway rejected the bot token "
                                        "(close code 4004): reset it and restart the hub")
                    return
                error = err
            except (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError) as err:
                error = err
            finally:
                self._logged_in = False
                self._connected = False
            if self._closing.is_set():
                return
            # Reset only by a working connection, so a session that logs in and is then
            # refused at once does not loop at the first step's pace.
            self._session_failures += 1
            delay = min(RECONNECT_FIRST_SECONDS * 2.0 ** (self._session_failures - 1),
                        RECONNECT_MAX_SECONDS)
            delay *= self._rng.uniform(0.75, 1.25)
            reason = describe(error)
            log.error("the Discord session ended (%s); starting a new one in %.0f s",
                      reason, delay)
            self._mark_down("session", f"session ended: {reason}")
            self._settled.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=delay)

    def _stop_for_good(self, reason: str) -> None:
        self._stopped_because = reason
        self._settled.set()
        log.error("Discord bot stopped: %s", reason)
        self._report_outcome(False, "auth", reason)

    # --- events from the client -----------------------------------------------------------

    def _on_connected(self, how: str) -> None:
        self._connected = True
        self._session_failures = 0
        self._stop_down_reports()
        if self._down_since is not None:
            log.info("Discord gateway connection %s after %s", how,
                     duration(self._monotonic() - self._down_since))
            self._down_since = None
        else:
            log.info("connected to Discord's gateway")
        self._report_outcome(True)

    def _on_disconnected(self) -> None:
        self._mark_down("gateway", "gateway connection lost")

    def _mark_down(self, error_type: str, detail: str) -> None:
        """Report an outage once as it starts, then every `DOWN_REPORT_SECONDS`."""
        self._connected = False
        if self._closing.is_set() or self._down_since is not None:
            return
        self._down_since = self._monotonic()
        log.warning("lost the Discord gateway connection (%s); reconnecting", detail)
        self._report_outcome(False, error_type, detail)
        self._down_reports = asyncio.create_task(self._report_while_down(),
                                                 name="discord-down")

    async def _report_while_down(self) -> None:
        while self._down_since is not None:
            await asyncio.sleep(DOWN_REPORT_SECONDS)
            self._report_outcome(False, "gateway", "no gateway connection for "
                                 f"{duration(self._monotonic() - self._down_since)}")

    def _stop_down_reports(self) -> None:
        if self._down_reports is not None:
            self._down_reports.cancel()
            self._down_reports = None

    async def _sync_commands(self, client: _HubClient) -> None:
        if self._commands_synced:
            return
        try:
            await client.tree.sync()
        except (discord.DiscordException, aiohttp.ClientError, OSError) as err:
            # Not fatal: the `status` message command works, the next session retries.
            log.warning("could not register /status with Discord: %s", describe(err))
            return
        self._commands_synced = True

    def _report_outcome(self, ok: bool, error_type: str = "", detail: str = "") -> None:
        if self._report is None or self._closing.is_set():
            return
        self._report(Outcome(component=COMPONENT, ok=ok, at=self._clock(),
                             error_type=error_type, detail=detail))


class _HubClient(discord.Client):
    """One gateway session's discord.py client; the session outlives it."""

    def __init__(self, session: GatewaySession, intents: discord.Intents) -> None:
        super().__init__(intents=intents, max_ratelimit_timeout=MAX_RATELIMIT_WAIT_SECONDS,
                         guild_ready_timeout=session._guild_ready_timeout,
                         chunk_guilds_at_startup=False)
        self._session = session
        self.tree = app_commands.CommandTree(self)
        for command in session._slash_commands():
            self.tree.add_command(command)

    async def setup_hook(self) -> None:
        await self._session._sync_commands(self)

    async def on_connect(self) -> None:
        self._session._on_connected("restored")

    async def on_resumed(self) -> None:
        self._session._on_connected("resumed")

    async def on_disconnect(self) -> None:
        self._session._on_disconnected()

    async def on_message(self, message: discord.Message) -> None:
        await self._session._on_message(message)
