"""The owner's published picture: frozen, and holding what the page and /metrics show."""

from __future__ import annotations

import dataclasses

import pytest

from hub.status.recorder import StatusRecorder
from machines import HealthState, Notice, NoticeKind, Outcome, Snapshot


def test_publish_freezes_notices_counts_latency_and_values():
    recorder = StatusRecorder("hub", started_at=100.0, recent_max=2)
    for at in (101.0, 102.0, 103.0):
        recorder.notice(Notice(kind=NoticeKind.ALERT, component="web", at=at))
    recorder.outcome(Outcome.success("web", 104.0, latency_seconds=0.25))
    recorder.outcome(Outcome.success("freezer", 104.0, data=-18.5))
    snapshot = Snapshot(component="web", state=HealthState.ALERTING, since=101.0)
    status = recorder.publish(105.0, [snapshot], None, outbox_depth=3)
    assert recorder.latest is status
    assert [n.at for n in status.recent_notices] == [102.0, 103.0]  # bounded, newest kept
    assert status.notices_by_kind == (("alert", 3),)
    assert status.source_latency_seconds == (("web", 0.25),)
    assert status.values == (("freezer", -18.5),)
    assert (status.at, status.started_at, status.outbox_depth) == (105.0, 100.0, 3)
    assert status.machines == (snapshot,)
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.outbox_depth = 0  # type: ignore[misc]


def test_a_later_publication_does_not_change_an_earlier_one():
    recorder = StatusRecorder("hub", started_at=0.0)
    first = recorder.publish(1.0, [], None, outbox_depth=0)
    recorder.notice(Notice(kind=NoticeKind.RECOVERY, component="web", at=2.0))
    second = recorder.publish(2.0, [], None, outbox_depth=1)
    assert first.recent_notices == () and first.outbox_depth == 0
    assert len(second.recent_notices) == 1
