"""A fleet's worth of metrics: the real Prometheus scraping 50 hubs' `/metrics`.

Each simulated hub is the real status server (hub/web/server.py) on its own loopback
port, publishing a status as a busy hub would (`--components` machines, some failing,
notices of every kind, latencies, a watched channel), all on this process' loop. A real
`prometheus` (Debian's) scrapes them every second with deploy/prometheus' rules loaded.
Prints, per hub, the `/metrics` size and samples, Prometheus' scrape duration
(`scrape_duration_seconds`: median, 95th percentile, max over the run) and what serving
one `/metrics` costs the hub. Asserts nothing.

    .venv/bin/python bench/fleet_scrape.py [--hubs 50] [--seconds 30] [--components 12]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from hub.notify.delivery import DeliveryStatus
from hub.sources.channels import ChannelActivity
from hub.status.model import HubStatus
from hub.status.recorder import StatusRecorder
from hub.web.server import StatusServer
from machines import HealthState, Notice, NoticeKind, Outcome, Snapshot

RULES = Path(__file__).resolve().parents[1] / "deploy" / "prometheus" / "divoom-hub.rules.yml"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def busy_status(name: str, components: int, now: float) -> HubStatus:
    """A hub with `components` machines (every fourth failing), notices and latencies."""
    recorder = StatusRecorder(name, now - 86_400)
    names = [f"monitor-{i:02d}" for i in range(components)]
    for index, component in enumerate(names):
        recorder.outcome(Outcome.success(component, now - 5, latency_seconds=0.05 * index))
    for kind in (NoticeKind.ALERT, NoticeKind.REMINDER, NoticeKind.RECOVERY,
                 NoticeKind.DIAGNOSTIC, NoticeKind.STARTED):
        recorder.notice(Notice(kind=kind, component=names[0], at=now - 60))
    states = (HealthState.HEALTHY, HealthState.HEALTHY, HealthState.SUSPECT,
              HealthState.ALERTING)
    machines = tuple(Snapshot(component=c, state=states[i % 4], since=now - 600,
                              failures=3 if i % 4 == 3 else 0) for i, c in enumerate(names))
    channels = (ChannelActivity(name="deploys", component="", day="2026-11-30",
                                messages_today=12, keyword_matches_today=3,
                                keyword_counts=(("deploy*", 2), ("rollback", 1)),
                                last_message_at=now - 30),)
    return recorder.publish(now, machines, DeliveryStatus("webhook", "idle", "", 40, 1), 2,
                            discord_latency_seconds=0.08, channels=channels)


def prometheus_yml(targets: list[tuple[str, int]]) -> str:
    lines = "\n".join(f"      - targets: ['127.0.0.1:{port}']\n        labels: {{hub: {name}}}"
                      for name, port in targets)
    return ("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"rule_files: ['{RULES}']\n"
            f"scrape_configs:\n  - job_name: divoom-hub\n    static_configs:\n{lines}\n")


async def query(session: aiohttp.ClientSession, base: str, expression: str) -> list[Any]:
    async with session.get(f"{base}/api/v1/query", params={"query": expression}) as reply:
        body = await reply.json()
    result: list[Any] = body["data"]["result"]
    return result


async def run(hubs: int, seconds: float, components: int, prometheus: str) -> None:
    now = time.time()
    statuses = {f"hub-{i:02d}": busy_status(f"hub-{i:02d}", components, now)
                for i in range(hubs)}
    servers = {name: StatusServer("127.0.0.1:0", lambda s=status: s,
                                  clock=lambda s=status: s.at)  # type: ignore[misc]
               for name, status in statuses.items()}
    for server in servers.values():
        await server.start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "prometheus.yml"
        config.write_text(prometheus_yml([(n, int(s.url.rsplit(":", 1)[1]))
                                          for n, s in servers.items()]), encoding="utf-8")
        process = await asyncio.create_subprocess_exec(
            prometheus, f"--config.file={config}", f"--storage.tsdb.path={folder}/tsdb",
            f"--web.listen-address=127.0.0.1:{port}",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            async with aiohttp.ClientSession() as session:
                sizes, serve_ms = [], []
                for server in servers.values():
                    started = time.perf_counter()
                    async with session.get(f"{server.url}/metrics") as reply:
                        sizes.append(len(await reply.read()))
                    serve_ms.append((time.perf_counter() - started) * 1000)
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    try:
                        if len(await query(session, base, "up == 1")) == hubs:
                            break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.2)
                await asyncio.sleep(seconds)  # the run being measured, not a test's wait
                window = f"{int(seconds)}s"
                durations = [float(r["value"][1]) * 1000 for r in await query(
                    session, base, f"max_over_time(scrape_duration_seconds[{window}])")]
                medians = [float(r["value"][1]) * 1000 for r in await query(
                    session, base,
                    f"quantile_over_time(0.5, scrape_duration_seconds[{window}])")]
                p95s = [float(r["value"][1]) * 1000 for r in await query(
                    session, base,
                    f"quantile_over_time(0.95, scrape_duration_seconds[{window}])")]
                samples = [float(r["value"][1]) for r in await query(
                    session, base, "scrape_samples_scraped")]
                scrapes = await query(session, base,
                                      f"sum(count_over_time(up[{window}]))")
                firing = await query(session, base, 'count(ALERTS{alertstate="firing"}) or '
                                                    'count(ALERTS{alertstate="pending"})')
        finally:
            process.terminate()
            await process.wait()
            for server in servers.values():
                await server.stop()
    print(f"hubs                        {hubs} (each {components} components)")
    print(f"scrape interval             1 s, for {seconds:g} s "
          f"({int(float(scrapes[0]['value'][1]))} scrapes in all)")
    print(f"/metrics size per hub       {statistics.median(sizes) / 1024:.1f} KiB "
          f"(min {min(sizes)} B, max {max(sizes)} B)")
    print(f"samples per scrape          {statistics.median(samples):.0f}")
    print(f"scrape duration, median     {statistics.median(medians):.2f} ms "
          f"(of each hub's median)")
    print(f"scrape duration, p95        {statistics.median(p95s):.2f} ms "
          f"(worst hub {max(p95s):.2f} ms)")
    print(f"scrape duration, max        {max(durations):.2f} ms")
    print(f"one /metrics served (first) {statistics.median(serve_ms):.2f} ms median, "
          f"{max(serve_ms):.2f} ms max (client side, all hubs on one loop)")
    print(f"rules' alerts firing        {firing[0]['value'][1] if firing else 0}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hubs", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--components", type=int, default=12)
    args = parser.parse_args()
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        sys.exit("needs Debian's prometheus: apt-get install prometheus")
    asyncio.run(run(args.hubs, args.seconds, args.components, prometheus))


if __name__ == "__main__":
    main()
