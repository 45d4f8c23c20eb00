"""An asyncio event loop whose clock is virtual, for tests of real sockets and timers.

`loop.time()` starts at 0 and moves only when the loop has nothing to do: no callback
is ready and no I/O arrives within a short real grace period. Then the clock jumps
straight to the next timer. So `asyncio.sleep(3600)`, a 2 s rate-limit window, a
`retry_after`, a backoff or aiohttp's 10 s request timeout all pass in a few real
milliseconds, and a time recorded on the loop is exact — while real sockets on
127.0.0.1 (client and fake server on the same loop) keep working as usual.

The grace period is what makes this safe on a busy machine: a request or an answer in
flight on the loopback interface lands within it, so the clock never jumps past I/O
that is merely late. (A ready-made package exists for this, but its pytest plugin
breaks every fixture unless pytest-asyncio is installed too; this is 40 lines.)
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any

#: Real seconds to wait for in-flight loopback I/O before the clock may jump: far above
#: the microseconds loopback takes, far below anything a test would notice.
GRACE_SECONDS = 0.005


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self, grace_seconds: float = GRACE_SECONDS) -> None:
        super().__init__()
        self._virtual_now = 0.0
        self._grace_seconds = grace_seconds
        selector: selectors.BaseSelector = self._selector  # type: ignore[attr-defined]
        real_select = selector.select

        def select(timeout: float | None = None) -> list[tuple[Any, int]]:
            ready = real_select(0)
            if ready or timeout == 0:
                return ready
            if timeout is None:  # no timer at all: only I/O can wake the loop
                return real_select(None)
            ready = real_select(min(timeout, self._grace_seconds))
            if not ready:  # idle: jump to the next timer
                self._virtual_now += timeout
            return ready

        selector.select = select  # type: ignore[method-assign]

    def time(self) -> float:
        return self._virtual_now


def virtual_time_runner() -> asyncio.Runner:
    """An `asyncio.Runner` on a `VirtualTimeLoop`; use it as a context manager."""
    return asyncio.Runner(loop_factory=VirtualTimeLoop)
