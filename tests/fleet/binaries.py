"""The real Prometheus and Alertmanager (Debian's packages), run as child processes.

CI installs `prometheus` and `prometheus-alertmanager` (.ci/run); a test that needs one
skips, naming the package, only when its binary is not on this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest

T = TypeVar("T")

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"

needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None or PROMTOOL is None,
    reason="the prometheus and promtool binaries are not installed "
           "(apt-get install prometheus; .ci/run does)")
needs_alertmanager = pytest.mark.skipif(
    ALERTMANAGER is None,
    reason="the prometheus-alertmanager binary is not installed "
           "(apt-get install prometheus-alertmanager; .ci/run does)")

#: How long a real server gets to start or to show what a test waits for. Prometheus
#: and Alertmanager start in about a second; a busy CI machine may take many more.
DEADLINE_SECONDS = 40.0
#: How often a condition on a real server is looked at again while a test waits.
POLL_SECONDS = 0.1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def eventually(check: Callable[[], Awaitable[T | None]],
                     what: str, seconds: float = DEADLINE_SECONDS) -> T:
    """The first value `check` returns that is not None, looked for until `seconds` pass."""
    last: BaseException | None = None
    try:
        async with asyncio.timeout(seconds):
            while True:
                try:
                    found = await check()
                except (aiohttp.ClientError, OSError) as err:  # not up yet
                    last, found = err, None
                if found is not None:
                    return found
                await asyncio.sleep(POLL_SECONDS)
    except TimeoutError:
        raise AssertionError(f"waited {seconds:g} s for {what}"
                             + (f" (last error: {last})" if last else "")) from None


@dataclass(slots=True)
class Process:
    """A child process whose output is kept for the failure message."""

    process: asyncio.subprocess.Process
    log: Path

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                async with asyncio.timeout(15):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]


@contextlib.asynccontextmanager
async def running(arguments: Sequence[str], log: Path) -> AsyncIterator[Process]:
    """Run `arguments` until the block ends (then terminate it and wait)."""
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            *arguments, stdin=asyncio.subprocess.DEVNULL, stdout=sink, stderr=sink)
    child = Process(process, log)
    try:
        yield child
    finally:
        await child.stop()


async def get_json(session: aiohttp.ClientSession, url: str, **kwargs: Any) -> Any:
    async with session.get(url, **kwargs) as response:
        response.raise_for_status()
        return await response.json()


async def ready(session: aiohttp.ClientSession, base: str, child: Process) -> None:
    """Wait until the server at `base` says it is ready (`/-/ready`, both speak it)."""

    async def check() -> bool | None:
        if child.process.returncode is not None:
            raise AssertionError(f"exited with {child.process.returncode}:\n{child.output()}")
        async with session.get(f"{base}/-/ready") as response:
            return True if response.status == 200 else None

    await eventually(check, f"{base} to be ready")


def run_tool(*arguments: str, cwd: Path | None = None) -> tuple[int, str]:
    """Run a command line tool (promtool, amtool) to its end: exit code and output."""
    done = subprocess.run(arguments, cwd=cwd, capture_output=True, text=True, timeout=60,
                          check=False)
    return done.returncode, done.stdout + done.stderr
