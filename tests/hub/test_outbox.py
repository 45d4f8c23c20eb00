"""The durable outbox and the packing of its entries into messages."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.notify.embeds import EMBED_TOTAL_MAX, EMBEDS_PER_MESSAGE, embed_length
from hub.notify.outbox import Entry, Outbox
from hub.notify.packing import STORM_THRESHOLD, plan_messages
from machines import HealthState, Notice, NoticeKind


def notice(component: str = "bus", kind: NoticeKind = NoticeKind.ALERT, at: float = 0,
           **extra) -> Notice:
    return Notice(kind=kind, component=component, at=at, state=HealthState.ALERTING,
                  failures=3, error_type="timeout", error_detail="read timed out", **extra)


def test_notices_come_back_in_order_and_leave_only_when_acked(tmp_path):
    with Outbox(tmp_path / "outbox.sqlite") as outbox:
        ids = outbox.put([notice("bus", at=1), notice("weather", at=2), notice("bus", at=3)])
        assert [e.notice.at for e in outbox.pending()] == [1, 2, 3]
        outbox.ack(ids[:1])
        assert [e.id for e in outbox.pending()] == ids[1:]
        assert outbox.depth() == 2


def test_round_trip_preserves_every_field(tmp_path):
    original = notice(kind=NoticeKind.STARTED, details=(("components", "bus, weather"),),
                      next_reminder_at=99.5, last_success_at=1.25)
    with Outbox(tmp_path / "o.sqlite") as outbox:
        outbox.put([original])
        assert outbox.pending()[0].notice == original


def test_failed_attempts_are_counted_and_the_entry_stays(tmp_path):
    with Outbox(tmp_path / "o.sqlite") as outbox:
        (entry_id,) = outbox.put([notice()])
        outbox.failed([entry_id], "http_503")
        outbox.failed([entry_id], "timeout")
        (entry,) = outbox.pending()
        assert (entry.attempts, entry.last_error) == (2, "timeout")


def test_dropping_logs_what_and_why(tmp_path, caplog):
    with Outbox(tmp_path / "o.sqlite") as outbox:
        ids = outbox.put([notice("pixoo")])
        with caplog.at_level(logging.WARNING):
            outbox.drop(ids, "webhook deleted")
        assert outbox.depth() == 0
    assert "dropping alert notice for pixoo" in caplog.text and "webhook deleted" in caplog.text


def test_stored_notices_survive_kill_9(tmp_path):
    path = tmp_path / "o.sqlite"
    script = textwrap.dedent(f"""
        import sys, threading
        from hub.notify.outbox import Outbox
        from machines import Notice, NoticeKind
        outbox = Outbox({str(path)!r})
        outbox.put([Notice(kind=NoticeKind.ALERT, component=f"c{{i}}", at=i) for i in range(5)])
        print("stored", flush=True)
        threading.Event().wait()  # hold the database open until killed
    """)
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONPATH": os.getcwd()}) as proc:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "stored"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    with Outbox(path) as outbox:
        assert [e.notice.component for e in outbox.pending()] == [f"c{i}" for i in range(5)]


def entries(notices: list[Notice]) -> list[Entry]:
    return [Entry(id=i + 1, notice=n, attempts=0, last_error="") for i, n in enumerate(notices)]


def test_a_few_notices_go_out_as_one_message_of_embeds():
    (message,) = plan_messages(entries([notice("bus"), notice("weather")]), "hub")
    assert message.ids == (1, 2)
    assert [e["title"] for e in message.payload["embeds"]] == [
        "🔴 bus is failing", "🔴 weather is failing"]
    assert message.payload["allowed_mentions"]["parse"] == []


def test_a_storm_of_thirty_components_is_one_summary_message():
    storm = entries([notice(f"sensor-{i}", at=i) for i in range(30)])
    (message,) = plan_messages(storm, "hub")
    assert message.ids == tuple(range(1, 31))
    (embed,) = message.payload["embeds"]
    assert embed["title"] == "⚠️ 30 changes at once: 30 failing, 0 recovered"
    lines = embed["description"].splitlines()
    assert len(lines) == 30 and lines[0].startswith("🔴 **sensor-0** failing: timeout")


def test_lifecycle_notices_keep_their_place_around_a_storm():
    mixed = entries([notice("hub", NoticeKind.STARTED),
                     *[notice(f"c{i}") for i in range(STORM_THRESHOLD + 1)],
                     notice("hub", NoticeKind.STOPPED)])
    (message,) = plan_messages(mixed, "hub")
    titles = [e["title"] for e in message.payload["embeds"]]
    assert titles[0] == "🔵 hub started" and titles[-1] == "⚪ hub stopped"
    assert titles[1].startswith("⚠️ 6 changes at once")


kinds = st.sampled_from(list(NoticeKind))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(kinds, st.text(min_size=1, max_size=40), st.text(max_size=2000)),
                max_size=400))
def test_every_entry_is_in_exactly_one_message_in_order_within_limits(raw):
    pending = entries([notice(name, kind, at=i, ) if kind is not NoticeKind.STARTED
                       else Notice(kind=kind, component=name, at=i, details=(("x", detail),))
                       for i, (kind, name, detail) in enumerate(raw)])
    messages = plan_messages(pending, "hub")
    assert [i for m in messages for i in m.ids] == [e.id for e in pending]
    for message in messages:
        assert len(message.payload["embeds"]) <= EMBEDS_PER_MESSAGE
        assert sum(embed_length(e) for e in message.payload["embeds"]) <= EMBED_TOTAL_MAX
