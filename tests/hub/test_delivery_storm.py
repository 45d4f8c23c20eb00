"""A storm: 30 components fail at once behind Discord's 5-per-2-seconds webhook bucket.

The notices come from the real health machines, one poll outcome at a time as the
daemon sees them, and go through the real outbox, delivery and webhook transport to
the fake Discord, in virtual time. The owner must get a few messages with summary
embeds, Discord must never answer 429, and every notice must arrive exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from hub.notify.delivery import MESSAGE_INTERVAL_SECONDS
from machines import HealthMachines, Outcome, Policy
from tests.fakes.discord_webhook import FakeDiscord
from tests.fakes.virtual_time import virtual_time_runner
from tests.hub.test_webhook import WAIT_SECONDS, Rig, embed_tags, posted_tags

COMPONENTS = [f"sensor-{number:02d}" for number in range(30)]
#: When the network drops, every poll of a round fails within a fraction of a second.
OUTCOME_SPACING_SECONDS = 0.02


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    with virtual_time_runner() as runner:
        yield runner


@pytest.fixture
def fake(runner: asyncio.Runner) -> Iterator[FakeDiscord]:
    """Discord's webhook bucket: 5 requests per 2 s."""
    fake = FakeDiscord(bucket_limit=5, bucket_seconds=2.0)
    runner.run(fake.start())
    try:
        yield fake
    finally:
        runner.run(fake.stop())


async def storm(rig: Rig, machines: HealthMachines, ok: bool, at: float) -> list[str]:
    """One poll round in which every component reports `ok`; returns the notices' tags."""
    tags = []
    for number, component in enumerate(COMPONENTS):
        now = at + number * OUTCOME_SPACING_SECONDS
        await asyncio.sleep(max(now - rig.loop.time(), 0))
        outcome = Outcome(component=component, ok=ok, at=now,
                          error_type="" if ok else f"connect-{component}",
                          detail="" if ok else "connection refused")
        notices = machines.observe(outcome, now)
        rig.emit(*notices)
        tags += [n.error_type for n in notices]
    return tags


@pytest.mark.parametrize(("spacing", "expected_messages"), [
    (MESSAGE_INTERVAL_SECONDS, 2),  # as the daemon runs: first alert, then one summary
    (0.0, 6),  # no spacing of our own: the bucket headers alone keep Discord happy
])
def test_thirty_components_failing_at_once_make_few_messages_and_no_429(
        runner, fake: FakeDiscord, tmp_path, spacing, expected_messages):
    machines = HealthMachines()
    policy = Policy(failures_before_alert=1, remind_after_seconds=0)
    for component in COMPONENTS:
        machines.add(component, policy, 0.0)

    async def scenario() -> tuple[list[str], list[str]]:
        async with Rig(fake, tmp_path, message_interval_seconds=spacing) as rig:
            alerts = await storm(rig, machines, ok=False, at=1.0)
            await fake.wait_for(lambda f: len(posted_tags(f)) == len(alerts), WAIT_SECONDS)
            recoveries = await storm(rig, machines, ok=True, at=60.0)
            await fake.wait_for(lambda f: len(f.messages) >= 2 * expected_messages,
                                WAIT_SECONDS)
            await rig.quiet()
            assert rig.outbox.depth() == 0
            return alerts, recoveries

    alerts, recoveries = runner.run(scenario())
    assert len(alerts) == 30 and len(recoveries) == 30
    assert not [r for r in fake.executes if r.status == 429]
    assert [r.outcome for r in fake.executes] == ["posted"] * len(fake.messages)
    assert len(fake.messages) == 2 * expected_messages  # one set per storm
    alert_messages = fake.messages[:expected_messages]
    assert embed_tags(e for m in alert_messages for e in m["embeds"]) == alerts  # once, in order
    recovered = [line for m in fake.messages for e in m["embeds"]
                 for line in (e.get("description") or "").splitlines() + [e["title"]]
                 if "recovered" in line and "changes at once" not in line]
    assert len(recovered) == 30  # … and every recovery
    first, summary = fake.messages[0]["embeds"][0], fake.messages[-1]["embeds"][0]
    assert first["title"] == "🔴 sensor-00 is failing"
    assert summary["title"].startswith("⚠️") and "recovered" in summary["title"]
