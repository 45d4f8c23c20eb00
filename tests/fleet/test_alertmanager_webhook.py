"""A real Alertmanager's webhook reaches the hub: its alerts show on the status page and
the frame, and `[[monitor]] kind = "alertmanager"` makes the matching ones a component."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image

from hub.app import Daemon
from hub.config import Config, load_config
from hub.display.render import FLEET_BACKGROUND
from hub.formatting import iso
from hub.secrets import Secrets
from tests.daemon import Lines, write_hub_toml
from tests.fleet.alertmanagers import alertmanager_yml, node_running, prepared
from tests.fleet.binaries import eventually, get_json, needs_alertmanager

TOKEN = "fleet-webhook-token"
MONITOR = """
[[monitor]]
kind = "alertmanager"
name = "nas"
matchers = {alertname = "HostDown", instance = "nas"}
"""


def hub_config(folder: Path) -> Config:
    folder.mkdir(parents=True, exist_ok=True)
    return load_config(write_hub_toml(folder, None, hub_name="cabin", extra=MONITOR))


def host_down(ends_at: float | None = None) -> list[dict[str, Any]]:
    """The alert as Prometheus posts it to Alertmanager."""
    alert: dict[str, Any] = {
        "labels": {"alertname": "HostDown", "instance": "nas", "severity": "critical"},
        "annotations": {"summary": "nas has not answered for 5 minutes"},
        "startsAt": iso(time.time() - 300)}
    if ends_at is not None:
        alert["endsAt"] = iso(ends_at)
    return [alert]


@needs_alertmanager
def test_a_real_alertmanager_webhook_shows_on_the_page_the_frame_and_a_component(tmp_path):
    config = hub_config(tmp_path / "hub")

    async def main() -> None:
        console = Lines(30.0)  # the console transport: where Discord notices would go
        daemon = Daemon(config, Secrets(hub_http_token=TOKEN), console.write)
        info = await daemon.start(asyncio.Event())
        assert info is not None and info.status_url is not None
        hub = info.status_url
        auth = {"Authorization": f"Bearer {TOKEN}"}
        node = prepared(tmp_path / "am", f"{hub}/api/alertmanager")
        (node.folder / "alertmanager.yml").write_text(
            alertmanager_yml(f"{hub}/api/alertmanager", bearer=TOKEN), encoding="utf-8")
        try:
            async with aiohttp.ClientSession() as session, node_running(node, session):
                async with session.post(f"{node.url}/api/v2/alerts",
                                        json=host_down()) as response:
                    assert response.status == 200

                async def component(state: str) -> dict[str, Any] | None:
                    body = await get_json(session, f"{hub}/api/status", headers=auth)
                    nas = next(c for c in body["components"] if c["name"] == "nas")
                    return body if nas["state"] == state else None

                body = await eventually(lambda: component("alerting"),
                                        "the nas component to alert")
                assert [(a["alertname"], a["summary"]) for a in body["fleet_alerts"]] == [
                    ("HostDown", "nas has not answered for 5 minutes")]
                nas = next(c for c in body["components"] if c["name"] == "nas")
                assert nas["last_error"]["type"] == "alert_firing"
                assert "nas" in await console.wait_for("ALERT")
                async with session.get(f"{hub}/", headers=auth) as response:
                    page = await response.text()
                assert "HostDown nas: nas has not answered for 5 minutes" in page

                async def frame_shows_it() -> bool | None:
                    async with session.get(f"{hub}/frame.png", headers=auth) as response:
                        if response.status != 200:
                            return None
                        image = Image.open(io.BytesIO(await response.read())).convert("RGB")
                    return True if image.getpixel((0, 63)) == FLEET_BACKGROUND else None

                await eventually(frame_shows_it, "the frame to show the fleet's row")

                # Resolved in Alertmanager: gone from the hub, and the component recovers.
                async with session.post(f"{node.url}/api/v2/alerts",
                                        json=host_down(ends_at=time.time() - 1)) as response:
                    assert response.status == 200
                body = await eventually(lambda: component("recovered"),
                                        "the nas component to recover")
                assert body["fleet_alerts"] == []
                assert "nas" in await console.wait_for("RECOVERY")
        finally:
            await daemon.stop(drain_seconds=1.0)

    asyncio.run(main())
