"""What each optional library adds to a process's resident memory when imported.

Each line is a fresh interpreter that imports what every configuration needs (the
machines, the streams, the renderer, the outbox), then the optional part, and prints the
RSS before and after. Prints numbers; asserts nothing.

    .venv/bin/python bench/import_cost.py
"""

from __future__ import annotations

import subprocess
import sys

#: What every configuration of the daemon imports.
CORE = "hub.streams, hub.dashboard, hub.notify.delivery, hub.storage.journal"
#: The optional parts, as the configuration that needs them.
PARTS = {
    "polled sources (requests)": "requests",
    "webhook transport (aiohttp client)": "hub.notify.webhook",
    "Discord bot (discord.py)": "hub.notify.discord.transport",
    "status page (aiohttp server, prometheus-client)": "hub.web.server",
    "the whole composition root (hub.app)": "hub.app",
}
PROBE = """
import importlib, sys
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
for name in sys.argv[1].split(", "):
    importlib.import_module(name)
before = rss()
importlib.import_module(sys.argv[2])
print(f"{before:.1f} {rss() - before:.1f}")
"""


def main() -> None:
    print(f"{'part':<50} {'core MiB':>9} {'adds MiB':>9}")
    for label, module in PARTS.items():
        out = subprocess.run([sys.executable, "-c", PROBE, CORE, module], check=True,
                             capture_output=True, text=True).stdout.split()
        print(f"{label:<50} {float(out[0]):9.1f} {float(out[1]):9.1f}")


if __name__ == "__main__":
    main()
