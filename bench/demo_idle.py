"""The daemon's cost while it idles: CPU and memory of `divoom-hub demo` over a minute.

Runs the demo as a child process (simulated sources, the render tick every second, a
preview PNG per frame, the status page, the console transport) and reads its CPU time
and resident memory from /proc. Prints numbers; asserts nothing.

    .venv/bin/python bench/demo_idle.py [--seconds 60]      # with the status page
    .venv/bin/python bench/demo_idle.py --http-listen ""    # no page: the published job
    .venv/bin/python bench/demo_idle.py --http-listen "" --bot  # ... plus the Discord bot

`--bot` gives the demo a bot token and channel with Discord's endpoints on a closed local
port: the bot is built and keeps trying to connect, as it would with the network down,
so the figure is what discord.py and the bot cost, not a conversation.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--http-listen", default="127.0.0.1:0",
                        help='the status page\'s address ("" turns the page off)')
    parser.add_argument("--bot", action="store_true",
                        help="run the Discord bot too (against a closed local port)")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "HUB_"))}
    if args.bot:
        env.update(DISCORD_BOT_TOKEN="bench.token.x", DISCORD_MONITOR_CHANNEL_ID="1",
                   DISCORD_API_BASE="http://127.0.0.1:9/api/v10",
                   DISCORD_GATEWAY_URL="ws://127.0.0.1:9/")
    with tempfile.TemporaryDirectory() as state_dir:
        command = [sys.executable, "-m", "hub", "demo", "--state-dir", state_dir,
                   "--http-listen", args.http_listen]
        with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              text=True, env=env) as proc:
            # Up once it drew a frame (with the bot, STARTED goes to Discord, not here).
            frame = Path(state_dir) / "frame.png"
            deadline = time.monotonic() + 120
            while not frame.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(args.warmup)  # imports and first frames are not idling
            cpu0, wall0 = cpu_seconds(proc.pid), time.monotonic()
            samples = []
            while time.monotonic() - wall0 < args.seconds:
                time.sleep(1.0)
                samples.append(rss_mib(proc.pid))
            cpu1, wall1 = cpu_seconds(proc.pid), time.monotonic()
            proc.terminate()
            proc.communicate(timeout=30)
    print(f"demo idle over {wall1 - wall0:.0f} s (after {args.warmup:.0f} s warm-up)")
    print(f"  CPU      {100 * (cpu1 - cpu0) / (wall1 - wall0):.1f} % of one core "
          f"({(cpu1 - cpu0) * 1000 / (wall1 - wall0):.1f} ms per second)")
    print(f"  RSS      {samples[-1]:.1f} MiB at the end, {max(samples):.1f} MiB peak")


if __name__ == "__main__":
    main()
