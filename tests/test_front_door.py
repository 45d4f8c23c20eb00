"""The README's two commands stay true: CI runs the very test command it shows."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.+?)\n```", text)


def test_readme_opens_with_the_demo_and_the_test_command():
    demo, tests = readme_commands()[:2]
    assert demo.endswith("divoom-hub demo") and "pip install ." in demo
    assert tests.endswith("-m pytest") and "pip install -e '.[test]'" in tests


def test_ci_runs_exactly_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert readme_commands()[1] in ci


# -- what the docs quote is what the hub says ---------------------------------------------

def one_line(text: str) -> str:
    """Markdown wraps quoted output across lines; the hub prints it on one."""
    return " ".join(text.split())


def test_the_readme_quotes_the_replay_error_as_replay_prints_it(tmp_path, capsys):
    from hub.cli import main

    (quoted,) = re.findall(r"\(`(history\.jsonl:\d+: [^`]+)`\)",
                           (REPO / "README.md").read_text(encoding="utf-8"))
    line_number = int(quoted.split(":")[1])
    good = '{"at": 0, "component": "weather", "ok": true}\n'
    history = tmp_path / "history.jsonl"
    history.write_text(good * (line_number - 1)
                       + '{"at": 1, "component": "weather", "ok": "yes"}\n', encoding="utf-8")
    assert main(["replay", str(history)]) == 2
    assert capsys.readouterr().err == f"divoom-hub replay: {tmp_path}/{one_line(quoted)}\n"


def test_the_pi_guide_quotes_the_state_dir_error_as_run_prints_it(tmp_path):
    import subprocess
    import sys

    guide = (REPO / "docs" / "install-raspberry-pi.md").read_text(encoding="utf-8")
    (quoted,) = re.findall(r"`(divoom-hub run: \[hub\] state_dir [^`]+)`", guide)
    # The service's /etc is read-only; here a file stands where a directory should be.
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory", encoding="utf-8")
    config = tmp_path / "hub.toml"
    config.write_text(f"[hub]\nstate_dir = '{blocker / 'state'}'\nhttp_listen = ''\n",
                      encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "hub", "run", "-c", str(config)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    expected = one_line(quoted).replace("/etc/divoom-hub/state", str(blocker / "state")) \
        .replace("Read-only file system", "Not a directory")
    assert done.stderr.splitlines()[-1] == expected
    assert done.returncode == 2


def test_the_pi_guide_counts_the_components_of_the_example_config():
    from reactivex.testing import TestScheduler

    from hub.app import watched_components
    from hub.config import load_config
    from hub.world import real_world

    guide = (REPO / "docs" / "install-raspberry-pi.md").read_text(encoding="utf-8")
    (status,) = re.findall(r'"Status: (\d+) components: (\d+) healthy', guide)
    (listed,) = re.findall(r"components with the example's `hub.toml`: (.+?)\n\n", guide,
                           flags=re.DOTALL)
    config = load_config(REPO / "hub.example.toml")
    world = real_world(config, TestScheduler())
    try:
        # The guide's step 5 sets a webhook or the bot, so `discord` is watched too.
        names = [c.name for c in watched_components(config, world, watches_discord=True)]
    finally:
        world.close()
    assert int(status[0]) == int(status[1]) == len(names)
    assert sorted(re.findall(r"`([a-z]+)`", listed)) == sorted(names)


def test_the_documented_heartbeat_ping_with_the_token_is_accepted(tmp_path):
    import asyncio
    import urllib.request

    from hub.ingest.pings import HeartbeatMonitor
    from hub.status.model import HubStatus
    from hub.web.server import StatusServer

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    (header, path) = re.findall(
        r'curl -fsS -X POST -H "([^"]+)" http://kitchen-pi\.local:8787(/ping/\w+)', readme)[0]
    name, _, value = header.partition(": ")
    token = "a-long-random-string"
    pings = []
    server = StatusServer(
        "0.0.0.0:0", lambda: HubStatus(hub_name="hub", at=0.0, started_at=0.0, machines=(),
                                       delivery=None, outbox_depth=0),
        heartbeats=[HeartbeatMonitor("backup", 86400, 3600)], report=pings.append,
        token=token)

    async def ping() -> int:
        await server.start()
        try:
            request = urllib.request.Request(
                server.url.replace("0.0.0.0", "127.0.0.1") + path, method="POST",
                headers={name: value.replace("$HUB_HTTP_TOKEN", token)})
            with await asyncio.to_thread(urllib.request.urlopen, request, timeout=10) as answer:
                return int(answer.status)
        finally:
            await server.stop()

    assert asyncio.run(ping()) == 202
    assert [p.component for p in pings] == ["backup"]
