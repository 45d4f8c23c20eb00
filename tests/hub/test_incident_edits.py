"""An incident's alert message kept current, and critical alerts that ping, via the webhook.

Real `Outbox`, `Delivery` and `WebhookTransport` against the local fake of Discord's
webhook API (tests/fakes/discord_webhook.py), on a loop whose clock is virtual: the alert
is posted with `?wait=true`, and what the incident does next arrives as
`PATCH …/messages/{id}` with that id — after every new message, latest only, also after
the outbox was abandoned without a clean close (kill -9) and opened again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.notify.alerting import Alerting, Mention, Severity
from hub.notify.delivery import Delivery
from hub.notify.outbox import Outbox
from hub.notify.webhook import Webhook, WebhookTransport
from machines import HealthState, Notice, NoticeKind
from tests.fakes.discord_webhook import FakeDiscord, Fault
from tests.fakes.virtual_time import virtual_time_runner

TOKEN = "Wq5-edit_T0ken-3kP"
WEBHOOK_ID = "998877665544332211"
ROLE_ID = "123456789012345678"
T0 = 1_700_000_000.0
#: Far more steps than any scenario here needs: a delivery that never settles fails.
MAX_STEPS = 100


def notice(kind: NoticeKind, component: str = "bus", n: int = 1, at: float = T0,
           **extra: object) -> Notice:
    """A health notice of incident `<component>#<n>`, as the notification policy stamps it."""
    fields: dict[str, object] = {
        "state": HealthState.RECOVERED if kind is NoticeKind.RECOVERY
        else HealthState.ALERTING, "failures": 3, "failing_for_seconds": at - T0 + 90,
        "error_type": "http_503", "error_detail": "the API answered 503",
        "first_failure_at": T0 - 90, "incident": f"{component}#{n}"}
    if kind is NoticeKind.REMINDER:
        fields["reminder"] = extra.pop("reminder", 1)
    if kind is NoticeKind.RECOVERY:
        fields["downtime_seconds"] = at - T0 + 90
    fields.update(extra)
    return Notice(kind=kind, component=component, at=at, **fields)  # type: ignore[arg-type]


class Rig:
    """Outbox, transport and delivery pointed at the fake; `deliver` runs steps until idle."""

    def __init__(self, fake: FakeDiscord, path: Path, alerting: Alerting | None = None) -> None:
        self.outbox = Outbox(path)
        self.transport = WebhookTransport(Webhook.parse(fake.webhook_url), fake.api_base)
        self.delivery = Delivery(self.outbox, self.transport, "test-hub",
                                 asyncio.get_running_loop().time, rng=random.Random(0),
                                 alerting=alerting)

    async def deliver(self) -> None:
        for _ in range(MAX_STEPS):
            delay = await self.delivery.step()
            if delay is None:
                return
            await asyncio.sleep(delay)  # virtual: the backoff passes at once
        raise AssertionError(f"delivery still busy after {MAX_STEPS} steps")

    async def close(self) -> None:
        await self.transport.close()
        self.outbox.close()


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    with virtual_time_runner() as runner:
        yield runner


@pytest.fixture
def fake(runner: asyncio.Runner) -> Iterator[FakeDiscord]:
    fake = FakeDiscord(webhook_id=WEBHOOK_ID, token=TOKEN)
    runner.run(fake.start())
    try:
        yield fake
    finally:
        runner.run(fake.stop())


def fields_of(embed: dict[str, object]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed["fields"]}  # type: ignore[attr-defined, index]


def requests_in_order(fake: FakeDiscord) -> list[tuple[str, list[str]]]:
    """(method, its embeds' titles) of each request that Discord accepted."""
    return [(r.method, [e["title"] for e in r.body["embeds"]]) for r in fake.requests
            if r.status == 200]


def test_reminders_and_the_recovery_edit_the_alert_message_after_posting_their_own(
        runner, fake, tmp_path):
    async def scenario() -> None:
        rig = Rig(fake, tmp_path / "outbox.sqlite")
        rig.outbox.put([notice(NoticeKind.ALERT)])
        await rig.deliver()
        [alert_message] = fake.messages
        rig.outbox.put([notice(NoticeKind.REMINDER, at=T0 + 3600, reminder=1)])
        await rig.deliver()
        rig.outbox.put([notice(NoticeKind.REMINDER, at=T0 + 7200, reminder=2)])
        await rig.deliver()
        [first, second] = fake.edits
        assert first.path == second.path == (
            f"/api/v10/webhooks/{WEBHOOK_ID}/{TOKEN}/messages/{alert_message['id']}")
        edited = second.body["embeds"][0]
        assert edited["title"] == "🔴 bus is failing"
        assert edited["description"] == "Failing for 2 h 1 min; 2 reminders sent."
        assert fields_of(edited)["Reminder"] == "2"
        assert fields_of(edited)["Incident"] == "bus#1"
        assert second.body["allowed_mentions"]["parse"] == []
        rig.outbox.put([notice(NoticeKind.RECOVERY, at=T0 + 9000)])
        await rig.deliver()
        await rig.close()

    runner.run(scenario())
    # Each notice is its own message; each edit follows the message that caused it.
    assert [(r.method, r.body["embeds"][0]["title"]) for r in fake.requests] == [
        ("POST", "🔴 bus is failing"),
        ("POST", "🟠 bus is still failing"), ("PATCH", "🔴 bus is failing"),
        ("POST", "🟠 bus is still failing"), ("PATCH", "🔴 bus is failing"),
        ("POST", "🟢 bus recovered"), ("PATCH", "🟢 bus recovered")]
    recovered = fake.messages[0]["embeds"][0]
    assert recovered["color"] == 0x00FF00
    assert recovered["description"] == ("Failing since <t:1700000000:f>; back after "
                                        "2 h 31 min of downtime.")
    assert recovered["timestamp"].startswith("2023-11-14T22:13:20")  # the alert's time
    assert [r.query for r in fake.executes] == [{"wait": "true"}] * 4
    assert "message_reference" not in fake.executes[1].body  # a webhook cannot reply


def test_edits_wait_for_every_new_message_and_only_the_latest_goes_out(runner, fake,
                                                                        tmp_path):
    async def scenario() -> None:
        rig = Rig(fake, tmp_path / "outbox.sqlite")
        rig.outbox.put([notice(NoticeKind.ALERT), notice(NoticeKind.ALERT, "weather")])
        await rig.deliver()
        fake.fail_always(Fault.http(503))  # an outage: everything queues up
        rig.outbox.put([notice(NoticeKind.REMINDER, at=T0 + 3600, reminder=1)])
        await asyncio.sleep(1)
        rig.outbox.put([notice(NoticeKind.REMINDER, "weather", at=T0 + 3601, reminder=1)])
        rig.outbox.put([notice(NoticeKind.REMINDER, at=T0 + 7200, reminder=2)])
        rig.outbox.put([notice(NoticeKind.RECOVERY, at=T0 + 8000)])
        assert [e.incident for e in rig.outbox.edits.pending()] == ["weather#1", "bus#1"]
        await rig.delivery.step()  # fails: nothing went through
        fake.fail_always(None)
        await rig.deliver()
        await rig.close()

    runner.run(scenario())
    assert requests_in_order(fake) == [
        ("POST", ["🔴 bus is failing", "🔴 weather is failing"]),
        ("POST", ["🟠 bus is still failing", "🟠 weather is still failing",
                  "🟠 bus is still failing", "🟢 bus recovered"]),
        # after every new message, one edit of the alerts' message: the latest of each
        ("PATCH", ["🟢 bus recovered", "🔴 weather is failing"])]
    patch = fake.edits[-1]
    assert patch.path.endswith(f"/messages/{fake.messages[0]['id']}")
    assert fields_of(patch.body["embeds"][1])["Reminder"] == "1"


def test_an_edit_after_kill_9_and_restart_uses_the_stored_message_id(runner, fake, tmp_path):
    path = tmp_path / "outbox.sqlite"

    async def scenario() -> None:
        first = Rig(fake, path)
        first.outbox.put([notice(NoticeKind.ALERT)])
        await first.deliver()
        fake.fail_always(Fault.http(503))
        first.outbox.put([notice(NoticeKind.REMINDER, at=T0 + 3600, reminder=1)])
        await first.delivery.step()
        assert first.outbox.edits.pending()
        # kill -9: neither the outbox nor the session is closed; a new process opens the file
        fake.fail_always(None)
        second = Rig(fake, path)
        await second.deliver()
        second.outbox.put([notice(NoticeKind.RECOVERY, at=T0 + 5000)])
        await second.deliver()
        await second.close()
        await first.transport.close()

    runner.run(scenario())
    alert_id = fake.messages[0]["id"]
    assert [r.path.rsplit("/", 1)[1] for r in fake.edits] == [alert_id, alert_id]
    assert [e.body["embeds"][0]["title"] for e in fake.edits] == [
        "🔴 bus is failing", "🟢 bus recovered"]


def test_an_ack_edits_the_message_to_say_who_and_why(runner, fake, tmp_path):
    async def scenario() -> None:
        rig = Rig(fake, tmp_path / "outbox.sqlite")
        rig.outbox.put([notice(NoticeKind.ALERT)])
        await rig.deliver()
        assert rig.outbox.put_ack("bus#1", "ola", "moving the router")
        assert not rig.outbox.put_ack("bus#7", "ola")  # no message of it is known
        await rig.deliver()
        await rig.close()

    runner.run(scenario())
    [edit] = fake.edits
    assert fields_of(edit.body["embeds"][0])["Acked by"] == "ola: moving the router"
    assert fields_of(fake.messages[0]["embeds"][0])["Acked by"] == "ola: moving the router"


def test_an_edit_of_a_deleted_message_is_dropped_with_a_log_line_not_retried(
        runner, fake, tmp_path, caplog):
    async def scenario() -> None:
        rig = Rig(fake, tmp_path / "outbox.sqlite")
        rig.outbox.put([notice(NoticeKind.ALERT)])
        await rig.deliver()
        fake.delete_message(fake.messages[0]["id"])
        rig.outbox.put([notice(NoticeKind.REMINDER, at=T0 + 3600, reminder=1)])
        await rig.deliver()
        rig.outbox.put([notice(NoticeKind.RECOVERY, at=T0 + 5000)])
        await rig.deliver()
        await asyncio.sleep(3600)
        assert rig.outbox.edits.pending() == []
        assert rig.delivery.status.state == "idle"
        await rig.close()

    with caplog.at_level(logging.WARNING):
        runner.run(scenario())
    assert [r.outcome for r in fake.edits] == ["unknown_message"]  # once, and forgotten
    assert [r.body["embeds"][0]["title"] for r in fake.executes] == [
        "🔴 bus is failing", "🟠 bus is still failing", "🟢 bus recovered"]
    assert "dropping the edit of bus#1's alert message: the alert message was deleted" \
        in caplog.text
    assert TOKEN not in caplog.text


def test_a_storm_summary_is_not_edited(runner, fake, tmp_path):
    async def scenario() -> None:
        rig = Rig(fake, tmp_path / "outbox.sqlite")
        rig.outbox.put([notice(NoticeKind.ALERT, f"c{i}") for i in range(8)])
        await rig.deliver()
        rig.outbox.put([notice(NoticeKind.REMINDER, "c7", at=T0 + 3600, reminder=1)])
        await rig.deliver()
        await rig.close()

    runner.run(scenario())
    assert fake.edits == []


def test_a_critical_alert_pings_exactly_the_configured_role_and_nothing_else_does(
        runner, fake, tmp_path):
    alerting = Alerting({"router": Severity.CRITICAL, "pixoo": Severity.INFO},
                        mention_critical=Mention("role", ROLE_ID))

    async def scenario() -> None:
        rig = Rig(fake, tmp_path / "outbox.sqlite", alerting)
        for item in (notice(NoticeKind.ALERT, "router"),
                     notice(NoticeKind.REMINDER, "router", at=T0 + 3600),
                     notice(NoticeKind.RECOVERY, "router", at=T0 + 4000),
                     notice(NoticeKind.ALERT, "bus"), notice(NoticeKind.ALERT, "pixoo")):
            rig.outbox.put([item])
            await rig.deliver()
        await rig.close()

    runner.run(scenario())
    bodies = [r.body for r in fake.executes]
    assert bodies[0]["content"] == f"<@&{ROLE_ID}>"
    assert bodies[0]["allowed_mentions"] == {"parse": [], "roles": [ROLE_ID], "users": [],
                                             "replied_user": False}
    assert fields_of(bodies[0]["embeds"][0])["Severity"] == "🚨 critical"
    assert bodies[0]["embeds"][0]["color"] == 0x8B0000
    for body in bodies[1:]:  # reminder, recovery, a warning and an info alert
        assert "content" not in body
        assert body["allowed_mentions"] == {"parse": [], "users": [], "roles": [],
                                            "replied_user": False}
    assert fields_of(bodies[3]["embeds"][0])["Severity"] == "🟠 warning"
    assert bodies[4]["embeds"][0]["color"] == 0x3498DB  # info
    for edit in fake.edits:  # an edit never pings
        assert edit.body["allowed_mentions"]["roles"] == []


def test_a_full_disk_keeps_message_ids_and_edits_in_memory_and_says_so_once(tmp_path,
                                                                              caplog):
    from tests.small_disk import small_disk

    with small_disk(tmp_path) as disk, Outbox(disk.root / "outbox.sqlite") as outbox:
        outbox.put([notice(NoticeKind.ALERT, error_detail="x" * 3000)])
        disk.fill()
        with caplog.at_level(logging.ERROR):
            outbox.edits.posted(notice(NoticeKind.ALERT), "1100", 0, [{"title": "a"}])
            assert outbox.put_ack("bus#1", "ola")
            outbox.put([notice(NoticeKind.REMINDER, at=T0 + 3600, reminder=1)])
        [edit] = outbox.edits.pending()  # the reminder's edit replaced the ack's
        assert (edit.notice.kind, outbox.edits.message_of("bus#1").message_id) == (
            NoticeKind.REMINDER, "1100")
        assert caplog.text.count("kept in memory for this run") == 1
        disk.free()
