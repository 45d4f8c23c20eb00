"""Restart continuity: a restart resumes every open incident, and a gap is reported once.

* Properties (virtual time, the machines driven the way `hub.streams.health_notices`
  drives them, as tests/machines/drive.py does): a run stopped at any step and
  restarted from the journal on disk emits exactly the notices of an uninterrupted run —
  after a clean stop, and after a kill right after a heartbeat; after a kill at any
  moment, the incidents still go out on the same schedule with the same downtime.
* The offline notice through the real reactive wiring on a `TestScheduler`.
* End to end in real time: `run_daemon` stopped and restarted reports the whole downtime,
  and `python -m hub run` killed with SIGKILL sends exactly one offline notice.
"""

from __future__ import annotations

import asyncio
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex import Subject, abc
from reactivex.testing import TestScheduler

from hub.app import run_daemon
from hub.config import load_config
from hub.formatting import duration
from hub.notify.console import console_line
from hub.notify.embeds import COLOURS, embed_for
from hub.notify.outbox import Entry
from hub.notify.packing import plan_messages
from hub.secrets import Secrets
from hub.storage.journal import RECONCILE_WAIT_SECONDS, Journal, JournaledMachines
from hub.streams import health_notices
from machines import HealthState, Notice, NoticeKind, Outcome, Policy
from tests.daemon import Lines, write_hub_toml
from tests.fakes.target import Target
from tests.machines.drive import Scenario, drive, next_timer, scenarios

HUB = "test-hub"
A, R = HealthState.ALERTING, HealthState.REMINDING


# -- the properties ------------------------------------------------------------------------

#: Each example writes a journal to disk and reads it back: a fifth of the profile's
#: count keeps these to seconds on the shared machine and still scales with `thorough`.
journaled = settings(max_examples=max(settings.default.max_examples // 5, 10))

def drive_with_restart(scenario: Scenario, path: Path, restart_after_step: int,
                       stop: str) -> tuple[list[Notice], float]:
    """`drive` on `JournaledMachines`, restarted from the journal on disk after a step.

    `stop` is how the first run ends: "clean" (`save`, as on SIGTERM), "beat" (killed
    right after a heartbeat) or "kill" (killed with only what was written at once).
    The restart happens at the instant of the stop (no gap), adds the components seen
    so far (the configured ones) and resumes. Returns the notices and that instant.
    """
    machines = JournaledMachines(Journal(path))
    machines.resume(0.0, HUB)
    notices: list[Notice] = []
    steps = 0
    restart_at: float | None = None

    def record(component: str, emitted: list[Notice], now: float) -> None:
        nonlocal machines, steps, restart_at
        notices.extend(emitted)
        steps += 1
        if steps != restart_after_step:
            return
        if stop == "clean":
            machines.save(now)
        elif stop == "beat":
            machines.beat(now)
        known = list(machines)
        restart_at = now
        machines.journal.close()
        machines = JournaledMachines(Journal(path))
        for name in known:
            machines.add(name, scenario.policy(name), now)
        machines.resume(now, HUB)

    def fire_timers(upto: float) -> None:
        while (timer := next_timer(machines, upto)) is not None:
            due, component = timer
            record(component, machines.tick(component, due), due)

    try:
        for outcome in scenario.events:
            fire_timers(outcome.at)
            if outcome.component not in machines:
                machines.add(outcome.component, scenario.policy(outcome.component), outcome.at)
            record(outcome.component, machines.observe(outcome, outcome.at), outcome.at)
        fire_timers(scenario.until)
    finally:
        machines.journal.close()
    assert restart_at is not None, "the run never reached the restart step"
    return notices, restart_at


def restarted(scenario: Scenario, step: int, stop: str) -> tuple[list[Notice], float]:
    with tempfile.TemporaryDirectory() as directory:
        return drive_with_restart(scenario, Path(directory) / "outbox.sqlite", step, stop)


@journaled
@given(scenario=scenarios(), data=st.data())
def test_a_clean_restart_at_any_step_changes_no_notice(scenario, data):
    expected = [e.notice for e in drive(scenario)]
    step = data.draw(st.integers(1, len(scenario.events)), label="restart after step")
    notices, _ = restarted(scenario, step, "clean")
    assert notices == expected


@journaled
@given(scenario=scenarios(), data=st.data())
def test_a_kill_right_after_a_heartbeat_changes_no_notice_and_adds_one_offline(scenario, data):
    expected = [e.notice for e in drive(scenario)]
    step = data.draw(st.integers(1, len(scenario.events)), label="restart after step")
    got, restart_at = restarted(scenario, step, "beat")
    assert [n for n in got if n.kind is not NoticeKind.OFFLINE] == expected
    offline = [n for n in got if n.kind is NoticeKind.OFFLINE]
    if restart_at + RECONCILE_WAIT_SECONDS <= scenario.until:
        assert len(offline) == 1 and restart_at <= offline[0].at
    else:  # the run may end before the wait does
        assert len(offline) <= 1


@st.composite
def undebounced(draw: st.DrawFn) -> Scenario:
    """Scenarios whose machines carry no counter between transitions: one failure alerts,
    one success recovers, silence is no failure (what a kill can lose is only counters)."""
    scenario = draw(scenarios(stale=False))
    return Scenario({c: replace(p, failures_before_alert=1, successes_before_recovery=1)
                     for c, p in scenario.policies.items()}, scenario.events, scenario.until)


def incident_facts(notice: Notice) -> tuple[object, ...]:
    """What a kill must not change: which notice, when, and the incident's times."""
    return (notice.kind, notice.component, notice.at, notice.reminder,
            notice.downtime_seconds, notice.first_failure_at, notice.next_reminder_at,
            notice.failing_for_seconds)


@journaled
@given(scenario=undebounced(), data=st.data())
def test_a_kill_at_any_moment_keeps_every_incident_on_its_schedule(scenario, data):
    expected = [incident_facts(e.notice) for e in drive(scenario)]
    step = data.draw(st.integers(1, len(scenario.events)), label="killed after step")
    got, _ = restarted(scenario, step, "kill")
    assert [incident_facts(n) for n in got if n.kind is not NoticeKind.OFFLINE] == expected


# -- the offline notice on virtual time ----------------------------------------------------

POLICY = Policy(failures_before_alert=1, remind_after_seconds=600, remind_backoff=2,
                remind_max_seconds=3600, settle_seconds=60)


class VirtualRun:
    """One run of the real wiring (`health_notices`) over a journal, on a `TestScheduler`."""

    def __init__(self, path: Path, start: float, components: tuple[str, ...],
                 policy: Policy = POLICY) -> None:
        self.scheduler = TestScheduler()
        self.scheduler.advance_to(start)
        self.machines = JournaledMachines(Journal(path))
        for component in components:
            self.machines.add(component, policy, start)
        self.resumed = self.machines.resume(start, HUB)
        self.feed: Subject[Outcome] = Subject()
        self.notices: list[Notice] = []
        self.subscription = health_notices(self.feed, self.machines, self.scheduler) \
            .subscribe(self.notices.append)

    def at(self, seconds: float, component: str, ok: bool) -> None:
        outcome = (Outcome.success(component, seconds) if ok
                   else Outcome.failure(component, seconds, "http_503", "503 from the API"))

        def deliver(_: abc.SchedulerBase, __: object = None) -> None:
            self.feed.on_next(outcome)

        self.scheduler.schedule_absolute(seconds, deliver)

    def beat_every(self, seconds: float) -> None:
        self.scheduler.schedule_periodic(seconds, lambda _: self.machines.beat(
            self.scheduler.clock))

    def run_until(self, seconds: float) -> list[Notice]:
        self.scheduler.advance_to(seconds)
        return self.notices

    def kill(self) -> None:
        self.subscription.dispose()
        self.machines.journal.close()

    def stop(self) -> None:
        self.subscription.dispose()
        self.machines.save(self.scheduler.clock)
        self.machines.journal.close()


def kinds(notices: list[Notice]) -> list[tuple[str, str, float]]:
    return [(n.kind.value, n.component, n.at) for n in notices]


def test_after_a_kill_and_a_gap_one_offline_notice_follows_the_first_outcomes(tmp_path):
    path = tmp_path / "outbox.sqlite"
    first = VirtualRun(path, 0, ("web", "bus", "weather"))
    first.beat_every(30)
    first.at(10, "web", ok=False)
    first.at(12, "bus", ok=False)
    first.at(14, "weather", ok=True)
    assert kinds(first.run_until(45)) == [("alert", "web", 10), ("alert", "bus", 12)]
    first.kill()  # at 45: the last beat was at 30

    second = VirtualRun(path, 400, ("web", "bus", "weather"))
    assert second.resumed.gap is not None and not second.resumed.gap.was_clean
    assert {c: second.machines.state(c) for c in ("web", "bus")} == {"web": A, "bus": A}
    second.at(401, "web", ok=True)
    second.at(402, "weather", ok=False)  # a new failure: not part of the reconciliation
    second.at(403, "bus", ok=False)
    notices = second.run_until(1000)
    second.stop()
    # The recovery is sent as usual, with the whole downtime; the offline notice comes
    # once both open incidents have reported, and bus's reminder keeps its schedule.
    assert kinds(notices) == [("recovery", "web", 401), ("alert", "weather", 402),
                              ("offline", HUB, 403), ("reminder", "bus", 612)]
    assert notices[0].downtime_seconds == 401 - 10
    offline = notices[2]
    assert offline.downtime_seconds == 400 - 30
    assert dict(offline.details) == {
        "offline": "from 1970-01-01 00:00:30Z to 1970-01-01 00:06:40Z (6 min 10 s)",
        "last stop": "unclean: no clean stop was recorded (a crash, a kill or a power cut)",
        "still failing": "bus (http_503, for 6 min 31 s)",
        "recovered meanwhile": "web",
    }


def test_a_component_that_stays_silent_is_listed_after_the_wait(tmp_path):
    path = tmp_path / "outbox.sqlite"
    first = VirtualRun(path, 0, ("web", "bus"))
    first.at(10, "web", ok=False)
    first.at(11, "bus", ok=False)
    first.run_until(20)
    first.kill()

    second = VirtualRun(path, 500, ("web", "bus"))
    second.at(501, "web", ok=False)
    notices = second.run_until(559)
    assert [n.kind for n in notices] == []  # bus has not answered yet: still waiting
    notices = second.run_until(5000)
    second.stop()
    offline = [n for n in notices if n.kind is NoticeKind.OFFLINE]
    assert [n.at for n in offline] == [560]  # the 60 s wait, exactly once
    details = dict(offline[0].details)
    assert details["still failing"].startswith("web (http_503")
    assert details["no outcome yet"] == "bus"
    assert details["recovered meanwhile"] == "none"


def test_a_quick_clean_restart_sends_no_offline_notice_and_resumes_the_reminders(tmp_path):
    path = tmp_path / "outbox.sqlite"
    first = VirtualRun(path, 0, ("web",))
    first.at(10, "web", ok=False)
    first.run_until(100)
    first.stop()

    second = VirtualRun(path, 160, ("web",))  # a restart, a minute later
    assert second.resumed.gap is None and second.resumed.restored == ("web",)
    notices = second.run_until(2000)
    second.stop()
    # Reminders at 610 and 610 + 1200 as if the hub had never stopped.
    assert kinds(notices) == [("reminder", "web", 610), ("reminder", "web", 1810)]
    assert [n.reminder for n in notices] == [1, 2]


def test_a_clean_stop_followed_by_a_long_gap_is_reported_with_the_reminder_sent_once(tmp_path):
    path = tmp_path / "outbox.sqlite"
    first = VirtualRun(path, 0, ("web",))
    first.at(10, "web", ok=False)
    first.run_until(100)
    first.stop()

    second = VirtualRun(path, 10_000, ("web",))  # reminders were due at 610, 1810, 4210
    second.at(10_005, "web", ok=False)
    notices = second.run_until(10_100)
    second.stop()
    assert kinds(notices) == [("reminder", "web", 10_000), ("offline", HUB, 10_005)]
    assert notices[0].reminder == 1  # one, not a burst of the three that were missed
    details = dict(notices[1].details)
    assert details["last stop"] == "clean"
    assert details["offline"].endswith("(2 h 45 min)")


def test_nothing_open_before_the_gap_sends_the_offline_notice_at_once(tmp_path):
    path = tmp_path / "outbox.sqlite"
    first = VirtualRun(path, 0, ("web",))
    first.at(10, "web", ok=True)
    first.run_until(20)
    first.kill()

    second = VirtualRun(path, 300, ("web",))
    notices = second.run_until(301)
    second.stop()
    assert kinds(notices) == [("offline", HUB, 300)]
    assert dict(notices[0].details)["still failing"] == "none"


def test_a_component_no_longer_configured_is_dropped_from_the_journal(tmp_path, caplog):
    path = tmp_path / "outbox.sqlite"
    first = VirtualRun(path, 0, ("web", "old"))
    first.at(10, "old", ok=False)
    first.run_until(20)
    first.stop()

    with caplog.at_level("INFO", logger="hub.storage.journal"):
        second = VirtualRun(path, 30, ("web",))
    second.stop()
    assert second.resumed.dropped == ("old",)
    assert "old is no longer watched" in caplog.text
    with Journal(path) as journal:
        assert [s.component for s in journal.snapshots()] == ["web"]


def test_a_suspect_keeps_its_count_across_a_restart(tmp_path):
    path = tmp_path / "outbox.sqlite"
    policy = Policy(failures_before_alert=3)
    first = VirtualRun(path, 0, ("web",), policy)
    first.at(10, "web", ok=False)
    first.at(20, "web", ok=False)
    first.run_until(25)
    first.stop()

    second = VirtualRun(path, 30, ("web",), policy)
    second.at(40, "web", ok=False)  # the third failure in a row alerts
    notices = second.run_until(50)
    second.stop()
    assert kinds(notices) == [("alert", "web", 40)]
    assert (notices[0].failures, notices[0].first_failure_at) == (3, 10)


def test_reminders_turned_off_in_the_new_config_stop_the_old_schedule(tmp_path):
    path = tmp_path / "outbox.sqlite"
    first = VirtualRun(path, 0, ("web",))
    first.at(10, "web", ok=False)
    first.run_until(20)
    first.stop()

    second = VirtualRun(path, 30, ("web",), replace(POLICY, remind_after_seconds=0))
    notices = second.run_until(100_000)
    second.stop()
    assert notices == []
    assert second.machines.state("web") is A


def test_silence_while_the_hub_was_away_does_not_count_as_staleness(tmp_path):
    path = tmp_path / "outbox.sqlite"
    policy = Policy(failures_before_alert=1, stale_after_seconds=300)
    first = VirtualRun(path, 0, ("beacon",), policy)
    first.at(100, "beacon", ok=True)
    first.run_until(250)  # silent for 150 s of the 300 allowed
    first.stop()

    second = VirtualRun(path, 5000, ("beacon",), policy)
    notices = second.run_until(5149)
    assert [n for n in notices if n.kind is not NoticeKind.OFFLINE] == []
    notices = second.run_until(5150)  # 150 s more while listening: now it is stale
    second.stop()
    assert [(n.kind.value, n.at, n.error_type) for n in notices
            if n.kind is not NoticeKind.OFFLINE] == [("alert", 5150, "stale")]


# -- how the offline notice reads ----------------------------------------------------------

OFFLINE = Notice(kind=NoticeKind.OFFLINE, component=HUB, at=1_700_000_400,
                 downtime_seconds=370, details=(
                     ("offline", "from 2023-11-14 22:08:50Z to 22:15:00Z (6 min 10 s)"),
                     ("last stop", "clean"),
                     ("still failing", "bus (http_503, for 6 min)"),
                     ("recovered meanwhile", "web")))


def test_the_offline_embed_is_blue_and_lists_the_reconciliation():
    embed = embed_for(OFFLINE, HUB)
    assert embed["color"] == COLOURS[NoticeKind.STARTED] == 0x3498DB
    assert embed["title"] == f"🔵 {HUB} is back after being offline"
    assert "6 min 10 s" in embed["description"]
    assert [(f["name"], f["value"]) for f in embed["fields"]] == list(OFFLINE.details)


def test_the_offline_console_line_reads_as_one_sentence():
    line = console_line(OFFLINE)
    assert "OFFLINE" in line and HUB in line
    assert line.endswith("offline from 2023-11-14 22:08:50Z to 22:15:00Z (6 min 10 s); "
                         "last stop: clean; still failing: bus (http_503, for 6 min); "
                         "recovered meanwhile: web")


def test_the_offline_notice_is_never_folded_into_a_storm_summary():
    alerts = [Notice(kind=NoticeKind.ALERT, component=f"c{i}", at=1, error_type="timeout")
              for i in range(8)]
    entries = [Entry(i, n, 0, "") for i, n in enumerate([*alerts[:4], OFFLINE, *alerts[4:]])]
    messages = plan_messages(entries, HUB)
    embeds = [e for m in messages for e in m.payload["embeds"]]
    assert embed_for(OFFLINE, HUB) in embeds
    assert [i for m in messages for i in m.ids] == list(range(9))  # all of them, in order


# -- end to end, real time -----------------------------------------------------------------

#: Generous: a loaded CI machine may be slow, and a pass never waits this long.
WAIT_SECONDS = 20.0


def write_config(tmp_path: Path, url: str) -> Path:
    """The hub of every run here: alert on the second failure, never remind, no page."""
    return write_hub_toml(tmp_path, url, hub_name=HUB, http_listen="",
                          policy={"failures_before_alert": 2, "remind_after_seconds": 0})


def test_a_recovery_after_a_clean_restart_reports_the_downtime_from_before_it(tmp_path):
    async def run(target: Target, status: int, until: str) -> Lines:
        target.status = status
        config = load_config(write_config(tmp_path, target.url))
        lines, stop = Lines(WAIT_SECONDS), asyncio.Event()
        daemon = asyncio.create_task(run_daemon(config, Secrets(), lines.write, stop))
        try:
            await lines.wait_for(until)
        finally:
            stop.set()
            assert await asyncio.wait_for(daemon, timeout=WAIT_SECONDS) == 0
        return lines

    with Target().running() as target:
        before = asyncio.run(run(target, 503, "ALERT"))
        after = asyncio.run(run(target, 200, "RECOVERY"))

    assert [line.split()[1] for line in before.lines] == ["STARTED", "ALERT", "STOPPED"]
    assert [line.split()[1] for line in after.lines] == ["STARTED", "RECOVERY", "STOPPED"]
    with Journal(tmp_path / "state" / "outbox.sqlite") as journal:
        history = journal.history(component="web")
        second_run = journal.previous_run()
    assert second_run is not None and second_run.is_clean
    first_failure = history[0]
    assert (first_failure.from_state, first_failure.to_state) == (
        HealthState.HEALTHY, HealthState.SUSPECT)
    recovery = next(n for t in history for n in t.notices if n.kind is NoticeKind.RECOVERY)
    # The incident began in the first run; the recovery counts from there.
    assert first_failure.at < second_run.started_at < recovery.at
    assert recovery.downtime_seconds == recovery.at - first_failure.at
    assert f"recovered after {duration(recovery.downtime_seconds)} of downtime" in after.lines[1]


class Daemon:
    """`python -m hub run` in a subprocess, its console lines read on a thread."""

    def __init__(self, config: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.getcwd()}
        for name in ("DISCORD_WEBHOOK_URL", "DISCORD_BOT_TOKEN", "DISCORD_MONITOR_CHANNEL_ID",
                     "NOTIFY_SOCKET", "WATCHDOG_USEC"):
            env.pop(name, None)
        self.proc = subprocess.Popen([sys.executable, "-m", "hub", "run", "-c", str(config)],
                                     cwd=config.parent, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str) -> str:
        while True:
            line = self._queue.get(timeout=WAIT_SECONDS)
            if line is None:
                raise AssertionError(f"the daemon ended before {text!r}:\n"
                                     + "\n".join(self.lines))
            self.lines.append(line)
            if text in line:
                return line

    def finish(self) -> int:
        """Wait for the exit, keep every line left, close the pipe; the exit code."""
        code = self.proc.wait(timeout=WAIT_SECONDS)
        self._reader.join(timeout=WAIT_SECONDS)
        while not self._queue.empty():
            if (line := self._queue.get_nowait()) is not None:
                self.lines.append(line)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return code


def console_lines(lines: list[str]) -> list[str]:
    """The console transport's notice lines (`19:32:07  ALERT …`), not the log's."""
    return [line for line in lines if re.match(r"\d\d:\d\d:\d\d  [A-Z]", line)]


def own_lines(second: Daemon, first: Daemon) -> list[str]:
    """The notices of the second run, without what its outbox re-sent of the first.

    The console prints a notice before the outbox marks it sent, so a kill right after
    the alert leaves it pending and the next start prints it again: the outbox's
    at-least-once window (docs/delivery.md), identical line and time, sent first.
    """
    before = console_lines(first.lines)
    lines = console_lines(second.lines)
    # The second run's own notices begin with its STARTED, the last one it printed (a
    # re-sent STARTED of the first run, if any, comes before it; when both runs start in
    # the same second the two lines are even identical).
    own_start = max(i for i, line in enumerate(lines) if line.split()[1] == "STARTED")
    resent = lines[:own_start]
    assert all(line in before for line in resent), resent
    return lines[own_start:]


@contextmanager
def daemon(config: Path) -> Iterator[Daemon]:
    running = Daemon(config)
    try:
        yield running
    finally:
        if running.proc.poll() is None:
            running.proc.kill()
        running.finish()


def test_kill_9_then_restart_sends_exactly_one_offline_notice(tmp_path):
    with Target().running() as target:
        config = write_config(tmp_path, target.url)
        target.status = 503
        with daemon(config) as first:
            first.wait_for("ALERT")
            first.proc.send_signal(signal.SIGKILL)
            assert first.finish() == -signal.SIGKILL
        target.status = 200
        with daemon(config) as second:
            second.wait_for("OFFLINE")
            second.proc.send_signal(signal.SIGTERM)
            assert second.finish() == 0, "\n".join(second.lines)

    notices = own_lines(second, first)
    assert [line.split()[1] for line in notices] == [
        "STARTED", "RECOVERY", "OFFLINE", "STOPPED"], "\n".join(second.lines)
    offline = notices[2]
    assert "last stop: unclean" in offline
    assert "still failing: none" in offline and "recovered meanwhile: web" in offline


def test_the_daemon_resumes_a_journal_left_by_a_kill_without_duplicating_the_alert(tmp_path):
    # The same kill, seen from the journal: the alert of the first run is the one open
    # incident; the second run recovers it instead of alerting again.
    with Target().running() as target:
        config = write_config(tmp_path, target.url)
        target.status = 503
        with daemon(config) as first:
            first.wait_for("ALERT")
            first.proc.send_signal(signal.SIGKILL)
            first.finish()
        with Journal(tmp_path / "state" / "outbox.sqlite") as journal:
            (saved,) = journal.snapshots()
            killed = journal.previous_run()
        assert saved.state is A and killed is not None and not killed.is_clean
        with daemon(config) as second:  # the target still fails
            second.wait_for("OFFLINE")
            second.proc.send_signal(signal.SIGTERM)
            assert second.finish() == 0
    kinds_seen = [line.split()[1] for line in own_lines(second, first)]
    assert kinds_seen == ["STARTED", "OFFLINE", "STOPPED"]  # no second ALERT
    offline = next(line for line in second.lines if "OFFLINE" in line)
    assert "still failing: web (http_503" in offline

