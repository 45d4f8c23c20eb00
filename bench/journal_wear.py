"""What the journal writes to the SD card: bytes handed to the kernel and fsyncs, per day.

Compares the journal's schedule (a transition at once, quiet changes with a beat every
30 s) with what writing a snapshot on every poll would cost. Bytes are counted from
/proc/self/io (`wchar`: bytes passed to write(), checkpoints included). Fsyncs are not
counted: the journal's `synchronous=NORMAL` in WAL mode fsyncs only at checkpoints.
Run: `.venv/bin/python bench/journal_wear.py`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hub.storage.journal import BEAT_SECONDS, Journal, JournaledMachines
from machines import Outcome, Policy

COMPONENTS = ("bus", "weather", "pixoo", "discord", "web", "nas")
POLL_SECONDS = 30.0  # a typical [[monitor]] every_seconds; bus and weather poll slower
DAY = 86_400.0
SIMULATED_SECONDS = 6 * 3600.0  # six hours, scaled to a day


def written_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise RuntimeError("no wchar in /proc/self/io")


def run(per_poll: bool) -> tuple[int, int]:
    """Bytes written and transactions committed over SIMULATED_SECONDS of healthy polls."""
    with tempfile.TemporaryDirectory() as directory:
        journal = Journal(Path(directory) / "outbox.sqlite")
        machines = JournaledMachines(journal)
        for component in COMPONENTS:
            machines.add(component, Policy(), 0.0)
        machines.resume(0.0, "bench")
        start, commits = written_bytes(), 0
        now, next_beat = 0.0, BEAT_SECONDS
        while now < SIMULATED_SECONDS:
            now += POLL_SECONDS / len(COMPONENTS)
            component = COMPONENTS[int(now / (POLL_SECONDS / len(COMPONENTS))) % len(COMPONENTS)]
            machines.observe(Outcome.success(component, now, latency_seconds=0.1), now)
            if per_poll:
                journal.write(now, [machines.snapshot(component)])
                commits += 1
            elif now >= next_beat:
                machines.beat(now)
                commits += 1
                next_beat += BEAT_SECONDS
        used = written_bytes() - start
        journal.close()
    scale = DAY / SIMULATED_SECONDS
    return int(used * scale), int(commits * scale)


def main() -> None:
    for label, per_poll in (("journal (beat every 30 s)", False),
                            ("a write per poll (not done)", True)):
        day_bytes, day_commits = run(per_poll)
        print(f"{label:30} {day_bytes / 1e6:7.1f} MB/day  {day_commits:6d} commits/day  "
              f"({len(COMPONENTS)} components polled every {POLL_SECONDS:g} s)")


if __name__ == "__main__":
    main()
