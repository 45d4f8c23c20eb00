"""The Discord webhook transport (`DISCORD_WEBHOOK_URL`), on aiohttp.

`discord.SyncWebhook` is not used: it passes no timeout to `requests` and only accepts
discord.com URLs (DESIGN.md). Every request here has a timeout, uses `?wait=true` so
acceptance is confirmed, and honours Discord's rate limits: the bucket headers are
remembered and a send waits for the bucket to reset instead of provoking a 429; a 429
that happens anyway raises `RateLimited` with the server's `retry_after`.

`send` returns the id of the posted message (the `?wait=true` answer) and `edit` changes
it with `PATCH /webhooks/{id}/{token}/messages/{message id}`: an incident's alert message
kept current. A webhook cannot post a reply, so a payload's `message_reference` is left
out.

The webhook URL holds a secret token: it is never logged or put in an error message.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from hub.connection_errors import connection_reason
from hub.notify.transport import (
    UNKNOWN_MESSAGE,
    MessageGone,
    PayloadRejected,
    PermanentError,
    RateLimited,
    RetryableError,
)
from machines import Notice

DEFAULT_API_BASE = "https://discord.com/api/v10"
_WEBHOOK_URL = re.compile(
    r"^https://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api(?:/v\d+)?"
    r"/webhooks/(?P<id>\d+)/(?P<token>[\w-]+)/?$")
#: Discord answers in well under a second; 10 s means the path is broken, not slow.
REQUEST_TIMEOUT_SECONDS = 10.0


class WebhookUrlError(ValueError):
    """The configured webhook URL is not one (the message never repeats it)."""


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    token: str

    def __repr__(self) -> str:
        return f"Webhook(id={self.id[:4]}…, token=***)"

    @classmethod
    def parse(cls, url: str) -> Webhook:
        match = _WEBHOOK_URL.match(url.strip())
        if match is None:
            raise WebhookUrlError(
                "DISCORD_WEBHOOK_URL is not a Discord webhook URL (expected "
                "https://discord.com/api/webhooks/<id>/<token>; copy it from the channel's "
                "Integrations → Webhooks settings)")
        return cls(id=match["id"], token=match["token"])


class WebhookTransport:
    name = "webhook"

    def __init__(self, webhook: Webhook, api_base: str = DEFAULT_API_BASE,
                 timeout_seconds: float = REQUEST_TIMEOUT_SECONDS) -> None:
        self._url = f"{api_base.rstrip('/')}/webhooks/{webhook.id}/{webhook.token}"
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None
        self._bucket_empty_until = 0.0  # loop time at which the bucket refills

    def __repr__(self) -> str:
        return "WebhookTransport(***)"

    @property
    def latency_seconds(self) -> None:
        return None  # one request per message, no connection kept to measure

    def start(self) -> None:
        return None  # the session opens with the first send

    def seconds_until_ready(self) -> float:
        """How long until the bucket refills, as Discord's headers announced (0: now)."""
        return max(self._bucket_empty_until - asyncio.get_running_loop().time(), 0.0)

    async def send(self, payload: dict[str, Any], notices: list[Notice]) -> str | None:
        """Post one message; the id Discord gave it (None if its answer named none)."""
        body = {k: v for k, v in payload.items() if k != "message_reference"}
        answer = await self._request("POST", self._url, body, params={"wait": "true"})
        message_id = answer.get("id")
        return str(message_id) if message_id is not None else None

    async def edit(self, message_id: str, payload: dict[str, Any]) -> None:
        """Replace the embeds of message `message_id`, posted by this webhook."""
        body = {k: v for k, v in payload.items() if k != "message_reference"}
        await self._request("PATCH", f"{self._url}/messages/{message_id}", body,
                            editing=True)

    async def _request(self, method: str, url: str, body: dict[str, Any], *,
                       params: dict[str, str] | None = None,
                       editing: bool = False) -> dict[str, Any]:
        # Delivery asks `seconds_until_ready` first; this wait is for any other caller.
        wait = self.seconds_until_ready()
        if wait > 0:
            await asyncio.sleep(wait)
        loop = asyncio.get_running_loop()
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        requesting = self._session.request(method, url, params=params, json=body)
        async with _discord_errors(), requesting as response:
            self._remember_bucket(response.headers, loop.time())
            answer = await _json_or_empty(response)
            if response.status in (200, 204):
                return answer
            if editing and response.status == 404 and answer.get("code") == UNKNOWN_MESSAGE:
                raise MessageGone("the alert message was deleted (HTTP 404, Unknown Message)",
                                  "http_404")
            raise _error_for(response.status, response.headers, answer)

    async def verify(self) -> str:
        """Check the webhook exists and the token works, without posting; returns its name."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        async with _discord_errors(), self._session.get(self._url) as response:
            body = await _json_or_empty(response)
            if response.status == 200:
                return str(body.get("name") or "unnamed webhook")
            raise _error_for(response.status, response.headers, body)

    def _remember_bucket(self, headers: Any, now: float) -> None:
        remaining = headers.get("X-RateLimit-Remaining")
        reset_after = headers.get("X-RateLimit-Reset-After")
        if remaining is None or reset_after is None:
            return
        try:
            if int(remaining) <= 0:
                self._bucket_empty_until = now + float(reset_after)
        except ValueError:
            return

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


@contextlib.asynccontextmanager
async def _discord_errors() -> AsyncIterator[None]:
    """Network failures talking to Discord, as retryable transport errors."""
    try:
        yield
    except TimeoutError:
        raise RetryableError("Discord did not answer in time", "timeout") from None
    except aiohttp.ClientConnectionError as err:
        raise RetryableError(f"cannot reach Discord: {connection_reason(err)}", "connect") from None
    except aiohttp.ClientError as err:
        raise RetryableError(f"request to Discord failed: {type(err).__name__}",
                             "error") from None


async def _json_or_empty(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        body = await response.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        return {}
    return body if isinstance(body, dict) else {}


def _error_for(status: int, headers: Any, body: dict[str, Any]) -> Exception:
    message = str(body.get("message", ""))[:200]
    if status == 429:
        retry_after = _float(body.get("retry_after")) or _float(headers.get("Retry-After")) or 1.0
        is_global = bool(body.get("global")) or headers.get("X-RateLimit-Global") == "true"
        scope = "global rate limit" if is_global else "rate limited"
        return RateLimited(f"Discord: {scope}, retry after {retry_after:g} s",
                           retry_after, is_global)
    if status == 404:
        return PermanentError("the webhook was deleted (HTTP 404): create a new one and set "
                              "DISCORD_WEBHOOK_URL", "http_404")
    if status in (401, 403):
        return PermanentError(f"Discord rejected the webhook token (HTTP {status})",
                              f"http_{status}")
    if status == 400:
        return PayloadRejected(f"Discord refused the message (HTTP 400): {message}", "http_400")
    return RetryableError(f"Discord answered HTTP {status}", f"http_{status}",
                          _float(headers.get("Retry-After")))


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
