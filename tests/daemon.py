"""Helpers for tests that run the whole daemon (`run_daemon` in process, or `python -m hub
run`): a hub.toml with one HTTP monitor, and the console lines of an in-process daemon."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path


def toml_value(value: str | float) -> str:
    """A TOML scalar: a bool, a number as Python writes it, a string in basic quotes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def write_hub_toml(tmp_path: Path, url: str | None, *, hub_name: str = "test-hub",
                   http_listen: str = "127.0.0.1:0",
                   policy: Mapping[str, str | float] | None = None,
                   every_seconds: float = 0.1, timeout_seconds: float = 0.5,
                   extra: str = "") -> Path:
    """`tmp_path/hub.toml`: state under `tmp_path/state`, a `[policy]` table when given,
    one HTTP monitor `web` polling `url` (none when `url` is None), then `extra` as is.

    `http_listen` defaults to a free port, for the status page the daemon serves; "" turns
    the page off.
    """
    lines = ["[hub]", f"name = {toml_value(hub_name)}", 'state_dir = "state"',
             f"http_listen = {toml_value(http_listen)}"]
    if policy is not None:
        lines += ["", "[policy]", *(f"{key} = {toml_value(value)}"
                                    for key, value in policy.items())]
    if url is not None:
        lines += ["", "[[monitor]]", 'kind = "http"', 'name = "web"', f"url = {toml_value(url)}",
                  f"every_seconds = {toml_value(every_seconds)}",
                  f"timeout_seconds = {toml_value(timeout_seconds)}"]
    path = tmp_path / "hub.toml"
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


class Lines:
    """Console lines of an in-process daemon, with a way to wait for one."""

    def __init__(self, wait_seconds: float) -> None:
        self.lines: list[str] = []
        self.wait_seconds = wait_seconds
        self._written = asyncio.Event()

    def write(self, line: str) -> None:  # called on the daemon's loop
        self.lines.append(line)
        self._written.set()

    async def wait_for(self, text: str) -> str:
        """The first line containing `text`, once there is one (at most `wait_seconds`)."""
        async with asyncio.timeout(self.wait_seconds):
            while True:
                found = [line for line in self.lines if text in line]
                if found:
                    return found[0]
                self._written.clear()
                await self._written.wait()
