"""What a transport promises, and how its failures are told apart.

    TransportError            a message did not go through
     ├── PermanentError       will not work until the owner acts (webhook deleted,
     │                        token rejected): stop sending, keep the notices, say so
     ├── PayloadRejected      Discord refused this message (HTTP 400): retrying the same
     │                        bytes cannot help, so its notices are dropped with a log line
     ├── MessageGone          the message an edit was for no longer exists (HTTP 404,
     │                        Unknown Message: someone deleted it): the edit is dropped
     └── RetryableError       try again later (5xx, reset, timeout)
          └── RateLimited     HTTP 429; `retry_after` says when, `is_global` if global

Error messages never contain a token, a webhook URL or a channel id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from hub.notify.console import console_line
from machines import Notice

#: Discord's JSON error code for a message that does not exist (any more).
UNKNOWN_MESSAGE = 10008


class TransportError(Exception):
    permanent = False

    def __init__(self, message: str, error_type: str = "error") -> None:
        super().__init__(message)
        self.error_type = error_type


class PermanentError(TransportError):
    permanent = True


class PayloadRejected(TransportError):
    pass


class MessageGone(TransportError):
    pass


class RetryableError(TransportError):
    def __init__(self, message: str, error_type: str = "error",
                 retry_after: float | None = None) -> None:
        super().__init__(message, error_type)
        self.retry_after = retry_after


class RateLimited(RetryableError):
    def __init__(self, message: str, retry_after: float, is_global: bool) -> None:
        super().__init__(message, "http_429", retry_after)
        self.is_global = is_global


class Transport(Protocol):
    """Sends one message payload (embeds + allowed_mentions); raises `TransportError`.

    `send` returns the id of the message Discord made (None when there is none to edit,
    as on the console); `edit` replaces that message's embeds (an incident's alert message
    kept current). A payload's `message_reference` asks for a reply where the transport
    can post one.

    Every transport has the same life, so the daemon treats them alike: `start` begins
    what it runs beside sending, on the running loop (the bot's gateway session; nothing
    for the others), `close` ends it, and `latency_seconds` is its live round trip to
    Discord (None when it keeps no connection to measure, or it is down).
    """

    name: str

    @property
    def latency_seconds(self) -> float | None: ...

    def start(self) -> None: ...

    async def send(self, payload: dict[str, Any], notices: list[Notice]) -> str | None: ...

    async def edit(self, message_id: str, payload: dict[str, Any]) -> None: ...

    async def close(self) -> None: ...


class ConsoleTransport:
    """Used when neither a webhook nor a bot is configured: one line per notice."""

    name = "console"

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    @property
    def latency_seconds(self) -> None:
        return None  # nothing but a console in between

    def start(self) -> None:
        return None

    async def send(self, payload: dict[str, Any], notices: list[Notice]) -> None:
        for notice in notices:
            self._write(console_line(notice))

    async def edit(self, message_id: str, payload: dict[str, Any]) -> None:
        return None  # a console line cannot change; `send` gives no id to edit anyway

    async def close(self) -> None:
        return None
