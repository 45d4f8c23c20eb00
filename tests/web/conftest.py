"""Helpers for the status server's tests: a published status, a frame, real HTTP."""

from __future__ import annotations

import asyncio
import io
import json
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from PIL import Image

from hub.notify.delivery import DeliveryStatus
from hub.status.model import HubStatus
from hub.status.recorder import StatusRecorder
from hub.web.server import StatusServer
from machines import HealthState, Notice, NoticeKind, Outcome, Snapshot

NOW = 1_700_000_000.0
T = TypeVar("T")
#: The frame's marker: a block of this colour, 16 × 16 Pixoo pixels at (8, 20).
MARKER = (255, 0, 255)


def snap(component: str, state: HealthState, since: float = NOW - 600, **extra: Any) -> Snapshot:
    return Snapshot(component=component, state=state, since=since, **extra)


def published(*machines: Snapshot, at: float = NOW,
              delivery: DeliveryStatus | None = None, outbox_depth: int = 0,
              notices: tuple[Notice, ...] = (), outcomes: tuple[Outcome, ...] = (),
              discord_latency_seconds: float | None = None) -> HubStatus:
    """A status as the owner publishes it, through the real recorder."""
    recorder = StatusRecorder("shelf-pi", NOW - 7200)
    for notice in notices:
        recorder.notice(notice)
    for outcome in outcomes:
        recorder.outcome(outcome)
    return recorder.publish(at, machines, delivery or DeliveryStatus("webhook", "idle", "", 0, 0),
                            outbox_depth, discord_latency_seconds)


def weather_alert(at: float = NOW - 300) -> Notice:
    return Notice(kind=NoticeKind.ALERT, component="weather", at=at, failures=3,
                  failing_for_seconds=120, error_type="http_503",
                  error_detail="503 Service Unavailable")


def frame_png() -> bytes:
    """A 64 × 64 frame: dark, with a marker block and a gradient row to check scaling."""
    image = Image.new("RGB", (64, 64), (12, 14, 30))
    for x in range(64):
        image.putpixel((x, 0), (x * 4, 255 - x * 4, 0))
    for x in range(8, 24):
        for y in range(20, 36):
            image.putpixel((x, y), MARKER)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


async def request(session: aiohttp.ClientSession, method: str, url: str,
                  **kwargs: Any) -> Reply:
    async with session.request(method, url, **kwargs) as response:
        return Reply(response.status, dict(response.headers), await response.read())


def serving(server: StatusServer,
            scenario: Callable[[aiohttp.ClientSession, str], Awaitable[T]]) -> T:
    """Start `server` on a fresh loop, run `scenario(session, base_url)`, stop everything."""

    async def main() -> T:
        async with server, aiohttp.ClientSession() as session:
            return await scenario(session, server.url)

    return asyncio.run(main())


def call(server: StatusServer, method: str, path: str, **kwargs: Any) -> Reply:
    """One real HTTP request to a freshly started `server`."""
    return serving(server, lambda session, base: request(session, method, base + path,
                                                          **kwargs))


def raw_exchange(port: int, data: bytes) -> tuple[int, bytes]:
    """Send `data` as is on a fresh connection to 127.0.0.1:`port` (blocking): the
    answer's status and whole response. For requests no HTTP client would send."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(data)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    response = b"".join(chunks)
    status_line = response.split(b"\r\n", 1)[0]
    # aiohttp answers a request it cannot parse as HTTP/1.0.
    assert status_line.startswith((b"HTTP/1.1 ", b"HTTP/1.0 ")), response[:200]
    return int(status_line.split()[1]), response


def raw_call(server: StatusServer, data: bytes) -> tuple[int, bytes]:
    """`raw_exchange` with a freshly started `server`."""

    async def scenario(_: aiohttp.ClientSession, base: str) -> tuple[int, bytes]:
        return await asyncio.to_thread(raw_exchange, int(base.rsplit(":", 1)[1]), data)

    return serving(server, scenario)
