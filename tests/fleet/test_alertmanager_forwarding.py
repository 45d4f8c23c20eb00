"""`[alertmanager]` against the real Alertmanager: an incident is listed firing, then
resolved; Alertmanager restarted mid-incident loses nothing; a two-node cluster that
receives the same incident notifies once; silences show in the hub's status."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from hub.app import Daemon
from hub.config import Config, load_config
from hub.fleet.forward import AlertStore, Forwarder
from hub.secrets import Secrets
from machines import Notice, NoticeKind
from tests.daemon import Lines, write_hub_toml
from tests.fleet.alertmanagers import Node, Receiver, node_running, prepared
from tests.fleet.binaries import ALERTMANAGER, eventually, get_json, needs_alertmanager, run_tool

#: Posts again every half second: the tests see a restarted Alertmanager refilled soon.
RESEND_SECONDS = 0.5


def incident_notice(kind: NoticeKind, incident: str, at: float) -> Notice:
    component = incident.split("#", 1)[0]
    return Notice(kind=kind, component=component, at=at, failures=3,
                  error_type="http_503", error_detail="503 Service Unavailable",
                  first_failure_at=at - 120, incident=incident)


def hub_config(folder: Path, alertmanager_url: str) -> Config:
    folder.mkdir(parents=True, exist_ok=True)
    extra = (f'\n[alertmanager]\nurl = "{alertmanager_url}"\n'
             f"resend_seconds = {RESEND_SECONDS}\n")
    return load_config(write_hub_toml(folder, None, hub_name="cabin", extra=extra))


async def with_hub(tmp_path: Path, alertmanager_url: str,
                   scenario: Callable[[Daemon, str], Awaitable[None]]) -> None:
    """A running hub named cabin forwarding to `alertmanager_url`, for `scenario`."""
    daemon = Daemon(hub_config(tmp_path, alertmanager_url), Secrets(), Lines(30.0).write)
    info = await daemon.start(asyncio.Event())
    assert info is not None and info.status_url is not None
    try:
        await scenario(daemon, info.status_url)
    finally:
        await daemon.stop(drain_seconds=1.0)


def listed(alerts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {a["labels"]["incident"]: a for a in alerts if "incident" in a["labels"]}


@needs_alertmanager
def test_an_incident_is_listed_firing_then_resolved(tmp_path):
    async def main() -> None:
        async with Receiver() as receiver, aiohttp.ClientSession() as session:
            node = prepared(tmp_path / "am", receiver.url)
            async with node_running(node, session):

                async def scenario(daemon: Daemon, _: str) -> None:
                    daemon.accept(incident_notice(NoticeKind.ALERT, "web#1",
                                                  daemon.parts.clock()))

                    async def firing() -> dict[str, Any] | None:
                        return listed(await node.alerts(session)).get("web#1")

                    alert = await eventually(firing, "Alertmanager to list web#1")
                    assert alert["labels"] == {
                        "alertname": "DivoomHubIncident", "hub": "cabin",
                        "component": "web", "severity": "warning", "incident": "web#1"}
                    assert alert["status"]["state"] == "active"
                    assert alert["annotations"]["summary"] == (
                        "web on cabin is failing: http_503 (503 Service Unavailable)")
                    await eventually(lambda: _first(receiver, "firing"),
                                     "the webhook to be told it fires")

                    daemon.accept(incident_notice(NoticeKind.RECOVERY, "web#1",
                                                  daemon.parts.clock()))

                    async def gone() -> bool | None:
                        return True if "web#1" not in listed(await node.alerts(session)) \
                            else None

                    await eventually(gone, "Alertmanager to resolve web#1")
                    await eventually(lambda: _first(receiver, "resolved"),
                                     "the webhook to be told it is resolved")
                    assert receiver.statuses() == [("firing", ("web#1",)),
                                                   ("resolved", ("web#1",))]
                    status = daemon.publish_status()
                    assert status.fleet.forwarding is not None
                    assert status.fleet.forwarding.open_alerts == 0

                await with_hub(tmp_path / "hub", node.url, scenario)

    asyncio.run(main())


async def _first(receiver: Receiver, status: str) -> bool | None:
    return True if any(s == status for s, _ in receiver.statuses()) else None


@needs_alertmanager
def test_alertmanager_restarted_mid_incident_loses_nothing(tmp_path):
    """Down while one incident is open and another opens: both are listed once it is
    back (the first posted again, the second kept until it could be), then resolved."""

    async def main() -> None:
        async with Receiver() as receiver, aiohttp.ClientSession() as session:
            node = prepared(tmp_path / "am", receiver.url)

            async def incidents() -> set[str]:
                return set(listed(await node.alerts(session)))

            async def scenario(daemon: Daemon, status_url: str) -> None:
                forwarder = daemon.parts.forwarder
                assert forwarder is not None
                async with node_running(node, session):
                    daemon.accept(incident_notice(NoticeKind.ALERT, "web#1",
                                                  daemon.parts.clock()))
                    await eventually(lambda: _has(incidents, {"web#1"}), "web#1 listed")
                # Stopped: its alerts are gone with it (Alertmanager keeps none on disk).
                daemon.accept(incident_notice(NoticeKind.ALERT, "nas#1",
                                              daemon.parts.clock()))

                async def refused() -> bool | None:
                    return True if forwarder.last_error else None

                await eventually(refused, "the post to fail while Alertmanager is down")
                assert forwarder.status().waiting == 1 and forwarder.status().open_alerts == 2
                daemon.publish_status()
                async with session.get(f"{status_url}/metrics") as response:
                    metrics = await response.text()
                assert "divoom_hub_alertmanager_waiting 1.0" in metrics
                assert "divoom_hub_alertmanager_open_incidents 2.0" in metrics
                async with node_running(node, session):
                    await eventually(lambda: _has(incidents, {"web#1", "nas#1"}),
                                     "both incidents listed after the restart")
                    assert forwarder.status().waiting == 0
                    for incident in ("web#1", "nas#1"):
                        daemon.accept(incident_notice(NoticeKind.RECOVERY, incident,
                                                      daemon.parts.clock()))
                    await eventually(lambda: _has(incidents, set()), "both resolved")

            await with_hub(tmp_path / "hub", node.url, scenario)

    asyncio.run(main())


async def _has(incidents: Callable[[], Awaitable[set[str]]], expected: set[str]) -> bool | None:
    return True if await incidents() == expected else None


@needs_alertmanager
def test_a_two_node_cluster_notifies_once_for_the_same_incident(tmp_path):
    """The hub's incident reaches both nodes (a second forwarder posts it to the second
    node); the webhook hears it fire once, then hears it resolved."""

    async def main() -> None:
        async with Receiver() as receiver, aiohttp.ClientSession() as session:
            first = prepared(tmp_path / "am1", receiver.url, clustered=True)
            second = prepared(tmp_path / "am2", receiver.url, clustered=True)
            async with node_running(first, session, peers=[second]), \
                    node_running(second, session, peers=[first]):
                await eventually(lambda: _peers(session, first, 2), "the cluster to form")

                async def scenario(daemon: Daemon, _: str) -> None:
                    await _twice(tmp_path, daemon, (first, second), session, receiver)

                await with_hub(tmp_path / "hub", first.url, scenario)

    asyncio.run(main())


async def _grown(session: aiohttp.ClientSession, node: Node, sample: str,
                 before: float) -> bool | None:
    return True if await node.metric(session, sample) > before else None


async def _peers(session: aiohttp.ClientSession, node: Node, count: int) -> bool | None:
    status = await get_json(session, f"{node.url}/api/v2/status")
    return True if len(status["cluster"]["peers"]) == count else None


#: What each node counts: its pipeline's looks into the notification log (each flush of
#: the group, after the node's wait for its peers: the dedup decision), and what it sent.
#: (The recovery is not counted: a node whose flush began before the recovery reached it
#: and ended after its peer notified it sees "firing" still, and says so once more; a
#: trait of Alertmanager's cluster, which the hub cannot change.)
NFLOG_QUERIES = "alertmanager_nflog_queries_total"
SENT = 'alertmanager_notifications_total{integration="webhook"}'


async def _twice(tmp_path: Path, daemon: Daemon, nodes: tuple[Node, Node],
                 session: aiohttp.ClientSession, receiver: Receiver) -> None:
    """The same incident reaches the second node too: through a second forwarder with its
    own store, as Prometheus sends every alert to every node. Both nodes must have
    decided twice (looked into the notification log after their wait) before the
    notifications are counted: one, on the receiver and by the nodes."""
    second = nodes[1]
    config = daemon.parts.config
    assert config.alertmanager is not None
    other = Forwarder(replace(config.alertmanager, url=second.url),
                      AlertStore(tmp_path / "second.sqlite"), "cabin", daemon.parts.clock)
    stop = asyncio.Event()
    task = asyncio.create_task(other.run(stop))
    try:
        firing = incident_notice(NoticeKind.ALERT, "web#1", daemon.parts.clock())
        daemon.accept(firing)
        other.record(firing)
        await eventually(lambda: _first(receiver, "firing"), "the webhook to hear it fire")
        # Two more decisions by each node (the second one's after its wait for the first
        # one's notification to gossip over): nobody notifies it again.
        for _ in range(2):
            before = [await node.metric(session, NFLOG_QUERIES) for node in nodes]
            for node, queried in zip(nodes, before, strict=True):
                await eventually(lambda n=node, q=queried: _grown(  # type: ignore[misc]
                    session, n, NFLOG_QUERIES, q), f"{node.url} to decide again")
        sent = [await node.metric(session, SENT) for node in nodes]
        assert sorted(sent) == [0.0, 1.0]
        assert receiver.statuses() == [("firing", ("web#1",))]
        recovery = incident_notice(NoticeKind.RECOVERY, "web#1", daemon.parts.clock())
        daemon.accept(recovery)
        other.record(recovery)
        await eventually(lambda: _first(receiver, "resolved"), "the webhook to hear it end")
    finally:
        stop.set()
        await task
        other.close()


@needs_alertmanager
def test_a_silence_made_with_amtool_shows_in_the_hub_status(tmp_path):
    amtool = str(Path(ALERTMANAGER or "").with_name("amtool"))

    async def main() -> None:
        async with Receiver() as receiver, aiohttp.ClientSession() as session:
            node = prepared(tmp_path / "am", receiver.url)
            async with node_running(node, session):

                async def scenario(daemon: Daemon, status_url: str) -> None:
                    daemon.accept(incident_notice(NoticeKind.ALERT, "web#1",
                                                  daemon.parts.clock()))
                    code, output = await asyncio.to_thread(
                        run_tool, amtool, f"--alertmanager.url={node.url}", "silence", "add",
                        "--author=ops", "--comment=router swap", "--duration=2h",
                        "hub=cabin", "component=web")
                    assert code == 0, output

                    async def shown() -> list[dict[str, Any]] | None:
                        body = await get_json(session, f"{status_url}/api/status")
                        return body["alertmanager"]["silences"] or None

                    silences = await eventually(shown, "the silence in /api/status")
                    assert [(s["matchers"], s["created_by"], s["comment"])
                            for s in silences] == [
                        (['hub="cabin"', 'component="web"'], "ops", "router swap")]
                    async with session.get(status_url + "/") as response:
                        page = await response.text()
                    assert "router swap" in page
                    assert html.escape('hub="cabin", component="web"') in page

                await with_hub(tmp_path / "hub", node.url, scenario)

    asyncio.run(main())
