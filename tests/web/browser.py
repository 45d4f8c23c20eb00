"""Headless Chromium for the status page's browser tests.

CI installs Debian's `chromium` (.ci/run); tests skip with `needs_chromium` without it.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from PIL import Image

from hub.web.server import StatusServer

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason="needs Debian's chromium at /usr/bin/chromium "
                                           "(apt-get install chromium; CI installs it)")
#: Generous for a loaded CI machine; a pass never waits this long.
BROWSER_SECONDS = 45.0


async def chromium(tmp_path: Path, *arguments: str) -> bytes:
    """Run headless Chromium to completion and return its stdout."""
    process = await asyncio.create_subprocess_exec(
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}", *arguments,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOME": str(tmp_path)})
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), BROWSER_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, stderr.decode(errors="replace")[-2000:]
    return stdout


def screenshot(server: StatusServer, tmp_path: Path, width: int, height: int) -> Image.Image:
    """The page `/` of `server` as Chromium draws it in a `width` × `height` window."""
    shot = tmp_path / "page.png"

    async def take() -> None:
        async with server:
            await chromium(tmp_path, f"--screenshot={shot}", f"--window-size={width},{height}",
                           server.url + "/")

    asyncio.run(take())
    with Image.open(shot) as image:
        return image.convert("RGB")
