"""The journal's storage: exact snapshots, history with its notices, runs, pruning, and
what `JournaledMachines` write when (a transition at once, quiet changes with the beat)."""

from __future__ import annotations

import logging
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.config import ConfigError, parse_config
from hub.notify.outbox import Outbox
from hub.storage.journal import Journal, JournaledMachines, PreviousRun, Transition
from machines import HealthState, Notice, NoticeKind, Outcome, Policy, Snapshot

H, S, A, R, V = (HealthState.HEALTHY, HealthState.SUSPECT, HealthState.ALERTING,
                 HealthState.REMINDING, HealthState.RECOVERED)
DAY = 86_400.0

times = st.floats(min_value=0, max_value=4e9, allow_nan=False)
texts = st.text(max_size=40)  # any unicode, quotes and control characters included


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    return Snapshot(
        component=draw(st.text(min_size=1, max_size=20)),
        state=draw(st.sampled_from(list(HealthState))),
        since=draw(times),
        failures=draw(st.integers(0, 2**40)),
        successes=draw(st.integers(0, 2**40)),
        first_failure_at=draw(st.none() | times),
        last_success_at=draw(st.none() | times),
        last_seen_at=draw(times),
        last_error_type=draw(texts),
        last_error=draw(texts),
        next_reminder_at=draw(st.none() | times),
        reminders_sent=draw(st.integers(0, 1000)),
        rate_opened=draw(st.booleans()),
    )


def temporary_journal() -> tuple[tempfile.TemporaryDirectory[str], Path]:
    directory = tempfile.TemporaryDirectory()
    return directory, Path(directory.name) / "outbox.sqlite"


@given(st.lists(snapshots(), max_size=6, unique_by=lambda s: s.component))
def test_snapshots_come_back_exactly_as_they_were_written(written):
    directory, path = temporary_journal()
    with directory:
        with Journal(path) as journal:
            journal.write(1.0, written)
        with Journal(path) as journal:  # a new connection, as after a restart
            read = journal.snapshots()
    assert sorted(read, key=lambda s: s.component) == sorted(written, key=lambda s: s.component)


def test_the_latest_snapshot_of_a_component_replaces_the_earlier_one(tmp_path):
    first = Snapshot(component="bus", state=S, since=10, failures=1, first_failure_at=10)
    second = Snapshot(component="bus", state=A, since=20, failures=3, first_failure_at=10,
                      next_reminder_at=920)
    with Journal(tmp_path / "outbox.sqlite") as journal:
        journal.write(10, [first])
        journal.write(20, [second])
        assert journal.snapshots() == [second]


def test_history_keeps_transitions_in_order_with_their_notices(tmp_path):
    alert = Notice(kind=NoticeKind.ALERT, component="bus", at=20, state=A, failures=3,
                   error_type="timeout", error_detail="no answer in 10 s «æøå»",
                   first_failure_at=10, next_reminder_at=920)
    rows = [Transition("bus", H, S, 10), Transition("bus", S, A, 20, (alert,)),
            Transition("weather", H, S, 25)]
    with Journal(tmp_path / "outbox.sqlite") as journal:
        for row in rows:
            journal.write(row.at, [], [row])
        assert journal.history() == rows
        assert journal.history(since=20) == rows[1:]
        assert journal.history(component="bus") == rows[:2]


def test_history_older_than_history_days_is_pruned_and_newer_is_kept(tmp_path):
    with Journal(tmp_path / "outbox.sqlite", history_days=7) as journal:
        for at in (0.0, 1 * DAY, 3 * DAY, 8 * DAY):
            journal.write(at, [], [Transition("bus", H, S, at)])
        assert journal.prune(now=9 * DAY) == 2  # the rows of day 0 and day 1 are > 7 d old
        assert [t.at for t in journal.history()] == [3 * DAY, 8 * DAY]
        assert journal.prune(now=9 * DAY) == 0


def test_machines_prune_on_resume_with_the_configured_age(tmp_path):
    path = tmp_path / "outbox.sqlite"
    with Journal(path) as journal:
        journal.write(0, [], [Transition("bus", H, S, 0), Transition("bus", S, H, 2 * DAY)])
    with Journal(path, history_days=1.5) as journal:
        machines = JournaledMachines(journal)
        machines.resume(now=3 * DAY, hub_name="hub")
        assert [t.at for t in journal.history()] == [2 * DAY]


def test_the_run_records_start_heartbeat_and_a_clean_stop(tmp_path):
    with Journal(tmp_path / "outbox.sqlite") as journal:
        assert journal.begin_run(100) is None  # the very first start
        journal.beat(130)
        journal.beat(160)
        assert journal.previous_run() == PreviousRun(started_at=100, alive_at=160,
                                                     stopped_at=None)
        journal.end_run(175, [])
        assert journal.begin_run(500) == PreviousRun(started_at=100, alive_at=175,
                                                     stopped_at=175)
        assert journal.previous_run() == PreviousRun(started_at=500, alive_at=500,
                                                     stopped_at=None)


def test_a_transition_after_the_last_beat_counts_as_a_sign_of_life(tmp_path):
    with Journal(tmp_path / "outbox.sqlite") as journal:
        journal.begin_run(100)
        journal.beat(130)
        journal.write(141, [Snapshot(component="bus", state=S, since=141)])
        previous = journal.previous_run()
    assert previous is not None and not previous.is_clean and previous.last_alive_at == 141


def test_the_journal_shares_the_outbox_file_without_disturbing_it(tmp_path):
    path = tmp_path / "outbox.sqlite"
    notice = Notice(kind=NoticeKind.STARTED, component="hub", at=1)
    with Outbox(path) as outbox, Journal(path) as journal:
        outbox.put([notice])
        journal.write(2, [Snapshot(component="bus", state=H, since=0)],
                      [Transition("bus", H, S, 2)])
        assert [e.notice for e in outbox.pending()] == [notice]
        assert len(journal.history()) == 1


def test_an_unreadable_saved_state_is_skipped_with_a_log_line(tmp_path, caplog):
    path = tmp_path / "outbox.sqlite"
    with Journal(path) as journal:
        journal.write(1, [Snapshot(component="bus", state=A, since=0, first_failure_at=0)])
        # what an older or damaged file could hold
        journal._db.execute("INSERT INTO journal_machine VALUES ('web', '{\"state\": 1}', 1)")
        journal._db.execute("INSERT INTO journal_machine VALUES ('pixoo', 'not json', 1)")
        with caplog.at_level(logging.WARNING, logger="hub.storage.journal"):
            assert [s.component for s in journal.snapshots()] == ["bus"]
    assert "web" in caplog.text and "pixoo" in caplog.text


# -- what JournaledMachines write, and when ------------------------------------------------

def started(path: Path, *components: str, now: float = 0.0,
            policy: Policy | None = None) -> JournaledMachines:
    machines = JournaledMachines(Journal(path))
    for component in components:
        machines.add(component, policy or Policy(), now)
    machines.resume(now, "hub")
    return machines


def test_polls_that_change_no_state_write_nothing_until_the_beat(tmp_path):
    path = tmp_path / "outbox.sqlite"
    machines = started(path, "bus")
    try:
        wal = Path(f"{path}-wal")
        size = wal.stat().st_size
        for second in range(1, 101):
            assert machines.observe(Outcome.success("bus", second), second) == []
        assert wal.stat().st_size == size  # a hundred polls: not a byte written
        assert machines.journal.snapshots() == []
        machines.beat(101)
        assert machines.journal.snapshots() == [machines.snapshot("bus")]
        assert machines.journal.snapshots()[0].successes == 100
        assert machines.journal.history() == []
    finally:
        machines.journal.close()


def test_a_state_change_is_written_at_once_with_its_history_row(tmp_path):
    machines = started(tmp_path / "outbox.sqlite", "bus",
                       policy=Policy(failures_before_alert=2))
    try:
        machines.observe(Outcome.failure("bus", 10, "timeout"), 10)
        assert machines.journal.snapshots() == [machines.snapshot("bus")]
        notices = machines.observe(Outcome.failure("bus", 12, "timeout"), 12)
        assert [n.kind for n in notices] == [NoticeKind.ALERT]
        assert machines.journal.snapshots() == [machines.snapshot("bus")]
        assert machines.journal.history() == [Transition("bus", H, S, 10),
                                              Transition("bus", S, A, 12, tuple(notices))]
    finally:
        machines.journal.close()


def test_a_reminder_is_a_history_row_though_the_state_stays(tmp_path):
    machines = started(tmp_path / "outbox.sqlite", "bus",
                       policy=Policy(failures_before_alert=1, remind_after_seconds=60))
    try:
        machines.observe(Outcome.failure("bus", 0, "timeout"), 0)
        first = machines.tick("bus", 60)
        second = machines.tick("bus", 180)
        assert [(t.from_state, t.to_state, t.at, [n.reminder for n in t.notices])
                for t in machines.journal.history()] == [
            (H, A, 0, [None]), (A, R, 60, [1]), (R, R, 180, [2])]
        assert [n.reminder for n in first + second] == [1, 2]
        assert machines.journal.snapshots()[0].next_reminder_at == 180 + 240
    finally:
        machines.journal.close()


def test_save_writes_every_snapshot_exactly_and_marks_the_stop_clean(tmp_path):
    machines = started(tmp_path / "outbox.sqlite", "bus", "weather",
                       policy=Policy(failures_before_alert=3))
    try:
        machines.observe(Outcome.failure("bus", 5, "timeout", "first"), 5)
        machines.observe(Outcome.failure("bus", 6, "connect", "second"), 6)  # still suspect
        machines.observe(Outcome.success("weather", 7), 7)
        machines.save(8)
        assert machines.journal.snapshots() == machines.snapshots()
        previous = machines.journal.previous_run()
        assert previous is not None and previous.stopped_at == 8
    finally:
        machines.journal.close()


def test_an_incident_the_error_rate_opened_survives_a_restart_but_its_window_does_not(
        tmp_path):
    path = tmp_path / "outbox.sqlite"
    policy = Policy(failures_before_alert=5, remind_after_seconds=0, error_rate_threshold=0.5,
                    error_rate_min_outcomes=4)
    machines = started(path, "pixoo", policy=policy)
    notices = []
    for second, ok in enumerate([True, False, True, False], start=1):
        outcome = (Outcome.success("pixoo", second) if ok
                   else Outcome.failure("pixoo", second, "timeout"))
        notices += machines.observe(outcome, second)
    assert [(n.kind, n.window_failed, n.window_outcomes) for n in notices] == [
        (NoticeKind.ALERT, 2, 4)]
    machines.save(5)
    machines.journal.close()
    again = started(path, "pixoo", now=6, policy=policy)
    try:
        assert again.snapshot("pixoo").rate_opened
        # The window starts empty: three successes are not yet the four outcomes a share
        # needs; the fourth is, with none failed.
        recovered = [n for second in (7, 8, 9, 10)
                     for n in again.observe(Outcome.success("pixoo", second), second)]
        assert [(n.kind, n.at) for n in recovered] == [(NoticeKind.RECOVERY, 10)]
    finally:
        again.journal.close()


def test_config_reads_history_days_and_rejects_nonsense(tmp_path):
    path = tmp_path / "hub.toml"
    assert parse_config({"hub": {"history_days": 2}}, path).hub.history_days == 2.0
    assert parse_config({}, path).hub.history_days == 7.0
    for bad in (0, -1, "7", True, math.inf):
        with pytest.raises(ConfigError, match=r"hub.toml: \[hub\] history_days: expected"):
            parse_config({"hub": {"history_days": bad}}, path)
