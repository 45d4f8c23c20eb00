"""How the status server starts, in words the daemon can use without loading aiohttp:
its errors, and how long it waits for an address that is taken (`PortWait`).

`hub.app` and `hub.demo` name these whether or not `[hub] http_listen` runs a server, so
they live apart from `hub.web.server` (aiohttp and prometheus-client are loaded only by a
configuration that serves the page).
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass


class StatusServerError(RuntimeError):
    """The server cannot start as configured; the message says what to change."""


class AddressUnavailable(StatusServerError):
    """The address stayed taken (or absent) through the whole `PortWait`: a later start
    may find it free, so this is no configuration error."""


#: The system errors that may clear by themselves: another program still holds the
#: port (the previous hub shutting down, a service starting at boot), or the address is
#: not there yet (a LAN address before DHCP has answered).
MAY_CLEAR = {errno.EADDRINUSE: "the address is in use by another program",
              errno.EADDRNOTAVAIL: "this machine has no such address (yet)"}


@dataclass(frozen=True, slots=True)
class PortWait:
    """How long `StatusServer.start` keeps trying an address that may clear by itself:
    waits of `first_seconds`, doubling up to `max_seconds`, `seconds` in all (0: fail at
    once). `sleep` waits; tests pass one that lets no real time pass."""

    seconds: float = 0.0
    first_seconds: float = 1.0
    max_seconds: float = 10.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def delays(self) -> Iterator[float]:
        """The waits between attempts: 1, 2, 4, 8, 10, 10, … s, `seconds` in all."""
        waited, delay = 0.0, self.first_seconds
        while waited < self.seconds:
            step = min(delay, self.max_seconds, self.seconds - waited)
            yield step
            waited += step
            delay *= 2


#: Fail at once when the address is taken (what a test or a one-off server wants).
NO_WAIT = PortWait()
