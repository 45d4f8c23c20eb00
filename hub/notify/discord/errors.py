"""discord.py's and aiohttp's failures in the hub's words.

`transport_error` maps a failed send onto the `TransportError` tree (hub/notify/transport.py):
a rejected token (401, `LoginFailure`), a missing permission (403) or an unknown channel
(404) are permanent; a refused message (400) is rejected; 5xx, resets and timeouts are
retryable; a 429 becomes `RateLimited` with Discord's `retry_after`. `describe` is the short
reason a log line or a `check` line gives. Neither ever holds the token, a URL or a channel
id: discord.py's messages hold none, and the channel is named by its variable.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import discord

from hub.connection_errors import connection_reason
from hub.notify.transport import (
    PayloadRejected,
    PermanentError,
    RateLimited,
    RetryableError,
    TransportError,
)


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


def describe(err: BaseException | None) -> str:
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
