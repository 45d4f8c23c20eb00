"""deploy/prometheus/ against the real Prometheus: the shipped config and rules check,
the rules' unit tests pass, and a Prometheus scraping two running hubs answers for the
component that fails on one of them."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import aiohttp

from hub.app import Daemon
from hub.config import load_config
from hub.secrets import Secrets
from tests.daemon import Lines, write_hub_toml
from tests.fakes.target import Target
from tests.fleet.binaries import (
    DEPLOY,
    PROMETHEUS,
    PROMTOOL,
    eventually,
    free_port,
    get_json,
    needs_prometheus,
    ready,
    run_tool,
    running,
)


def shipped_config(tmp_path: Path) -> Path:
    """deploy/prometheus/ as installed in /etc/prometheus: with the token file it names."""
    for name in ("prometheus.yml", "divoom-hub.rules.yml"):
        shutil.copy(DEPLOY / name, tmp_path / name)
    (tmp_path / "divoom-hub.token").write_text("a-token\n", encoding="utf-8")
    return tmp_path / "prometheus.yml"


@needs_prometheus
def test_the_shipped_scrape_config_and_rules_pass_promtool_check(tmp_path):
    assert PROMTOOL is not None
    code, output = run_tool(PROMTOOL, "check", "config", str(shipped_config(tmp_path)))
    assert code == 0, output
    assert "SUCCESS: 6 rules found" in output
    code, output = run_tool(PROMTOOL, "check", "rules", str(DEPLOY / "divoom-hub.rules.yml"))
    assert code == 0, output


@needs_prometheus
def test_every_rule_passes_its_promtool_unit_tests(tmp_path):
    assert PROMTOOL is not None
    code, output = run_tool(PROMTOOL, "test", "rules", "tests/divoom-hub.test.yml",
                            cwd=DEPLOY)
    assert code == 0, output
    assert "SUCCESS" in output
    rules = (DEPLOY / "divoom-hub.rules.yml").read_text(encoding="utf-8")
    tests = (DEPLOY / "tests" / "divoom-hub.test.yml").read_text(encoding="utf-8")
    names = [line.split(":", 1)[1].strip() for line in rules.splitlines()
             if line.strip().startswith("- alert:")]
    assert len(names) == 6
    for name in names:  # each rule is tested firing, not merely loaded
        assert f"alertname: {name}\n        exp_alerts:\n          - exp_labels" in tests, name


def scrape_config(hubs: dict[str, str], rules: Path) -> str:
    """A Prometheus config scraping each hub (name → base URL) every second."""
    targets = "\n".join(f"      - targets: [{url.removeprefix('http://')!r}]\n"
                        f"        labels: {{hub: {name}}}" for name, url in hubs.items())
    return (f"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"rule_files: [{str(rules)!r}]\n"
            f"scrape_configs:\n  - job_name: divoom-hub\n    static_configs:\n{targets}\n")


@needs_prometheus
def test_prometheus_scrapes_two_hubs_and_answers_for_the_failing_component(tmp_path):
    """Two real hubs, one watching a target that fails: Prometheus' query for failing
    components names that hub and component only, and both hubs' info by name."""
    assert PROMETHEUS is not None
    failing, working = Target(status=503), Target(status=200)
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    async def scenario() -> None:
        daemons = []
        stop = asyncio.Event()
        for name, target in (("cabin", failing), ("flat", working)):
            folder = tmp_path / name
            folder.mkdir()
            config = load_config(write_hub_toml(folder, target.url, hub_name=name,
                                                policy={"failures_before_alert": 2}))
            daemon = Daemon(config, Secrets(), Lines(30.0).write)
            info = await daemon.start(stop)
            assert info is not None and info.status_url is not None
            daemons.append((name, daemon, info.status_url))
        config = tmp_path / "prometheus.yml"
        config.write_text(scrape_config({n: url for n, _, url in daemons},
                                        DEPLOY / "divoom-hub.rules.yml"), encoding="utf-8")
        try:
            async with running([PROMETHEUS, f"--config.file={config}",
                                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                f"--web.listen-address=127.0.0.1:{port}"],
                               tmp_path / "prometheus.log") as prometheus, \
                    aiohttp.ClientSession() as session:
                await ready(session, base, prometheus)

                async def query(expression: str) -> list[dict[str, object]] | None:
                    answer = await get_json(session, f"{base}/api/v1/query",
                                            params={"query": expression})
                    result: list[dict[str, object]] = answer["data"]["result"]
                    return result or None

                failing_now = await eventually(lambda: query(
                    'divoom_hub_component_state{state="alerting"} == 1'),
                    "Prometheus to see a component alerting")
                assert [(r["metric"]["hub"], r["metric"]["component"])  # type: ignore[index]
                        for r in failing_now] == [("cabin", "web")]
                names = await eventually(lambda: query("count by (hub, name) (divoom_hub_info)"
                                                       " == 1 and on() count(up == 1) == 2"),
                                         "both hubs scraped")
                assert sorted((r["metric"]["hub"], r["metric"]["name"])  # type: ignore[index]
                              for r in names) == [("cabin", "cabin"), ("flat", "flat")]
                healthy = await query('divoom_hub_component_state{component="web",'
                                      'state="healthy"} == 1')
                assert healthy is not None
                assert [r["metric"]["hub"] for r in healthy] == ["flat"]  # type: ignore[index]
        finally:
            for _, daemon, _ in daemons:
                await daemon.stop(drain_seconds=1.0)

    with failing.running(), working.running():
        asyncio.run(scenario())
