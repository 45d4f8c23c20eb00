"""The daemon loads only what its configuration needs: discord.py with a bot, aiohttp's
client with a webhook, the aiohttp server and prometheus-client with a status page.

Each case runs in a fresh interpreter (this one has loaded everything long ago) and lists
which of the optional libraries it ended up importing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

OPTIONAL = ("discord", "aiohttp", "prometheus_client")
PROBE = """
import json, sys
from hub.app import choose_transport
from hub.cli import main  # the command line itself loads none of them either
from hub.secrets import Secrets
import hub.demo
secrets = Secrets(**json.loads(sys.argv[1]))
choose_transport(secrets, print)
if sys.argv[2]:
    from hub.web.server import StatusServer
    StatusServer(sys.argv[2], lambda: None)
print(json.dumps([name for name in json.loads(sys.argv[3]) if name in sys.modules]))
"""


def loaded(secrets: dict[str, str], listen: str = "") -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(secrets), listen,
                          json.dumps(OPTIONAL)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


@pytest.mark.parametrize(("secrets", "listen", "expected"), [
    ({}, "", []),  # the console, no page: the published system's job
    ({"discord_webhook_url": "https://discord.com/api/webhooks/1/abc"}, "", ["aiohttp"]),
    ({}, "127.0.0.1:0", ["aiohttp", "prometheus_client"]),
    ({"discord_bot_token": "x.y.z", "discord_monitor_channel_id": "1"}, "",
     ["discord", "aiohttp"]),
])
def test_only_the_libraries_a_configuration_uses_are_imported(secrets, listen, expected):
    assert loaded(secrets, listen) == expected
