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
           error_detail: str = "read timed out", **extra) -> Notice:
    return Notice(kind=kind, component=component, at=at, state=HealthState.ALERTING,
                  failures=3, error_type="timeout", error_detail=error_detail, **extra)


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


# -- a full disk, an unreadable row: delivery never stops ------------------------------

def delivered_by(outbox: Outbox) -> list[str]:
    """Deliver everything pending through the real console transport, one step at a time."""
    import asyncio

    from hub.notify.delivery import Delivery
    from hub.notify.transport import ConsoleTransport

    lines: list[str] = []
    delivery = Delivery(outbox, ConsoleTransport(lines.append), "shelf-pi", clock=lambda: 0.0,
                        message_interval_seconds=0.0)

    async def drain() -> None:
        while await delivery.step() is not None:
            pass

    asyncio.run(drain())
    return [line.split()[2] for line in lines]


def test_a_full_disk_holds_notices_in_memory_in_order_and_writes_them_once_freed(
        tmp_path, caplog):
    from tests.small_disk import small_disk

    with small_disk(tmp_path) as disk:
        outbox = Outbox(disk.root / "outbox.sqlite")
        outbox.put([notice("first")])
        disk.fill()
        with caplog.at_level(logging.ERROR):
            ids = outbox.put([notice(f"held{i}", error_detail="x" * 3000) for i in range(20)])
        assert outbox.write_error == "state_dir is full"
        assert outbox.held == 20 and outbox.depth() == 21
        assert caplog.text.count("outbox: state_dir is full") == 1  # logged once
        # Delivered from memory and disk alike, in order; acks the disk refuses are kept.
        outbox.ack(ids[:5])
        assert [e.notice.component for e in outbox.pending()] == \
            ["first"] + [f"held{i}" for i in range(5, 20)]
        disk.free()
        assert outbox.flush() and outbox.write_error is None and outbox.held == 0
        ids_on_disk = [e.id for e in outbox.pending()]
        assert ids_on_disk == sorted(ids_on_disk) and ids_on_disk[1:] == ids[5:]
        outbox.close()
        with Outbox(disk.root / "outbox.sqlite") as reopened:
            assert [e.notice.component for e in reopened.pending()] == \
                ["first"] + [f"held{i}" for i in range(5, 20)]


def test_a_notice_acked_while_the_disk_is_full_is_not_sent_again(tmp_path):
    from tests.small_disk import small_disk

    with small_disk(tmp_path) as disk:
        path = disk.root / "outbox.sqlite"
        with Outbox(path) as outbox:
            outbox.put([notice(f"c{i}", error_detail="x" * 3000) for i in range(3)])
            disk.fill()
            assert delivered_by(outbox) == ["c0", "c1", "c2"]
            assert outbox.depth() == 0 and outbox.pending() == []  # deletes wait in memory
            assert delivered_by(outbox) == []  # sent once only
            disk.free()
            assert outbox.flush()
        with Outbox(path) as reopened:
            assert reopened.depth() == 0


def insert_raw(path, component: str, kind: str, text: str) -> None:
    import sqlite3

    db = sqlite3.connect(path)
    db.execute("INSERT INTO outbox (component, kind, notice) VALUES (?, ?, ?)",
               (component, kind, text))
    db.commit()
    db.close()


def test_unreadable_rows_are_set_aside_with_a_reason_and_the_rest_are_delivered(
        tmp_path, caplog):
    path = tmp_path / "outbox.sqlite"
    told = []
    with Outbox(path, on_unreadable=told.append) as outbox:
        outbox.put([notice("before")])
    insert_raw(path, "bus", "alert", "{not json")
    future = notice("weather").to_dict() | {"kind": "escalated"}  # a newer version's kind
    import json

    insert_raw(path, "weather", "escalated", json.dumps(future))
    with Outbox(path, on_unreadable=told.append) as outbox:
        outbox.put([notice("after")])
        with caplog.at_level(logging.ERROR):
            assert delivered_by(outbox) == ["before", "after"]
        assert outbox.depth() == 0
        dead = outbox.dead_letters()
    assert [(d.component, d.kind) for d in dead] == [("bus", "alert"), ("weather", "escalated")]
    assert dead[0].reason.startswith("not JSON")
    assert dead[1].reason == "a kind this version does not know: 'escalated'"
    assert told == dead
    assert "cannot be read (not JSON" in caplog.text and "outbox_dead" in caplog.text
    with Outbox(path) as reopened:  # kept, and not offered again
        assert len(reopened.dead_letters()) == 2 and reopened.pending() == []
