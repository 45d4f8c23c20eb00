"""The Discord bot transport (`DISCORD_BOT_TOKEN` + `DISCORD_MONITOR_CHANNEL_ID`), on discord.py.

It does three things on the daemon's event loop:

* **sends** the outbox's messages to the monitoring channel over REST (the same
  `Delivery` and outbox as the webhook), mapping discord.py's errors onto the
  `TransportError` tree: a rejected token (401, `LoginFailure`), a missing permission
  (403) or an unknown channel (404) are permanent; 5xx, resets and timeouts are
  retryable; a 429 becomes `RateLimited` with Discord's `retry_after`;
* **answers** `status` in the monitoring channel and `/status` (synced once per process at
  start-up) with the status embed, built from the `HubStatus` the daemon publishes — never
  from the machines themselves (see `hub.notify.commands` for channel and rate rules) —
  and the 24-hour timeline picture (`hub.timeline`) attached as `timeline.png` and shown
  as the embed's image. The picture is drawn on a worker thread, never on the loop; a
  drawing that fails costs the picture, never the reply. `/status` must be answered
  within Discord's 3 s: when the picture is not ready within `SLASH_DRAW_BUDGET_SECONDS`
  the bot defers ("thinking…") and sends the reply as the follow-up once it is. Without
  the Attach Files permission Discord refuses the picture (403): the reply then goes out
  without it, and the bot leaves it out for `ATTACH_RETRY_SECONDS`;
* **hands display-channel posts** (`DISCORD_CHANNEL_ID`) to the `DisplayChannel` it was
  given (`hub.display.messages`: who may post, what a post means, the `MessageBoard`) and
  replies to the poster with its short answer, without pinging anyone. The two channels
  never mix: a display-channel message is never read as a `status` command, and nothing
  posted in the monitoring channel reaches the display;
* **counts messages in watched channels** (`[[channel]]`, `DISCORD_WATCH_<NAME>`): each
  message there, from a person, a bot or a webhook but never the hub's own, goes to the
  `ChannelWatch` it was given (`hub.sources.channels`) and is nothing else — never a
  command, never a display post. The hub's own channels cannot be watched;
* **stays connected**: discord.py resumes or re-identifies a dropped gateway session by
  itself (with its own jittered exponential backoff); whatever still ends a session (a
  failed login, a refused IDENTIFY, an unreachable Discord) is caught by a supervisor that
  logs it and starts a new session after an exponential backoff with jitter, forever — only
  a rejected token stops it, loudly. Every connect and disconnect is an `Outcome` of the
  `discord` component, so an outage alerts like any other (on the console log at once,
  in Discord once it is back).

The **started** notice is not sent here: the daemon puts it in the outbox once per
process, so a reconnect never repeats it.

The Message Content intent is privileged. When the application does not have it
(Developer Portal → Bot → Message Content Intent), the bot says so in the log at
start-up, connects without it, and `/status` keeps working; the `status` message command
and display messages need the intent (without it Discord delivers every message with empty
text, which the bot then ignores).

discord.py's only seams for its endpoints are two class attributes,
`discord.http.Route.BASE` and `discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`;
`discord_endpoints` sets them for the transport's lifetime and restores them after.

The token and the channel id never appear in a log line, an error message or an embed.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from hub.connection_errors import connection_reason
from hub.history import ComponentHistory
from hub.notify.commands import Decision, RateLimiter, StatusCommands, Verdict
from hub.notify.embeds import duration
from hub.notify.status import HubStatus, status_embed
from hub.notify.transport import (
    PayloadRejected,
    PermanentError,
    RateLimited,
    RetryableError,
    TransportError,
)
from hub.timeline import timeline_png
from machines import Notice, Outcome

if TYPE_CHECKING:
    from hub.display.messages import DisplayChannel
    from hub.sources.channels import ChannelWatch

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"
#: discord.py waits out a 429 shorter than this inside the request (its minimum is 30 s);
#: a longer one is raised to `Delivery`, which waits without blocking anything else.
MAX_RATELIMIT_WAIT_SECONDS = 30.0
#: Bound on one send, above discord.py's own in-request waits (a ≤ 30 s 429 and its 5xx
#: retries of 1 + 3 + 5 + 7 + 9 s): past it the path is broken, not slow.
SEND_TIMEOUT_SECONDS = 60.0
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
#: The status reply's picture: the attachment's name and the embed image that shows it.
TIMELINE_FILENAME = "timeline.png"
#: Discord drops an interaction not answered within 3 s. The picture takes ≈ 15–130 ms on
#: the development machine (5 to 20 components, up to a change a minute all day), several
#: times that on a small Pi, and may wait for a worker thread busy with a slow poll: when
#: it is not ready in this long, /status defers and follows up, leaving ≥ 2 s for the
#: round trip of the deferral itself.
SLASH_DRAW_BUDGET_SECONDS = 1.0
#: Attaching needs the Attach Files permission; without it Discord answers 403 and the
#: reply goes out without the picture. Repeated 403s can get a host banned, so after one
#: the bot leaves the picture out for this long before trying again.
ATTACH_RETRY_SECONDS = 3600.0

_NO_MENTIONS = discord.AllowedMentions.none()


@dataclass(frozen=True, slots=True)
class BotSettings:
    token: str
    monitor_channel_id: int
    api_base: str = DEFAULT_API_BASE
    gateway_url: str = DEFAULT_GATEWAY_URL

    def __repr__(self) -> str:
        return "BotSettings(token=***, monitor_channel_id=***)"


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


class _RestartWithoutMessageContent(Exception):
    """The session asked for an intent the application lacks: start again without it."""


class BotTransport:
    """Sends to the monitoring channel and answers `status`; see the module docstring."""

    name = "bot"

    def __init__(self, settings: BotSettings, *, status: Callable[[], HubStatus | None],
                 clock: Callable[[], float], report: Callable[[Outcome], None] | None = None,
                 commands: StatusCommands | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None,
                 guild_ready_timeout: float = GUILD_READY_TIMEOUT_SECONDS,
                 display: DisplayChannel | None = None,
                 display_replies: RateLimiter | None = None,
                 channels: ChannelWatch | None = None,
                 zone: ZoneInfo | None = None,
                 draw_timeline: Callable[[Sequence[ComponentHistory], float, ZoneInfo | None],
                                         bytes] = timeline_png,
                 slash_draw_budget_seconds: float = SLASH_DRAW_BUDGET_SECONDS) -> None:
        if display is not None and display.channel_id == settings.monitor_channel_id:
            raise ValueError("the display channel and the monitoring channel must differ")
        if channels is not None and (settings.monitor_channel_id in channels or (
                display is not None and display.channel_id in channels)):
            raise ValueError("the hub's own channels cannot be watched channels")
        self._settings = settings
        self._display = display
        self._channels = channels
        # Answers in the display channel are limited per person like `status` replies, so
        # someone spamming it (allowed or not) cannot spend the bot's rate limit.
        self._display_replies = display_replies or RateLimiter()
        self._status = status
        self._clock = clock
        self._report = report
        self._commands = commands or StatusCommands(settings.monitor_channel_id)
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        self._guild_ready_timeout = guild_ready_timeout
        # The picture's wall clock (`[hub] timezone`; None: the system's zone), its
        # renderer, and how long /status waits for it before deferring.
        self._zone = zone
        self._draw_timeline = draw_timeline
        self._slash_draw_budget_seconds = slash_draw_budget_seconds
        self._drawing_failed = False
        self._attach_refused_at: float | None = None  # monotonic, of the last 403
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
        return "BotTransport(***)"

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
        client = self._client
        if client is None or not self._connected:
            return None
        latency = client.latency
        return latency if math.isfinite(latency) else None

    @property
    def message_content_enabled(self) -> bool:
        return self._wants_message_content

    # --- sending ------------------------------------------------------------------------

    async def send(self, payload: dict[str, Any], notices: list[Notice]) -> None:
        client = await self._rest_client()
        channel = client.get_partial_messageable(self._settings.monitor_channel_id)
        embeds = [discord.Embed.from_dict(embed) for embed in payload.get("embeds", [])]
        try:
            async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                await channel.send(content=payload.get("content") or None, embeds=embeds,
                                   allowed_mentions=_NO_MENTIONS)
        except TimeoutError:
            raise RetryableError("Discord did not answer in time", "timeout") from None
        except RuntimeError:
            # aiohttp's "Session is closed": the supervisor replaced the session mid-send.
            if client.is_closed():
                raise RetryableError("the Discord session was restarting", "connect") from None
            raise
        except (discord.DiscordException, aiohttp.ClientError, OSError) as err:
            raise transport_error(err) from None

    async def _rest_client(self) -> _HubClient:
        # Wait while a session is being set up; fail at once while the supervisor waits to
        # retry, so Delivery backs off instead of this send hanging.
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
                self._message_content_missing()
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
            reason = _describe(error)
            log.error("the Discord session ended (%s); starting a new one in %.0f s",
                      reason, delay)
            self._mark_down("session", f"session ended: {reason}")
            self._settled.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=delay)

    def _message_content_missing(self) -> None:
        self._wants_message_content = False
        display = (" and display messages posted in the display channel (DISCORD_CHANNEL_ID) "
                   "arrive empty and are ignored") if self._display is not None else ""
        if self._channels is not None:
            display += (", and watched channels ([[channel]]) count messages but cannot "
                        "match their keywords")
        log.warning(
            "the bot lacks the privileged Message Content intent, so the `status` message "
            "command cannot read messages%s; /status works. To enable them: Discord "
            "Developer Portal → your application → Bot → Privileged Gateway Intents → "
            "Message Content Intent, then restart the hub", display)

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
            log.warning("could not register /status with Discord: %s", _describe(err))
            return
        self._commands_synced = True

    def _report_outcome(self, ok: bool, error_type: str = "", detail: str = "") -> None:
        if self._report is None or self._closing.is_set():
            return
        self._report(Outcome(component=COMPONENT, ok=ok, at=self._clock(),
                             error_type=error_type, detail=detail))

    # --- the status command -----------------------------------------------------------------

    def _current_status(self) -> HubStatus | None:
        """The published status, stamped now and with the live gateway latency."""
        status = self._status()
        if status is None:
            return None
        return replace(status, at=self._clock(), discord_latency_seconds=self.latency_seconds)

    async def _draw(self, status: HubStatus) -> bytes | None:
        """The timeline picture, drawn on a worker thread; None when drawing failed or
        Discord lately refused the attachment."""
        if self._attach_refused_at is not None \
                and self._monotonic() - self._attach_refused_at < ATTACH_RETRY_SECONDS:
            return None
        try:
            png = await asyncio.to_thread(self._draw_timeline, status.history, status.at,
                                          self._zone)
        except Exception:  # noqa: BLE001 - the picture is an extra: whatever breaks it
            # must cost the picture, never the status reply; logged once per outbreak.
            if not self._drawing_failed:
                log.exception("drawing the timeline picture failed; the status reply goes "
                              "out without it")
            self._drawing_failed = True
            return None
        if self._drawing_failed:
            log.info("drawing the timeline picture works again")
            self._drawing_failed = False
        return png

    async def _send_status(self, send: Callable[..., Awaitable[object]], status: HubStatus,
                           png: bytes | None) -> None:
        """Send the status reply through `send` (a channel's, an interaction's or its
        follow-up's); without the picture when Discord refuses the attachment."""
        embed, files = status_reply(status, png)
        try:
            await send(embed=embed, files=files, allowed_mentions=_NO_MENTIONS)
            return
        except discord.Forbidden:
            if not files:
                raise
        self._attach_refused_at = self._monotonic()
        log.warning("Discord refused the status reply's timeline picture (HTTP 403: give the "
                    "bot Attach Files in the monitoring channel); answering without it, and "
                    "without pictures for the next %s", duration(ATTACH_RETRY_SECONDS))
        embed, files = status_reply(status, None)
        await send(embed=embed, files=files, allowed_mentions=_NO_MENTIONS)

    async def _on_message(self, message: discord.Message) -> None:
        if self._channels is not None and message.channel.id in self._channels:
            # A watched channel is only counted: never a command, never a display post.
            if not self._is_own(message):
                self._channels.on_message(message.channel.id, message_text(message),
                                          self._clock())
            return
        from_bot = message.author.bot or message.webhook_id is not None
        if self._display is not None and message.channel.id == self._display.channel_id:
            # The display channel is the display's alone: never a `status` command.
            if not from_bot:
                await self._on_display_message(self._display, message)
            return
        decision = self._commands.on_message(
            message.channel.id, message.author.id, message.content, from_bot,
            self._monotonic())
        if decision.verdict is Verdict.SLOW_DOWN:
            log.info("status command over the per-person limit; not answered")
        if decision.verdict is not Verdict.REPLY:
            return
        status = self._current_status()
        try:
            if status is None:
                await message.channel.send("The hub is still starting.",
                                           allowed_mentions=_NO_MENTIONS)
            else:
                await self._send_status(message.channel.send, status,
                                        await self._draw(status))
        except (discord.DiscordException, aiohttp.ClientError, OSError) as err:
            log.warning("could not answer the status command: %s", _describe(err))

    def _is_own(self, message: discord.Message) -> bool:
        """Whether the hub's bot posted `message` (Discord echoes the bot's own posts)."""
        client = self._client
        own = client.user if client is not None else None
        return own is not None and message.author.id == own.id

    async def _on_display_message(self, display: DisplayChannel,
                                  message: discord.Message) -> None:
        if not message.content.strip():
            # An image on its own, or any message while the Message Content intent is
            # missing (then the warning at start-up said why): nothing to show or refuse.
            return
        author = message.author
        role_ids = [role.id for role in author.roles] \
            if isinstance(author, discord.Member) else []
        try:
            answer = display.on_message(message.channel.id, author.id, role_ids,
                                        author.display_name, message.content, self._clock())
        except OSError as err:
            log.warning("could not save the display message: %s", err)
            answer = ("⚠️ The hub could not save this to disk (see its log): it may not "
                      "survive a restart.")
        if answer is None:
            return
        if self._display_replies.acquire(author.id, self._monotonic()) > 0.0:
            log.info("display channel answer over the per-person limit; not sent")
            return
        try:
            try:
                # A reply that points at the post without pinging its author (or anyone).
                await message.channel.send(
                    answer, reference=message.to_reference(fail_if_not_exists=False),
                    mention_author=False, allowed_mentions=_NO_MENTIONS)
            except discord.Forbidden:
                # Replies need Read Message History; without it a plain answer still helps.
                log.info("could not reply in the display channel (HTTP 403: give the bot "
                         "Read Message History there); answering without the reply")
                await message.channel.send(answer, allowed_mentions=_NO_MENTIONS)
        except (discord.DiscordException, aiohttp.ClientError, OSError) as err:
            log.warning("could not answer in the display channel: %s", _describe(err))

    async def _on_slash_status(self, interaction: discord.Interaction[Any]) -> None:
        decision = self._commands.on_slash(interaction.channel_id, interaction.user.id,
                                           self._monotonic())
        try:
            await self._answer_slash(interaction, decision)
        except (discord.DiscordException, aiohttp.ClientError, OSError) as err:
            log.warning("could not answer /status: %s", _describe(err))

    async def _answer_slash(self, interaction: discord.Interaction[Any],
                            decision: Decision) -> None:
        if decision.verdict is not Verdict.REPLY:
            await interaction.response.send_message(decision.refusal_text(), ephemeral=True,
                                                    allowed_mentions=_NO_MENTIONS)
            return
        status = self._current_status()
        if status is None:
            await interaction.response.send_message("The hub is still starting.",
                                                    ephemeral=True,
                                                    allowed_mentions=_NO_MENTIONS)
            return
        drawing = asyncio.create_task(self._draw(status), name="status-timeline")
        try:
            done, _ = await asyncio.wait([drawing],
                                         timeout=self._slash_draw_budget_seconds)
            if done:
                await self._send_status(interaction.response.send_message, status,
                                        drawing.result())
                return
            # Too slow for Discord's 3 s deadline: show "thinking…", then follow up.
            await interaction.response.defer(thinking=True)
            await self._send_status(interaction.followup.send, status, await drawing)
        finally:
            if not drawing.done():  # the answer failed: nobody will see the picture
                drawing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await drawing


def status_reply(status: HubStatus, png: bytes | None
                 ) -> tuple[discord.Embed, list[discord.File]]:
    """The status embed, with the timeline picture attached and shown when there is one."""
    embed = discord.Embed.from_dict(status_embed(status))
    if png is None:
        return embed, []
    embed.set_image(url=f"attachment://{TIMELINE_FILENAME}")
    return embed, [discord.File(io.BytesIO(png), filename=TIMELINE_FILENAME)]


class _HubClient(discord.Client):
    """One gateway session's discord.py client; the transport outlives it."""

    def __init__(self, transport: BotTransport, intents: discord.Intents) -> None:
        super().__init__(intents=intents, max_ratelimit_timeout=MAX_RATELIMIT_WAIT_SECONDS,
                         guild_ready_timeout=transport._guild_ready_timeout,
                         chunk_guilds_at_startup=False)
        self._transport = transport
        self.tree = app_commands.CommandTree(self)

        async def status(interaction: discord.Interaction[Any]) -> None:
            await transport._on_slash_status(interaction)

        command: app_commands.Command[Any, Any, None] = app_commands.Command(
            name="status", description="Every watched component's state, and the hub's",
            callback=status)
        self.tree.add_command(app_commands.guild_only(command))

    async def setup_hook(self) -> None:
        await self._transport._sync_commands(self)

    async def on_connect(self) -> None:
        self._transport._on_connected("restored")

    async def on_resumed(self) -> None:
        self._transport._on_connected("resumed")

    async def on_disconnect(self) -> None:
        self._transport._on_disconnected()

    async def on_message(self, message: discord.Message) -> None:
        await self._transport._on_message(message)


def message_text(message: discord.Message) -> str:
    """What a watched message says: its text and its embeds' titles, descriptions, fields.

    Feeds posted by bots and webhooks often carry everything in an embed.
    """
    parts = [message.content or ""]
    for embed in message.embeds:
        parts += [embed.title or "", embed.description or ""]
        for embed_field in embed.fields:
            parts += [embed_field.name or "", embed_field.value or ""]
    return "\n".join(part for part in parts if part)


def transport_error(err: BaseException) -> TransportError:
    """The `TransportError` for a discord.py / aiohttp failure of a message send."""
    if isinstance(err, discord.RateLimited):
        return RateLimited(f"Discord: rate limited, retry after {err.retry_after:g} s",
                           err.retry_after, is_global=False)
    if isinstance(err, discord.Forbidden):
        return PermanentError("the bot may not post in the monitoring channel (HTTP 403): "
                              "give it View Channel, Send Messages and Embed Links there",
                              "http_403")
    if isinstance(err, discord.NotFound):
        return PermanentError("the monitoring channel does not exist or the bot is not in its "
                              "server (HTTP 404): check DISCORD_MONITOR_CHANNEL_ID", "http_404")
    if isinstance(err, discord.HTTPException):
        status = err.status
        if status == 429:  # a 429 without rate-limit details: Cloudflare in front of Discord
            retry_after = _header_seconds(err.response, "Retry-After") or 60.0
            return RateLimited(f"Discord refused with HTTP 429, retry after {retry_after:g} s",
                               retry_after, is_global=True)
        if status == 401:
            return PermanentError("Discord rejected the bot token (HTTP 401)", "http_401")
        if status == 400:
            return PayloadRejected(f"Discord refused the message (HTTP 400): "
                                   f"{str(err.text)[:200]}", "http_400")
        return RetryableError(f"Discord answered HTTP {status}", f"http_{status}",
                              _header_seconds(err.response, "Retry-After"))
    if isinstance(err, discord.LoginFailure):
        return PermanentError("Discord rejected the bot token", "auth")
    if isinstance(err, aiohttp.ClientError | OSError):
        return RetryableError(f"cannot reach Discord: {connection_reason(err)}", "connect")
    return RetryableError(f"Discord failed: {type(err).__name__}", "error")


def _header_seconds(response: Any, name: str) -> float | None:
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        value = headers.get(name)
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _describe(err: BaseException | None) -> str:
    """A short reason without secrets: discord.py's messages hold no token or URL."""
    if err is None:
        return "closed"
    if isinstance(err, discord.ConnectionClosed):
        return f"gateway closed with code {err.code}"
    if isinstance(err, discord.HTTPException):
        return f"HTTP {err.status}"
    if isinstance(err, discord.RateLimited):
        return f"rate limited for {err.retry_after:g} s"
    if isinstance(err, TimeoutError):
        return "no answer in time"
    if isinstance(err, aiohttp.ClientConnectionError | OSError):
        return connection_reason(err)
    return type(err).__name__


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
                return [("bot", False, f"cannot log in to Discord: {_describe(err)}")]
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
        return (subject, False, f"cannot read the {label}: {_describe(err)}")
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
                                f"read: {_describe(err)}")
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
