"""The webhook half of delivery, through the real Delivery + WebhookTransport + Outbox.

The other side is `tests/fakes/discord_webhook.py`, a local fake of Discord's webhook API.
Client and fake share one asyncio loop whose clock is virtual
(`tests/fakes/virtual_time.py`): rate-limit
windows, `retry_after`, backoff and request timeouts pass in no real time, and the time
the fake records for each request is exact, so a test can say "the retry came exactly
2.0 s after the 429" without measuring anything real.

For every fault: nothing is lost, nothing is posted twice unless the documented window
(Discord accepted, the answer was lost) was hit, and no more requests are made than the
fault needs. See docs/delivery.md for the guarantee these tests pin.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.notify.delivery import BACKOFF_FIRST_SECONDS, MESSAGE_INTERVAL_SECONDS, Delivery
from hub.notify.outbox import Outbox
from hub.notify.webhook import REQUEST_TIMEOUT_SECONDS, Webhook, WebhookTransport
from machines import HealthState, Notice, NoticeKind
from tests.fakes.discord_webhook import FakeDiscord, Fault
from tests.fakes.virtual_time import virtual_time_runner

#: Distinctive, so a search of logs and payloads for it cannot match by accident.
TOKEN = "Xq7-s3cr3t_T0ken-9fZ"
WEBHOOK_ID = "112233445566778899"
#: Virtual seconds: longer than any backoff (300 s at most), so a retry or a stray
#: request would happen within it; waits that end far sooner when the code is right.
WAIT_SECONDS = 600.0


# -- the rig ------------------------------------------------------------------------------


class Rig:
    """Outbox, transport and a running `Delivery.run`, pointed at the fake."""

    def __init__(self, fake: FakeDiscord, state_dir: Path, seed: int = 0,
                 message_interval_seconds: float = MESSAGE_INTERVAL_SECONDS) -> None:
        self.fake = fake
        self.outbox = Outbox(state_dir / "outbox.sqlite")
        self.transport = WebhookTransport(Webhook.parse(fake.webhook_url), fake.api_base)
        self.loop = asyncio.get_running_loop()
        self.delivery = Delivery(self.outbox, self.transport, "test-hub", self.loop.time,
                                 rng=random.Random(seed),
                                 message_interval_seconds=message_interval_seconds)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Rig:
        self._task = asyncio.create_task(self.delivery.run(self._stop))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        await self.transport.close()
        self.outbox.close()

    def emit(self, *notices: Notice) -> None:
        """What the composition root does with each notice a machine emits."""
        self.outbox.put(notices)
        self.delivery.wake()

    async def posted(self, count: int) -> list[str]:
        """Wait until `count` tagged notices were posted; return every tag posted."""
        await self.fake.wait_for(lambda fake: len(posted_tags(fake)) >= count, WAIT_SECONDS)
        return posted_tags(self.fake)

    async def quiet(self) -> None:
        """Let virtual time run far ahead: any retry or stray request would happen now."""
        await asyncio.sleep(WAIT_SECONDS)


def alert(tag: str, component: str | None = None, at: float = 0.0,
          kind: NoticeKind = NoticeKind.ALERT) -> Notice:
    """A health notice whose `error_type` is `tag`, to find it in what was posted."""
    return Notice(kind=kind, component=component or f"c-{tag}", at=at,
                  state=HealthState.ALERTING, failures=3, failing_for_seconds=90,
                  error_type=tag, error_detail=f"read timed out ({tag})",
                  reminder=1 if kind is NoticeKind.REMINDER else None)


_SUMMARY_TAG = re.compile(r"failing: (\S+)")


def posted_tags(fake: FakeDiscord) -> list[str]:
    """Tags of the health notices Discord posted, in the order a reader sees them."""
    return [tag for message in fake.messages for tag in embed_tags(message["embeds"])]


def embed_tags(embeds: Iterable[dict[str, Any]]) -> list[str]:
    tags: list[str] = []
    for embed in embeds:
        fields = {f["name"]: f["value"] for f in embed.get("fields", [])}
        if "Error type" in fields:
            tags.append(fields["Error type"])
        else:  # a storm summary: one line per notice
            tags += _SUMMARY_TAG.findall(embed.get("description") or "")
    return tags


def outcomes(fake: FakeDiscord) -> list[str]:
    return [r.outcome for r in fake.executes]


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    """An asyncio runner whose loop has a virtual clock (time passes only when idle)."""
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


# -- the happy path -----------------------------------------------------------------------


def test_a_notice_is_posted_once_with_wait_true_and_then_leaves_the_outbox(
        runner, fake, tmp_path):
    async def scenario() -> None:
        async with Rig(fake, tmp_path) as rig:
            rig.emit(alert("n1", component="bus"))
            assert await rig.posted(1) == ["n1"]
            await rig.quiet()
            assert rig.outbox.depth() == 0
            assert rig.delivery.status.state == "idle" and rig.delivery.status.sent == 1

    runner.run(scenario())
    (request,) = fake.requests
    assert (request.method, request.path, request.query) == (
        "POST", f"/api/v10/webhooks/{WEBHOOK_ID}/{TOKEN}", {"wait": "true"})
    assert request.body["allowed_mentions"]["parse"] == []
    assert request.body["embeds"][0]["title"] == "🔴 bus is failing"
    assert fake.messages[0]["id"]  # Discord confirmed the message it posted


def test_the_webhook_can_be_verified_without_posting(runner, fake, tmp_path):
    async def scenario() -> str:
        transport = WebhookTransport(Webhook.parse(fake.webhook_url), fake.api_base)
        try:
            return await transport.verify()
        finally:
            await transport.close()

    assert runner.run(scenario()) == "hub alerts"
    assert [(r.method, r.outcome) for r in fake.requests] == [("GET", "fetched")]
    assert fake.messages == []


# -- rate limits ---------------------------------------------------------------------------


def test_a_route_429_is_retried_exactly_after_retry_after_and_not_before(
        runner, fake, tmp_path):
    async def scenario() -> None:
        async with Rig(fake, tmp_path) as rig:
            fake.use_bucket(5)  # another client of this webhook spent the bucket
            rig.emit(alert("n1"))
            assert await rig.posted(1) == ["n1"]
            await rig.quiet()

    runner.run(scenario())
    limited, posted = fake.executes
    assert (limited.outcome, posted.outcome) == ("rate_limited:bucket", "posted")
    retry_after = 2.0  # the whole window: it was spent at the instant we asked
    assert posted.at - limited.at == pytest.approx(retry_after, abs=1e-6)


def test_a_global_429_is_retried_exactly_after_retry_after(runner, fake, tmp_path):
    async def scenario() -> None:
        async with Rig(fake, tmp_path) as rig:
            await asyncio.sleep(0.25)
            fake.use_global(50)  # the host's other traffic spent the global limit
            await asyncio.sleep(0.25)
            rig.emit(alert("n1"))
            assert await rig.posted(1) == ["n1"]
            await rig.quiet()

    runner.run(scenario())
    limited, posted = fake.executes
    assert (limited.outcome, posted.outcome) == ("rate_limited:global", "posted")
    assert limited.status == 429
    assert posted.at - limited.at == pytest.approx(0.75, abs=1e-6)  # the global window's rest


def test_the_bucket_headers_are_honoured_so_a_burst_never_gets_a_429(runner, fake, tmp_path):
    async def scenario() -> None:
        # No spacing of our own: the transport alone keeps within the bucket.
        async with Rig(fake, tmp_path, message_interval_seconds=0) as rig:
            for number in range(12):  # one at a time: each is sent before the next exists
                rig.emit(alert(f"n{number}"))
                await rig.posted(number + 1)
            await rig.quiet()

    runner.run(scenario())
    assert set(outcomes(fake)) == {"posted"}
    times = [r.at for r in fake.executes]
    # Five per 2 s window: the sixth waits for the reset the headers announced.
    assert len(times) == 12
    assert times[5] - times[0] == pytest.approx(2.0, abs=1e-3)
    assert times[10] - times[5] == pytest.approx(2.0, abs=1e-3)


def test_messages_are_spaced_so_a_burst_is_packed_after_the_first(runner, fake, tmp_path):
    async def scenario() -> None:
        async with Rig(fake, tmp_path) as rig:
            for number in range(4):  # four notices, 0.1 s apart
                rig.emit(alert(f"n{number}"))
                await asyncio.sleep(0.1)
            assert await rig.posted(4) == ["n0", "n1", "n2", "n3"]
            await rig.quiet()

    runner.run(scenario())
    first, second = fake.executes
    assert [len(m["embeds"]) for m in fake.messages] == [1, 3]
    assert second.at - first.at == pytest.approx(MESSAGE_INTERVAL_SECONDS, abs=1e-6)


# -- server errors, resets, hangs ----------------------------------------------------------


def test_500_and_502_are_retried_with_growing_backoff_then_delivered_once(
        runner, fake, tmp_path):
    async def scenario() -> None:
        async with Rig(fake, tmp_path) as rig:
            fake.fail_next(Fault.http(500), Fault.http(502))
            rig.emit(alert("n1"), alert("n2"))
            assert await rig.posted(2) == ["n1", "n2"]
            assert rig.delivery.status.failed_attempts == 2
            await rig.quiet()
            assert rig.delivery.status.state == "idle"

    runner.run(scenario())
    assert outcomes(fake) == ["fault:status", "fault:status", "posted"]
    first, second, third = (r.at for r in fake.executes)
    # Exponential backoff with ±20 % jitter: about 1 s, then about 2 s.
    assert 0.8 * BACKOFF_FIRST_SECONDS <= second - first <= 1.2 * BACKOFF_FIRST_SECONDS
    assert 1.6 * BACKOFF_FIRST_SECONDS <= third - second <= 2.4 * BACKOFF_FIRST_SECONDS
    assert len(fake.messages) == 1  # both notices, one message, posted once


def test_a_reset_connection_is_retried_and_the_notice_posted_once(runner, fake, tmp_path):
    async def scenario() -> None:
        async with Rig(fake, tmp_path) as rig:
            fake.fail_next(Fault.reset())
            rig.emit(alert("n1"))
            assert await rig.posted(1) == ["n1"]
            await rig.quiet()

    runner.run(scenario())
    assert outcomes(fake) == ["fault:reset", "posted"]


def test_a_hung_request_times_out_keeps_the_notice_and_delivers_it_later(
        runner, fake, tmp_path):
    async def scenario() -> None:
        async with Rig(fake, tmp_path) as rig:
            fake.fail_next(Fault.hang())
            rig.emit(alert("n1"))
            await fake.wait_for(lambda f: len(f.executes) == 1, WAIT_SECONDS)
            assert rig.outbox.depth() == 1  # in flight, still on disk
            # Other work on the loop goes on while the request hangs.
            await asyncio.sleep(REQUEST_TIMEOUT_SECONDS / 2)
            assert rig.delivery.status.state == "idle" and len(fake.executes) == 1
            assert await rig.posted(1) == ["n1"]
            await rig.quiet()
            assert rig.outbox.depth() == 0

    runner.run(scenario())
    hung, posted = fake.executes
    assert (hung.outcome, posted.outcome) == ("fault:hang", "posted")
    waited = posted.at - hung.at  # the request timeout, then the first backoff
    assert REQUEST_TIMEOUT_SECONDS + 0.8 <= waited <= REQUEST_TIMEOUT_SECONDS + 1.2


def test_when_discord_posted_but_the_answer_was_lost_the_message_repeats_once(
        runner, fake, tmp_path):
    """The documented window of the at-least-once guarantee: Discord accepted the
    message, the hub never heard so, and sends it again. Exactly once again."""
    async def scenario() -> None:
        async with Rig(fake, tmp_path) as rig:
            fake.fail_next(Fault.accept_then_reset())
            rig.emit(alert("n1"))
            assert await rig.posted(2) == ["n1", "n1"]
            await rig.quiet()
            assert rig.outbox.depth() == 0

    runner.run(scenario())
    assert outcomes(fake) == ["posted:then_reset", "posted"]


# -- permanent failures --------------------------------------------------------------------


@pytest.mark.parametrize(("break_it", "status", "says"), [
    (FakeDiscord.delete_webhook, 404, "deleted"),
    (FakeDiscord.revoke_token, 401, "rejected the webhook token"),
])
def test_a_deleted_webhook_or_rejected_token_stops_delivery_and_keeps_the_notices(
        runner, fake, tmp_path, caplog, break_it, status, says):
    async def scenario() -> None:
        async with Rig(fake, tmp_path) as rig:
            break_it(fake)
            rig.emit(alert("n1"), alert("n2"))
            await fake.wait_for(lambda f: len(f.executes) == 1, WAIT_SECONDS)
            await rig.quiet()
            rig.emit(alert("n3"))  # new notices neither restart nor hammer
            await rig.quiet()
            assert rig.outbox.depth() == 3
            assert [e.notice.error_type for e in rig.outbox.pending()] == ["n1", "n2", "n3"]
            status_now = rig.delivery.status
            assert status_now.state == "stopped" and says in status_now.detail

    with caplog.at_level(logging.INFO):
        runner.run(scenario())
    assert [(r.status, r.outcome) for r in fake.executes] == [(status, "refused")]
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(loud) == 1 and says in loud[0] and "kept in the outbox" in loud[0]


# -- refused payloads ----------------------------------------------------------------------


def test_a_refused_notice_is_dropped_with_a_reason_and_its_neighbours_still_go(
        runner, fake, tmp_path, caplog):
    async def scenario() -> None:
        async with Rig(fake, tmp_path) as rig:
            fake.reject_embeds_containing("poison")
            rig.emit(alert("n1"), alert("poison"), alert("n3"))
            assert await rig.posted(2) == ["n1", "n3"]
            await rig.quiet()
            assert rig.outbox.depth() == 0

    with caplog.at_level(logging.WARNING):
        runner.run(scenario())
    dropped = [r.getMessage() for r in caplog.records if "dropping" in r.getMessage()]
    assert len(dropped) == 1
    assert "c-poison" in dropped[0] and "HTTP 400" in dropped[0]
    # The packed message was refused; each of its notices was then tried alone, once.
    assert outcomes(fake) == ["rejected", "posted", "rejected", "posted"]


def test_every_message_the_hub_builds_passes_discords_validation(runner, fake, tmp_path):
    """Huge, hostile error text on many components at once: truncated, never refused."""
    hostile = "@everyone ```" + "x" * 9000 + "\u202e\x00"

    async def scenario() -> None:
        async with Rig(fake, tmp_path) as rig:
            rig.emit(*[Notice(kind=NoticeKind.ALERT, component=f"comp-{i}" * 40, at=i,
                              state=HealthState.ALERTING, failures=3, error_type=f"n{i}",
                              error_detail=hostile) for i in range(5)])
            assert await rig.posted(5) == [f"n{i}" for i in range(5)]
            await rig.quiet()

    runner.run(scenario())
    assert set(outcomes(fake)) == {"posted"}


# -- ordering, and no more requests than needed, under any mix of faults --------------------

transient_faults = st.sampled_from([
    Fault.http(500), Fault.http(502), Fault.http(503), Fault.reset(), Fault.hang()])


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(st.sampled_from("abc"), min_size=1, max_size=8),
                        min_size=1, max_size=5),
       faults=st.lists(transient_faults, max_size=4),
       bucket_used=st.integers(min_value=0, max_value=5))
def test_any_mix_of_transient_faults_delivers_everything_once_in_order(
        tmp_path_factory, batches, faults, bucket_used):
    emitted: list[Notice] = []
    state_dir = tmp_path_factory.mktemp("state")

    async def scenario(fake: FakeDiscord) -> None:
        async with Rig(fake, state_dir) as rig:
            fake.use_bucket(bucket_used)
            fake.fail_next(*faults)
            for batch in batches:
                notices = [alert(f"n{len(emitted) + i}", component=name)
                           for i, name in enumerate(batch)]
                emitted.extend(notices)
                rig.emit(*notices)
                await asyncio.sleep(0.3)  # the next poll round, in virtual time
            await rig.posted(len(emitted))
            await rig.quiet()
            assert rig.outbox.depth() == 0

    with virtual_time_runner() as runner:
        fake = FakeDiscord(webhook_id=WEBHOOK_ID, token=TOKEN)
        runner.run(fake.start())
        try:
            runner.run(scenario(fake))
        finally:
            runner.run(fake.stop())

    tags = posted_tags(fake)
    assert tags == [n.error_type for n in emitted]  # each once, in the order emitted
    for component in "abc":  # so, per component too
        mine = [n.error_type for n in emitted if n.component == component]
        assert [t for t in tags if t in mine] == mine
    # Every request was either a message Discord posted, a scripted fault, or a 429
    # caused by the bucket another client had spent; nothing else, no second tries.
    assert len(fake.executes) == len(fake.messages) + len(faults) + sum(
        r.outcome == "rate_limited:bucket" for r in fake.executes)
    assert sum(r.outcome == "rate_limited:bucket" for r in fake.executes) <= 1


# -- secrets -------------------------------------------------------------------------------


def test_the_token_never_appears_in_logs_payloads_status_or_reprs(runner, fake, tmp_path,
                                                                 caplog):
    secret_texts = (TOKEN, fake.webhook_url)

    async def scenario() -> list[str]:
        async with Rig(fake, tmp_path) as rig:
            fake.use_bucket(5)
            fake.fail_next(Fault.http(500), Fault.reset(), Fault.hang(),
                           Fault.accept_then_reset())
            fake.reject_embeds_containing("poison")
            rig.emit(alert("n1"), alert("poison"), alert("n3"))
            await fake.wait_for(lambda f: "n3" in posted_tags(f), WAIT_SECONDS)
            fake.revoke_token()
            rig.emit(alert("n4"))
            await rig.quiet()
            return [repr(rig.transport), repr(Webhook.parse(fake.webhook_url)),
                    repr(rig.delivery.status)]

    with caplog.at_level(logging.DEBUG):
        shown = runner.run(scenario())
    logged = []
    for record in caplog.records:
        logged.append(record.getMessage())
        if record.exc_info:
            logged.append(logging.Formatter().formatException(record.exc_info))
    assert len(logged) >= 5  # the faults were logged …
    payloads = [json.dumps(r.body) for r in fake.requests]
    for text in secret_texts:  # … and the token is nowhere
        assert not [line for line in logged + payloads + shown if text in line]


# -- the fake itself refuses what Discord refuses (else the tests above prove nothing) -----


def test_the_fake_answers_like_discord_to_bodies_and_limits(runner, fake):
    url = f"{fake.api_base}/webhooks/{WEBHOOK_ID}/{TOKEN}?wait=true"
    embed = {"title": "t", "description": "d", "fields": [{"name": "n", "value": "v"}]}
    bodies = {
        "ok": {"embeds": [embed]},
        "eleven embeds": {"embeds": [embed] * 11},
        "long title": {"embeds": [{**embed, "title": "x" * 257}]},
        "6001 in all": {"embeds": [{**embed, "description": "x" * 4000},
                                   {**embed, "description": "x" * 1997}]},
        "empty field": {"embeds": [{**embed, "fields": [{"name": "n", "value": ""}]}]},
        "empty message": {"embeds": []},
    }

    async def scenario() -> dict[str, tuple[int, str, Any]]:
        answers = {}
        async with aiohttp.ClientSession() as session:
            for name, body in bodies.items():
                await asyncio.sleep(2.0)  # a fresh bucket for each (virtual time)
                async with session.post(url, json=body) as response:
                    answers[name] = (response.status, response.headers["Content-Type"],
                                     await response.json())
            fake.use_bucket(5)
            async with session.post(url, json=bodies["ok"]) as response:
                answers["429"] = (response.status, response.headers["Via"],
                                  {**await response.json(),
                                   "scope": response.headers["X-RateLimit-Scope"]})
        return answers

    answers = runner.run(scenario())
    status, content_type, message = answers["ok"]
    assert (status, content_type, message["embeds"]) == (200, "application/json", [embed])
    for name in ("eleven embeds", "long title", "6001 in all", "empty field"):
        assert answers[name][0] == 400 and answers[name][2]["code"] == 50035, name
    assert answers["6001 in all"][2]["errors"]["embeds"]["_errors"][0]["code"] == \
        "MAX_EMBED_SIZE_EXCEEDED"
    assert answers["empty message"][2]["code"] == 50006
    status, via, limited = answers["429"]
    assert (status, limited["global"], limited["scope"]) == (429, False, "user")
    assert via and limited["retry_after"] > 0
