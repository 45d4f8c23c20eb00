"""The hub's own failures (docs/alerting-rules.md): the started notice carries the
version; a crash sends the stopped notice with the exception's type and message, secrets
hidden, and the daemon exits non-zero so that systemd starts it again."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from hub import installed_version
from hub.app import DaemonInfo, run_daemon
from hub.config import load_config
from hub.secrets import Secrets
from tests.daemon import Lines, write_hub_toml

TOKEN = "s3cret-http-token-0123456789"


class Boom(RuntimeError):
    """What a part of the daemon raised."""


def test_a_crash_sends_stopped_with_the_error_and_no_secret_then_raises(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="hub.app")
    config = load_config(write_hub_toml(tmp_path, None, http_listen=""))
    console = Lines(wait_seconds=30.0)

    def crash(info: DaemonInfo) -> None:  # runs on the daemon's loop once it is ready
        raise Boom(f"the token {TOKEN} went missing")

    async def run() -> int:
        return await run_daemon(config, Secrets(hub_http_token=TOKEN), console.write,
                                asyncio.Event(), on_ready=crash, drain_seconds=5.0)

    with pytest.raises(Boom):
        asyncio.run(run())
    started, stopped = console.lines[0], console.lines[-1]
    assert "STARTED" in started and f"version: {installed_version()}" in started
    assert "STOPPED" in stopped
    assert "reason: crash" in stopped
    assert "error: Boom: the token *** went missing" in stopped
    assert all(TOKEN not in line for line in console.lines)
    # On the console each notice is printed once: no log line repeats it.
    assert not [r for r in caplog.records if r.getMessage().startswith("notice: ")]


def test_every_notice_is_one_log_line_while_discord_is_unreachable(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="hub.app")
    config = load_config(write_hub_toml(tmp_path, None, http_listen=""))
    closed = socket.socket()  # a port nothing answers on: Discord is unreachable
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    secrets = Secrets(discord_webhook_url="https://discord.com/api/webhooks/1/tok",
                      discord_api_base=f"http://127.0.0.1:{port}/api/v10")

    def crash(info: DaemonInfo) -> None:
        raise Boom("gone")

    async def run() -> int:
        return await run_daemon(config, secrets, lambda _: None, asyncio.Event(),
                                on_ready=crash, drain_seconds=0.5)

    with pytest.raises(Boom):
        asyncio.run(run())
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("notice: ")]
    assert logged[0].startswith("notice: started test-hub")
    assert logged[-1] == "notice: stopped test-hub (reason: crash; error: Boom: gone)"


def test_a_requested_stop_says_so_and_names_no_error(tmp_path):
    config = load_config(write_hub_toml(tmp_path, None, http_listen=""))
    console = Lines(wait_seconds=30.0)

    async def run() -> int:
        stop = asyncio.Event()
        return await run_daemon(config, Secrets(), console.write, stop,
                                on_ready=lambda info: stop.set(), drain_seconds=5.0)

    assert asyncio.run(run()) == 0
    assert "reason: stop requested" in console.lines[-1]
    assert "error:" not in console.lines[-1]
