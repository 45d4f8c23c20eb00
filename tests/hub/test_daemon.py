"""The daemon in steps: `Daemon.start`, `accept`, `check_self`, `publish_status`, `stop`,
called one by one as a test (or a maintainer at a prompt) would, on the real parts."""

from __future__ import annotations

import asyncio

from hub.app import Daemon
from hub.config import load_config
from hub.ingest.reports import Diagnostic, Level, diagnostic_notice
from hub.secrets import Secrets
from hub.selfcheck import HUB_COMPONENT
from machines import HealthState
from tests.daemon import Lines, write_hub_toml


def test_the_daemon_runs_step_by_step(tmp_path):
    config = load_config(write_hub_toml(tmp_path, None, http_listen=""))
    console = Lines(wait_seconds=30.0)

    async def steps() -> int:
        daemon = Daemon(config, Secrets(), console.write)
        assert [c.name for c in daemon.parts.watched] == [HUB_COMPONENT]
        stop = asyncio.Event()
        info = await daemon.start(stop)
        assert info is not None and info.status_url is None
        daemon.accept(diagnostic_notice(Diagnostic(Level.WARNING, "backup", "disk 91% full",
                                                   (), ""), daemon.parts.clock()))
        await console.wait_for("DIAGNOSTIC")  # delivered by the delivery task
        checked_at = daemon.parts.clock()
        daemon.check_self()  # its outcome travels the stream to the `hub` machine
        async with asyncio.timeout(30):
            # The machines have no hook to await: look again each turn of the loop.
            while daemon.parts.machines.snapshot(HUB_COMPONENT).last_seen_at < checked_at:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        status = daemon.publish_status()
        assert [(m.component, m.state) for m in status.machines] == [
            (HUB_COMPONENT, HealthState.HEALTHY)]
        assert status.outbox_depth == 0 and status.pipeline_lag_seconds == 0.0
        assert [n.kind.value for n in status.recent_notices] == ["started", "diagnostic"]
        return await daemon.stop(drain_seconds=5.0)

    assert asyncio.run(steps()) == 0
    lines = console.lines
    assert [line.split()[1] for line in lines] == ["STARTED", "DIAGNOSTIC", "STOPPED"]
    assert "WARNING: disk 91% full" in lines[1]
