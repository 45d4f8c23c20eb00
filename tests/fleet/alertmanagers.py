"""Real Alertmanagers for the fleet tests: one node or a two-node cluster, each with a
webhook receiver (a local aiohttp server that keeps every notification it gets)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.fleet.binaries import ALERTMANAGER, Process, free_port, ready, running


class Receiver:
    """A webhook receiver: Alertmanager's notifications (payload version 4), in order."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._runner: web.AppRunner | None = None

    async def _hook(self, request: web.Request) -> web.Response:
        self.notifications.append(await request.json())
        return web.Response(status=200)

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def statuses(self) -> list[tuple[str, tuple[str, ...]]]:
        """Each notification's status and the incidents (or alertnames) it carries."""
        return [(n["status"], tuple(a["labels"].get("incident", a["labels"]["alertname"])
                                    for a in n["alerts"])) for n in self.notifications]


def alertmanager_yml(webhook_url: str, *, bearer: str = "") -> str:
    """Route everything to one webhook, grouped by incident, notified at once."""
    auth = (f"        http_config:\n          authorization:\n"
            f"            credentials: {bearer!r}\n") if bearer else ""
    return ("route:\n  receiver: hook\n  group_by: [alertname, incident]\n"
            "  group_wait: 200ms\n  group_interval: 1s\n  repeat_interval: 1h\n"
            "receivers:\n  - name: hook\n    webhook_configs:\n"
            f"      - url: {webhook_url!r}\n        send_resolved: true\n{auth}")


@dataclass(slots=True)
class Node:
    """One Alertmanager: where it listens, its files, and (while it runs) its process."""

    folder: Path
    port: int = field(default_factory=free_port)
    cluster_port: int | None = None
    process: Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def arguments(self, peers: Sequence[Node]) -> list[str]:
        assert ALERTMANAGER is not None
        arguments = [ALERTMANAGER, f"--config.file={self.folder / 'alertmanager.yml'}",
                     f"--storage.path={self.folder / 'data'}",
                     f"--web.listen-address=127.0.0.1:{self.port}"]
        if self.cluster_port is None:
            return [*arguments, "--cluster.listen-address="]
        return [*arguments, f"--cluster.listen-address=127.0.0.1:{self.cluster_port}",
                f"--cluster.advertise-address=127.0.0.1:{self.cluster_port}",
                # The second node waits this long for the first one's notification to
                # gossip over before sending its own (the dedup under test).
                "--cluster.peer-timeout=2s", "--cluster.gossip-interval=100ms",
                "--cluster.pushpull-interval=1s",
                *(f"--cluster.peer=127.0.0.1:{p.cluster_port}" for p in peers)]

    async def metric(self, session: aiohttp.ClientSession, sample: str) -> float:
        """The value of one sample of its /metrics (`name{labels}` as exposed), 0 if none."""
        async with session.get(f"{self.url}/metrics") as response:
            text = await response.text()
        for line in text.splitlines():
            if line.startswith(sample + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    async def alerts(self, session: aiohttp.ClientSession) -> list[dict[str, Any]]:
        async with session.get(f"{self.url}/api/v2/alerts") as response:
            response.raise_for_status()
            found: list[dict[str, Any]] = await response.json()
            return found


@contextlib.asynccontextmanager
async def node_running(node: Node, session: aiohttp.ClientSession,
                       peers: Sequence[Node] = ()) -> AsyncIterator[Node]:
    """Run `node` (its config already written) until the block ends."""
    async with running(node.arguments(peers),
                       node.folder / f"alertmanager-{node.port}.log") as process:
        node.process = process
        await ready(session, node.url, process)
        try:
            yield node
        finally:
            node.process = None


def prepared(folder: Path, webhook_url: str, *, clustered: bool = False) -> Node:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "alertmanager.yml").write_text(alertmanager_yml(webhook_url), encoding="utf-8")
    return Node(folder, cluster_port=free_port() if clustered else None)
