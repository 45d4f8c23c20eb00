"""kill -9 with notices pending, then a restart: they go out, as often as promised.

The real daemon (`python -m hub run`) runs as a subprocess against the fake Discord,
running in a thread of this process on a real-time loop. Discord is failing while an
HTTP monitor's target is down, so an alert is queued; the daemon is killed with SIGKILL
once Discord has seen an attempt carrying that alert. After a restart with Discord and
the target healthy, every notice that was pending is posted exactly once more — and a
notice is posted more than once only if Discord had accepted an earlier attempt whose
answer never arrived (the documented window of the at-least-once guarantee).

Across processes time is real: every wait is on a condition, with a timeout.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hub.notify.embeds import embed_for
from hub.notify.outbox import Outbox
from tests.daemon import write_hub_toml
from tests.fakes.discord_webhook import FakeDiscord, Fault, ThreadedFakeDiscord
from tests.fakes.target import Target

HUB_NAME = "restart-hub"
WEBHOOK_URL = "https://discord.com/api/webhooks/1/tok"
#: Generous for a loaded machine; a passing run waits a second or two.
WAIT_SECONDS = 30.0


def write_config(tmp_path: Path, url: str) -> Path:
    """A hub that alerts on the second failure and never reminds."""
    return write_hub_toml(tmp_path, url, hub_name=HUB_NAME,
                          policy={"failures_before_alert": 2, "remind_after_seconds": 0})


@contextmanager
def daemon(config: Path, api_base: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "DISCORD_WEBHOOK_URL": WEBHOOK_URL, "DISCORD_API_BASE": api_base,
           "PYTHONPATH": os.getcwd()}
    with log.open("ab") as out, subprocess.Popen(
            [sys.executable, "-m", "hub", "run", "-c", str(config)], cwd=config.parent,
            env=env, stdout=out, stderr=subprocess.STDOUT) as proc:
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=WAIT_SECONDS)


def identity(embed: dict[str, Any]) -> tuple[str, str]:
    """What tells one notice's embed from another's: its title and its timestamp."""
    return embed["title"], embed["timestamp"]


def posted(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [identity(embed) for message in messages for embed in message["embeds"]]


def carries_the_alert(body: Any) -> bool:
    return isinstance(body, dict) and any(
        e["title"] == "🔴 web is failing" for e in body.get("embeds", []))


@pytest.mark.parametrize("fault", [Fault.http(503), Fault.accept_then_reset()],
                         ids=["discord-failing", "answers-lost"])
def test_pending_notices_survive_kill_9_and_go_out_after_restart(tmp_path, fault):
    log = tmp_path / "daemon.log"
    with ThreadedFakeDiscord(FakeDiscord(webhook_id="1", token="tok")).running() as fake, \
            Target(status=503).running() as target:
        config = write_config(tmp_path, target.url)
        fake.call(lambda: fake.fake.fail_always(fault))
        with daemon(config, fake.fake.api_base, log) as first:
            seen = fake.wait_until(
                lambda f: any(carries_the_alert(r.body) for r in f.executes), WAIT_SECONDS)
            assert seen, log.read_text(errors="replace")
            first.send_signal(signal.SIGKILL)
            assert first.wait(timeout=WAIT_SECONDS) == -signal.SIGKILL

        with Outbox(tmp_path / "state" / "outbox.sqlite") as outbox:
            pending = [identity(embed_for(e.notice, HUB_NAME)) for e in outbox.pending()]
        before = fake.call(lambda: fake.fake.posted_messages)
        assert ("🔴 web is failing" in [title for title, _ in pending])  # nothing lost

        fake.call(lambda: fake.fake.fail_always(None))
        target.status = 200
        with daemon(config, fake.fake.api_base, log) as second:
            # The restart resumes the alert's incident (hub/storage/journal.py): once the target
            # answers, it recovers, and then the kill is reported in one offline notice.
            delivered = fake.wait_until(
                lambda f: any("offline" in t for t, _ in posted(f.posted_messages[len(before):])),
                WAIT_SECONDS)
            assert delivered, log.read_text(errors="replace")
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=WAIT_SECONDS) == 0, log.read_text(errors="replace")
        after = fake.call(lambda: fake.fake.posted_messages)[len(before):]

    again = posted(after)
    # After the restart: every pending notice exactly once, first and in order, then the
    # second run's own started, a recovery for each alert that was pending, the offline
    # notice and stopped. `web` alerted before the kill; on a loaded machine the first run
    # may also have lived long enough for its failing Discord to alert as `discord` (a
    # true incident, queued like any other), whose recovery then follows as well.
    assert again[:len(pending)] == pending
    alerted = sorted(title.removeprefix("🔴 ").removesuffix(" is failing")
                     for title, _ in pending if title.startswith("🔴 "))
    assert "web" in alerted and set(alerted) <= {"web", "discord"}
    started, *recoveries, offline, stopped = [title for title, _ in again[len(pending):]]
    assert started == f"🔵 {HUB_NAME} started" and stopped == f"⚪ {HUB_NAME} stopped"
    assert sorted(recoveries) == [f"🟢 {name} recovered" for name in alerted]
    assert "offline" in offline
    assert len(set(again)) == len(again)
    # Before the kill, Discord posted only what it accepted without the hub hearing so
    # (each such attempt is one extra copy); none of it had been acknowledged, so all of
    # it was still pending, and each notice has exactly one copy more than that.
    earlier = Counter(posted(before))
    assert set(earlier) <= set(pending)
    assert Counter(posted(before) + again) == {n: earlier[n] + 1 for n in again}
    if fault.kind == "status":
        assert before == []  # a failing Discord posted nothing: no duplicate at all
    else:
        assert earlier[pending[0]] >= 1  # the window was hit, and it shows
    text = log.read_text(errors="replace")
    assert "webhooks/1/tok" not in text and "/tok" not in text


def test_after_kill_9_the_recovery_edits_the_alert_message_by_its_stored_id(tmp_path):
    """The webhook's message ids live in the state file: the process that posted the alert
    is killed, and the next one still edits that very message when the incident ends."""
    log = tmp_path / "daemon.log"
    with ThreadedFakeDiscord(FakeDiscord(webhook_id="1", token="tok")).running() as fake, \
            Target(status=503).running() as target:
        config = write_config(tmp_path, target.url)
        with daemon(config, fake.fake.api_base, log) as first:
            seen = fake.wait_until(lambda f: any(
                m["embeds"] and m["embeds"][0]["title"] == "🔴 web is failing"
                for m in f.messages), WAIT_SECONDS)
            assert seen, log.read_text(errors="replace")
            # Killed once the hub has taken the answer in (the message id is on disk).
            assert stored_message_ids(tmp_path / "state" / "outbox.sqlite"), \
                log.read_text(errors="replace")
            first.send_signal(signal.SIGKILL)
            assert first.wait(timeout=WAIT_SECONDS) == -signal.SIGKILL
        [alert] = [m for m in fake.call(lambda: fake.fake.messages)
                   if m["embeds"][0]["title"] == "🔴 web is failing"]
        target.status = 200
        with daemon(config, fake.fake.api_base, log) as second:
            edited = fake.wait_until(lambda f: any(
                e.path.endswith(f"/messages/{alert['id']}") and e.status == 200
                and e.body["embeds"][0]["title"] == "🟢 web recovered" for e in f.edits),
                WAIT_SECONDS)
            assert edited, log.read_text(errors="replace")
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=WAIT_SECONDS) == 0, log.read_text(errors="replace")
        shown = next(m for m in fake.call(lambda: fake.fake.messages) if m["id"] == alert["id"])
    fields = {f["name"]: f["value"] for f in shown["embeds"][0]["fields"]}
    assert shown["embeds"][0]["title"] == "🟢 web recovered"
    assert fields["Incident"] == "web#1"


def stored_message_ids(path: Path) -> list[str]:
    """The alert message ids the hub keeps, once it has kept one (at most WAIT_SECONDS)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        with contextlib.closing(sqlite3.connect(path, timeout=WAIT_SECONDS)) as db:
            ids = [row[0] for row in db.execute("SELECT message_id FROM incident_message")]
        if ids or time.monotonic() > deadline:
            return [str(i) for i in ids]
        time.sleep(0.05)  # another process writes it: there is nothing to await
