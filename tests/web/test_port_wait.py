"""A status address that is taken when the server starts: tried again with backoff for a
bounded while, then a clear error naming the setting. A real socket holds the port; the
waits between attempts are injected, so no real time passes."""

from __future__ import annotations

import asyncio
import logging
import socket
import urllib.request

import pytest

from hub.status.model import HubStatus
from hub.web.server import AddressUnavailable, PortWait, StatusServer, StatusServerError


def held_port() -> socket.socket:
    """A listening socket on 127.0.0.1, as another program holding the port would have."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder


class Waits:
    """The injected wait: records each delay, and releases the port at the `release_at`-th."""

    def __init__(self, holder: socket.socket, release_at: int | None = None) -> None:
        self.holder = holder
        self.release_at = release_at
        self.delays: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        if len(self.delays) == self.release_at:
            self.holder.close()


def published() -> HubStatus:
    return HubStatus(hub_name="test-hub", at=0.0, started_at=0.0, machines=(), delivery=None,
                     outbox_depth=0)


def server_on(port: int) -> StatusServer:
    return StatusServer(f"127.0.0.1:{port}", published, clock=lambda: 0.0)


def test_a_port_freed_while_waiting_is_taken_and_served(caplog):
    caplog.set_level(logging.INFO, logger="hub.web.server")
    holder = held_port()
    port = holder.getsockname()[1]
    waits = Waits(holder, release_at=2)
    server = server_on(port)

    async def start_and_ask() -> int:
        await server.start(PortWait(seconds=60, sleep=waits.sleep))
        try:
            answer = await asyncio.to_thread(urllib.request.urlopen,
                                             f"http://127.0.0.1:{port}/health", timeout=10)
            with answer:
                return int(answer.status)
        finally:
            await server.stop()

    assert asyncio.run(start_and_ask()) == 200
    assert waits.delays == [1, 2]  # the port was free at the third attempt
    said = [r.getMessage() for r in caplog.records
            if r.name == "hub.web.server" and r.levelno >= logging.WARNING]
    assert said == [f"cannot listen on 127.0.0.1:{port} ([hub] http_listen): the address is "
                    "in use by another program; trying again for up to 60 s"]
    assert f"127.0.0.1:{port} ([hub] http_listen) is free now" in caplog.text


def test_a_port_that_stays_taken_is_given_up_after_the_wait_with_what_to_do():
    with held_port() as holder:
        port = holder.getsockname()[1]
        waits = Waits(holder)
        with pytest.raises(AddressUnavailable) as caught:
            asyncio.run(server_on(port).start(PortWait(seconds=60, sleep=waits.sleep)))
    assert waits.delays == [1, 2, 4, 8, 10, 10, 10, 10, 5]
    assert sum(waits.delays) == 60
    assert str(caught.value) == (
        f"cannot listen on 127.0.0.1:{port} ([hub] http_listen): the address is in use by "
        f"another program, still after 60 s; stop that program (`ss -ltnp 'sport = :{port}'` "
        "names it) or give [hub] http_listen another port")


def test_without_a_wait_a_taken_port_fails_at_once_naming_the_setting_it_came_from():
    with held_port() as holder:
        port = holder.getsockname()[1]
        server = StatusServer(f"127.0.0.1:{port}", published, setting="--http-listen")
        with pytest.raises(StatusServerError) as caught:
            asyncio.run(server.start())
    assert not isinstance(caught.value, AddressUnavailable)
    assert str(caught.value) == (
        f"cannot listen on 127.0.0.1:{port} (--http-listen): the address is in use by another "
        f"program; stop that program (`ss -ltnp 'sport = :{port}'` names it) or give "
        "--http-listen another port")


def test_an_address_not_on_this_machine_is_waited_for_as_at_boot_before_dhcp_answers():
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    # 192.0.2.1 is TEST-NET-1: documentation only, never an address of this machine.
    server = StatusServer("192.0.2.1:8787", published, token="a-token")
    with pytest.raises(AddressUnavailable) as caught:
        asyncio.run(server.start(PortWait(seconds=3, sleep=sleep)))
    assert delays == [1, 2]
    assert str(caught.value) == (
        "cannot listen on 192.0.2.1:8787 ([hub] http_listen): this machine has no such address "
        "(yet), still after 3 s; give [hub] http_listen one of this machine's addresses, or "
        "0.0.0.0 for all")
