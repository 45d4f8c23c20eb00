"""The outbox stays under `max_bytes` through a Discord outage, and loses no alert or
recovery (docs/delivery.md, "A bound on what waits").

A property test on virtual time: random incidents (alerts, reminders, recoveries, acks)
of a few components are queued while the fake webhook answers 503 and delivery keeps
trying; after every `put` the queued bytes are within the bound whenever something that
may be dropped is left; when Discord is back, every alert and recovery goes out, in order.
"""

from __future__ import annotations

import asyncio
import logging
import random
import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.notify.delivery import Delivery
from hub.notify.outbox import Outbox
from hub.notify.webhook import Webhook, WebhookTransport
from machines import Notice, NoticeKind
from tests.fakes.discord_webhook import FakeDiscord, Fault
from tests.fakes.virtual_time import virtual_time_runner
from tests.hub.test_incident_edits import T0, notice

COMPONENTS = ("bus", "weather", "pixoo")
#: Small, so a few dozen notices of about 600 bytes go over it.
MAX_BYTES = 8 * 1024
MAX_STEPS = 500
#: A step this long lets delivery try again (and fail) on its way; shorter ones do not.
RETRY_AFTER_SECONDS = 3600

#: One step of the outage: which component moves, whether it recovers (when failing),
#: whether an operator acks it, and how many virtual seconds pass.
steps = st.lists(st.tuples(st.sampled_from(COMPONENTS), st.booleans(), st.booleans(),
                           st.floats(min_value=0, max_value=7200)),
                 min_size=1, max_size=50)


def droppable(outbox: Outbox) -> bool:
    """Whether a reminder made moot by a later one (or the recovery) or an edit is queued."""
    later: set[str] = set()
    for entry in reversed(outbox.pending(limit=10_000)):
        key = entry.notice.incident or entry.notice.component
        if entry.notice.kind is NoticeKind.REMINDER and key in later:
            return True
        if entry.notice.kind in (NoticeKind.REMINDER, NoticeKind.RECOVERY):
            later.add(key)
    return bool(outbox.edits.pending())


def kept(notices: list[Notice]) -> list[tuple[str, str | None]]:
    """What must never be lost: each alert and recovery, in order."""
    return [(n.kind.value, n.incident) for n in notices
            if n.kind in (NoticeKind.ALERT, NoticeKind.RECOVERY)]


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(history=steps, seed=st.integers(0, 2**16))
def test_the_bound_holds_through_an_outage_and_every_alert_and_recovery_survives(
        history, seed, caplog):
    caplog.set_level(logging.ERROR)  # the drops' warnings are expected by the hundred

    async def scenario(folder: Path) -> None:
        fake = FakeDiscord(webhook_id="5", token="tok")
        await fake.start()
        outbox = Outbox(folder / "outbox.sqlite", max_bytes=MAX_BYTES)
        transport = WebhookTransport(Webhook.parse(fake.webhook_url), fake.api_base)
        loop = asyncio.get_running_loop()
        delivery = Delivery(outbox, transport, "hub", loop.time, rng=random.Random(seed))
        try:
            fake.fail_always(Fault.http(503))
            put: list[Notice] = []
            open_incidents: dict[str, tuple[int, int]] = {}  # component -> (n, reminders)
            numbers = dict.fromkeys(COMPONENTS, 0)
            at = T0
            for component, recovers, acks, seconds in history:
                at += seconds
                if component not in open_incidents:
                    numbers[component] += 1
                    open_incidents[component] = (numbers[component], 0)
                    item = notice(NoticeKind.ALERT, component, numbers[component], at)
                elif recovers:
                    number, _ = open_incidents.pop(component)
                    item = notice(NoticeKind.RECOVERY, component, number, at)
                else:
                    number, reminders = open_incidents[component]
                    open_incidents[component] = (number, reminders + 1)
                    item = notice(NoticeKind.REMINDER, component, number, at,
                                  reminder=reminders + 1)
                outbox.put([item])
                put.append(item)
                if acks and item.incident is not None:
                    outbox.put_edit(replace(item, acked_by="ola"))
                assert outbox.size_bytes() <= MAX_BYTES or not droppable(outbox)
                if seconds > RETRY_AFTER_SECONDS:  # delivery tries again, and fails
                    await delivery.step()
            survivors = [e.notice for e in outbox.pending(limit=10_000)]
            assert kept(survivors) == kept(put)
            fake.fail_always(None)
            for _ in range(MAX_STEPS):
                delay = await delivery.step()
                if delay is None:
                    break
                await asyncio.sleep(delay)
            assert outbox.depth() == 0 and not outbox.edits.pending()
            assert delivery.status.sent == len(survivors)
        finally:
            await transport.close()
            outbox.close()
            await fake.stop()

    with tempfile.TemporaryDirectory() as folder, virtual_time_runner() as runner:
        runner.run(scenario(Path(folder)))


def test_over_the_bound_moot_reminders_go_first_then_edits_with_a_logged_reason(
        tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    # Room for about two notices (466 bytes each): an alert, its reminders and an edit
    # do not fit.
    with Outbox(tmp_path / "outbox.sqlite", max_bytes=1200) as outbox:
        outbox.put([notice(NoticeKind.ALERT)])
        outbox.put([notice(NoticeKind.REMINDER, at=T0 + 3600 * i, reminder=i)
                    for i in range(1, 6)])
        assert outbox.size_bytes() <= 1200
        assert caplog.text.count("a later reminder or the recovery of the same incident") == 4
        outbox.put([notice(NoticeKind.ALERT, "weather")] * 30)
        remaining = [(e.notice.kind.value, e.notice.reminder) for e in outbox.pending(100)]
    # Only the latest reminder of bus#1 is left, and no edit: the rest was moot. The
    # weather alerts stay though they go over the bound: an alert is never dropped.
    assert remaining[:2] == [("alert", None), ("reminder", 5)]
    assert remaining[2:] == [("alert", None)] * 30
    assert "dropping the edit of bus#1's alert message: the outbox is over its bound" \
        in caplog.text
