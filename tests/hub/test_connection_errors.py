"""A connection that fails reads the same whoever failed: Discord, Entur, MET, the Pixoo.

The errors are the libraries' own, raised by real `requests` and `aiohttp` code talking to
a closed local port, or, for a name that does not resolve, by aiohttp asking a resolver
(its network seam) that knows no names.
"""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
import pytest
import requests

from hub.connection_errors import UNKNOWN_HOST, connection_reason
from hub.notify.transport import RetryableError
from hub.notify.webhook import Webhook, WebhookTransport
from hub.sources.bus import BusSettings, BusSource

WEBHOOK_URL = "https://discord.com/api/webhooks/112233445566778899/Xq7-s3cr3t_T0ken-9fZ"


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was just released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_discord_and_entur_say_alike_that_the_connection_was_refused():
    port = closed_port()
    transport = WebhookTransport(Webhook.parse(WEBHOOK_URL), f"http://127.0.0.1:{port}/api")

    async def send() -> None:
        try:
            await transport.send({"content": "hello"}, [])
        finally:
            await transport.close()

    with pytest.raises(RetryableError) as caught:
        asyncio.run(send())
    settings = BusSettings(client_name="divoomhub-tests", quays=("NSR:Quay:1",), labels=("A",),
                           endpoint=f"http://127.0.0.1:{port}/graphql", timeout_seconds=2.0)
    with requests.Session() as session:
        outcome = BusSource(session, settings, time.time).poll()
    assert str(caught.value) == "cannot reach Discord: connection refused"
    assert caught.value.error_type == "connect"
    assert (outcome.error_type, outcome.detail) == ("connect",
                                                    "cannot reach Entur: connection refused")


class KnowsNoNames(aiohttp.abc.AbstractResolver):
    """A resolver for which no name exists, as DNS answers for a mistyped host."""

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[dict[str, object]]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def close(self) -> None:
        return None


def test_an_unknown_host_is_named_in_words_not_by_the_class_of_aiohttps_error():
    async def get() -> BaseException:
        connector = aiohttp.TCPConnector(resolver=KnowsNoNames())
        async with aiohttp.ClientSession(connector=connector) as session:
            try:
                await session.get("https://discord.invalid/api")
            except aiohttp.ClientError as err:
                return err
        raise AssertionError("the request did not fail")

    err = asyncio.run(get())
    assert type(err).__name__ == "ClientConnectorDNSError"
    assert connection_reason(err) == UNKNOWN_HOST == "unknown host (name or service not known)"


def test_requests_wraps_the_same_unknown_host_three_levels_deep_and_says_the_same():
    from urllib3.connection import HTTPConnection
    from urllib3.exceptions import MaxRetryError, NameResolutionError

    # How urllib3 2 reports a failed lookup (as raised for "nonexistent.invalid").
    lookup = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    failed = NameResolutionError("nonexistent.invalid", HTTPConnection("nonexistent.invalid"),
                                 lookup)
    err = requests.ConnectionError(MaxRetryError(None, "/", failed))
    assert connection_reason(err) == UNKNOWN_HOST


def test_without_a_known_cause_the_words_say_only_that_it_could_not_connect():
    assert connection_reason(aiohttp.ClientConnectionError("something odd")) == "cannot connect"
