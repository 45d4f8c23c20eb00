"""The daemon's cost while it idles: CPU and memory of `divoom-hub demo` over a minute.

Runs the demo as a child process (simulated sources, the render tick every second, a
preview PNG per frame, the status page, the console transport) and reads its CPU time
and resident memory from /proc. Prints numbers; asserts nothing.

    .venv/bin/python bench/demo_idle.py [--seconds 60]
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state_dir:
        command = [sys.executable, "-m", "hub", "demo", "--state-dir", state_dir,
                   "--http-listen", "127.0.0.1:0"]
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True) as proc:
            assert proc.stdout is not None
            proc.stdout.readline()  # STARTED: the daemon is up
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
