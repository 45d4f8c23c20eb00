"""Watched Discord channels (`[[channel]]`): live counters per local day, keyword matches,
a silent channel as a monitored component, and where the counts show.

The counter is pure (explicit `now` and zone). The bot is the real discord.py client
against the local fake Discord; the status server is the real aiohttp server; silence is
detected on virtual time by the real machines through `health_notices`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from reactivex import Subject
from reactivex.testing import TestScheduler

from hub.app import DaemonInfo, StartupError, choose_transport, run_daemon
from hub.config import ConfigError, load_config, parse_config
from hub.display.messages import DisplayChannel, MessageBoard, MessageSettings
from hub.notify.delivery import DeliveryStatus
from hub.notify.discord.transport import BotTransport
from hub.notify.status_embed import status_embed
from hub.secrets import RedactingFilter, Secrets, SecretsError, load_secrets
from hub.sources.channels import (
    ActivityCounter,
    ChannelActivity,
    ChannelWatch,
    KeywordMatcher,
    WatchedChannel,
    channel_watch,
    local_day,
)
from hub.status.recorder import StatusRecorder
from hub.streams import health_notices, to_seconds
from hub.web.server import StatusServer
from machines import HealthMachines, HealthState, Notice, Outcome, Policy
from tests.fakes.discord_gateway import FakeDiscord
from tests.hub.bot_support import (
    NOW,
    bot_config,
    hub_status,
    secrets_for,
    settings_for,
    started,
)
from tests.web.conftest import published, request, serving, snap

PATH = Path("/etc/hub.toml")
OSLO = ZoneInfo("Europe/Oslo")
DEPLOYS = WatchedChannel("deploys", ("deploy*", "rollback", "stop loss"), 60.0)


def at(*fields: int, zone: ZoneInfo = OSLO) -> float:
    """Epoch seconds of a local wall-clock time."""
    return datetime(*fields, tzinfo=zone).timestamp()  # type: ignore[misc]


def utc(*fields: int) -> float:
    return datetime(*fields, tzinfo=UTC).timestamp()  # type: ignore[misc]


# --- keywords ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "found"), [
    ("Deploy done", ("deploy*",)),
    ("deployed v2.1 to prod", ("deploy*",)),
    ("redeployed v2.1", ()),  # whole words: the keyword starts a word
    ("ROLLBACK!", ("rollback",)),
    ("rollbacks happen", ()),  # no `*`: the word must end where the keyword does
    ("set a stop   loss here", ("stop loss",)),  # any whitespace between the words
    ("stop-loss", ()),
    ("deploying, then rollback", ("deploy*", "rollback")),
    ("", ()),
])
def test_keywords_match_whole_words_in_any_case_and_a_star_matches_a_word_start(text, found):
    assert KeywordMatcher.of(DEPLOYS.keywords).matches(text) == found


def test_keywords_made_of_symbols_match_wherever_they_stand():
    matcher = KeywordMatcher.of(("$SPY", "🚀", "c++"))
    assert matcher.matches("long $spy now") == ("$SPY",)
    assert matcher.matches("to the moon🚀🚀") == ("🚀",)
    assert matcher.matches("learn C++ today") == ("c++",)
    assert matcher.matches("$spyder") == ()  # the word side still needs its boundary


# --- the counter (pure) -------------------------------------------------------------------------


def test_the_counter_counts_messages_and_keyword_matches_once_each_and_per_keyword():
    counter = ActivityCounter(DEPLOYS, OSLO, at(2024, 5, 1, 8, 0))
    assert counter.record("deploying v3", at(2024, 5, 1, 9, 0)) == ("deploy*",)
    assert counter.record("lunch?", at(2024, 5, 1, 11, 0)) == ()
    assert counter.record("deploy failed, rollback", at(2024, 5, 1, 12, 0)) == \
        ("deploy*", "rollback")
    assert counter.activity(at(2024, 5, 1, 13, 0)) == ChannelActivity(
        name="deploys", day="2024-05-01", messages_today=3, keyword_matches_today=2,
        keyword_counts=(("deploy*", 2), ("rollback", 1), ("stop loss", 0)),
        last_message_at=at(2024, 5, 1, 12, 0), component="channel-deploys")


def test_the_counters_start_again_at_local_midnight_and_keep_the_last_message_time():
    counter = ActivityCounter(DEPLOYS, OSLO, at(2024, 5, 1, 8, 0))
    counter.record("deploy", at(2024, 5, 1, 23, 59, 59))
    before = counter.activity(at(2024, 5, 1, 23, 59, 59))
    assert (before.day, before.messages_today, before.keyword_matches_today) == \
        ("2024-05-01", 1, 1)
    # Midnight in Oslo is 22:00 UTC in summer: no message is needed for the reset.
    after = counter.activity(utc(2024, 5, 1, 22, 0))
    assert (after.day, after.messages_today, after.keyword_matches_today) == \
        ("2024-05-02", 0, 0)
    assert after.keyword_counts == (("deploy*", 0), ("rollback", 0), ("stop loss", 0))
    assert after.last_message_at == at(2024, 5, 1, 23, 59, 59)
    counter.record("rollback", at(2024, 5, 2, 0, 0, 1))
    assert counter.activity(at(2024, 5, 2, 0, 1)).keyword_counts[1] == ("rollback", 1)


@pytest.mark.parametrize(("first", "last", "next_midnight_utc"), [
    # spring forward: 31 March 2024 has 23 hours in Oslo
    (utc(2024, 3, 30, 23, 0), utc(2024, 3, 31, 21, 59), utc(2024, 3, 31, 22, 0)),
    # fall back: 27 October 2024 has 25 hours in Oslo
    (utc(2024, 10, 26, 22, 0), utc(2024, 10, 27, 22, 59), utc(2024, 10, 27, 23, 0)),
])
def test_a_daylight_saving_day_is_counted_whole_and_ends_at_its_own_midnight(
        first, last, next_midnight_utc):
    counter = ActivityCounter(DEPLOYS, OSLO, first - 60)
    counter.record("deploy", first)  # 00:00 local
    counter.record("hello", last)  # 23:59 local, 23 or 25 hours later
    assert counter.activity(next_midnight_utc - 1).messages_today == 2
    assert counter.activity(next_midnight_utc).messages_today == 0


def test_a_day_whose_midnight_does_not_exist_starts_at_its_first_instant():
    santiago = ZoneInfo("America/Santiago")  # 8 Sept 2024: 00:00 → 01:00 at once
    counter = ActivityCounter(DEPLOYS, santiago, utc(2024, 9, 8, 3, 0))
    counter.record("deploy", utc(2024, 9, 8, 3, 59, 59))  # 23:59:59 on the 7th
    assert counter.activity(utc(2024, 9, 8, 3, 59, 59)).messages_today == 1
    assert counter.activity(utc(2024, 9, 8, 4, 0)) == ChannelActivity(
        "deploys", "2024-09-08", 0, 0, (("deploy*", 0), ("rollback", 0), ("stop loss", 0)),
        utc(2024, 9, 8, 3, 59, 59), "channel-deploys")


def test_a_message_stamped_before_today_counts_for_today():
    counter = ActivityCounter(WatchedChannel("feed"), OSLO, at(2024, 5, 2, 0, 10))
    counter.record("late", at(2024, 5, 1, 23, 59))  # the clock stepped back
    activity = counter.activity(at(2024, 5, 2, 0, 11))
    assert (activity.day, activity.messages_today, activity.component) == ("2024-05-02", 1, "")


@settings(max_examples=60, deadline=None)
@given(offsets=st.lists(st.floats(min_value=0, max_value=4 * 86400), max_size=30),
       zone=st.sampled_from(["Europe/Oslo", "America/Santiago", "Australia/Lord_Howe",
                             "UTC"]))
def test_the_count_is_the_number_of_messages_on_the_local_date_of_now(offsets, zone):
    tz = ZoneInfo(zone)
    start = utc(2024, 3, 29, 12, 0)  # spans the March changes in the north
    times = sorted(start + o for o in offsets)
    counter = ActivityCounter(WatchedChannel("feed", ("x",)), tz, start)
    for moment in times:
        counter.record("x", moment)
    now = times[-1] if times else start
    today = local_day(now, tz)
    expected = sum(1 for moment in times if local_day(moment, tz) == today)
    activity = counter.activity(now)
    assert activity.day == today.isoformat()
    assert activity.messages_today == activity.keyword_matches_today == expected


# --- configuration ---------------------------------------------------------------------------


def parse(*channels: dict[str, Any], monitors: tuple[dict[str, Any], ...] = ()):
    return parse_config({"channel": list(channels), "monitor": list(monitors)}, PATH)


def test_channel_tables_become_watched_channels_with_their_variable_and_component():
    config = parse({"name": "deploys", "keywords": [" Deploy* ", "rollback"],
                    "silent_after_minutes": 90},
                   {"name": "trading.alerts-eu"})
    deploys, alerts = config.channels
    assert deploys == WatchedChannel("deploys", ("Deploy*", "rollback"), 90.0)
    assert (deploys.env_name, deploys.component, deploys.silent_after_seconds) == \
        ("DISCORD_WATCH_DEPLOYS", "channel-deploys", 5400.0)
    assert deploys.policy(Policy(failures_before_alert=2)) == \
        Policy(failures_before_alert=2, stale_after_seconds=5400.0)
    assert alerts.env_name == "DISCORD_WATCH_TRADING_ALERTS_EU"
    assert alerts.keywords == () and alerts.silent_after_seconds is None
    assert alerts.policy(Policy()) == Policy()
    assert parse_config({}, PATH).channels == ()


@pytest.mark.parametrize(("tables", "message"), [
    ([{"name": "Deploys"}], "[[channel]] #1: name: expected a short lowercase name"),
    ([{}], "[[channel]] #1: name: expected a short lowercase name (letters, digits, - _ .), "
           "got None"),
    ([{"name": "x", "id": 123}], "[[channel]] #1: id: unknown key (known: keywords, name, "
                                 "silent_after_minutes)"),
    ([{"name": "x", "keywords": "deploy"}], "keywords: expected a list of at most 50 strings"),
    ([{"name": "x", "keywords": ["deploy", ""]}], "keywords: expected non-empty strings"),
    ([{"name": "x", "keywords": ["*"]}], "keywords: expected non-empty strings"),
    ([{"name": "x", "keywords": [3]}], "keywords: expected non-empty strings"),
    ([{"name": "x", "keywords": ["Deploy", "deploy"]}],
     "keywords: expected each keyword once (case does not matter), got 'deploy'"),
    ([{"name": "x", "silent_after_minutes": 0}],
     "[[channel]] #1: silent_after_minutes: expected a number > 0 (minutes without a "
     "message before the channel counts as silent), got 0"),
    ([{"name": "x", "silent_after_minutes": True}], "silent_after_minutes: expected a number"),
    ([{"name": "x", "silent_after_minutes": "1h"}], "silent_after_minutes: expected a number"),
    ([{"name": "a-b"}, {"name": "a.b"}],
     "[[channel]] #2: name: 'a.b' and 'a-b' would both read their id from "
     "DISCORD_WATCH_A_B: rename one"),
    ([{"name": "build-file"}], "name: expected a name that does not end in 'file'"),
])
def test_a_bad_channel_table_names_file_table_key_and_expectation(tables, message):
    with pytest.raises(ConfigError) as caught:
        parse(*tables)
    assert str(caught.value).startswith(f"{PATH}: ")
    assert message in str(caught.value)


def test_a_silent_channel_component_may_not_take_a_monitors_name():
    with pytest.raises(ConfigError, match=r"\[\[channel\]\] #1: name: the component "
                                          r"'channel-ci' already exists"):
        parse({"name": "ci", "silent_after_minutes": 5},
              monitors=({"kind": "heartbeat", "name": "channel-ci", "period_seconds": 60,
                         "grace_seconds": 5},))
    # Without silent_after_minutes there is no component, so nothing clashes.
    assert parse({"name": "ci"}, monitors=({"kind": "heartbeat", "name": "channel-ci",
                                             "period_seconds": 60, "grace_seconds": 5},)
                 ).channels == (WatchedChannel("ci"),)


def test_channel_must_be_an_array_of_tables():
    with pytest.raises(ConfigError, match="channel: expected \\[\\[channel\\]\\] tables"):
        parse_config({"channel": {"name": "x"}}, PATH)


# --- secrets ------------------------------------------------------------------------------------

WATCHED_ID = "123456789012345678"


def test_watched_channel_ids_come_from_the_environment_dotenv_or_a_file(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"DISCORD_WATCH_DEPLOYS={WATCHED_ID}\nDISCORD_WATCH_CI=1\n",
                      encoding="utf-8")
    (tmp_path / "alerts-id").write_text("222333444555666777\n", encoding="utf-8")
    secrets = load_secrets({"DISCORD_WATCH_CI": "42",
                            "DISCORD_WATCH_TRADING_ALERTS_FILE": str(tmp_path / "alerts-id"),
                            "DISCORD_WATCHDOG": "x"}, dotenv)
    assert secrets.watch_channel_id("DISCORD_WATCH_DEPLOYS") == WATCHED_ID
    assert secrets.watch_channel_id("DISCORD_WATCH_CI") == "42"  # the environment wins
    assert secrets.watch_channel_id("DISCORD_WATCH_TRADING_ALERTS") == "222333444555666777"
    assert secrets.watch_channel_id("DISCORD_WATCH_OTHER") == ""
    assert WATCHED_ID not in repr(secrets)
    assert "discord_watch_channel_ids=set" in repr(secrets)


def test_a_watched_channel_id_must_be_numeric_and_the_error_names_the_variable():
    with pytest.raises(SecretsError, match="DISCORD_WATCH_DEPLOYS: expected a numeric "
                                           "channel id") as caught:
        load_secrets({"DISCORD_WATCH_DEPLOYS": "#deploys"}, None)
    assert "#deploys" not in str(caught.value)


def test_watched_channel_ids_are_redacted_from_logs():
    secrets = load_secrets({"DISCORD_WATCH_DEPLOYS": WATCHED_ID}, None)
    record = __import__("logging").LogRecord("x", 20, __file__, 1, "watching %s", (WATCHED_ID,),
                                             None)
    RedactingFilter(secrets).filter(record)
    assert record.getMessage() == "watching ***"


@pytest.mark.parametrize(("environ", "message"), [
    ({}, "DISCORD_WATCH_DEPLOYS is not set: [[channel]] 'deploys' needs its channel id"),
    ({"DISCORD_WATCH_DEPLOYS": "7", "DISCORD_MONITOR_CHANNEL_ID": "7"},
     "DISCORD_WATCH_DEPLOYS is the same channel as DISCORD_MONITOR_CHANNEL_ID"),
    ({"DISCORD_WATCH_DEPLOYS": "8", "DISCORD_CHANNEL_ID": "8"},
     "DISCORD_WATCH_DEPLOYS is the same channel as DISCORD_CHANNEL_ID"),
    ({"DISCORD_WATCH_DEPLOYS": "9", "DISCORD_WATCH_CI": "9"},
     "DISCORD_WATCH_CI and DISCORD_WATCH_DEPLOYS are the same channel"),
])
def test_a_channel_without_its_own_id_is_a_startup_error_naming_the_variables(environ, message):
    with pytest.raises(SecretsError) as caught:
        channel_watch([DEPLOYS, WatchedChannel("ci")], load_secrets(environ, None), OSLO, NOW)
    assert message in str(caught.value)
    for value in environ.values():
        assert value not in str(caught.value)
    assert channel_watch([], Secrets(), OSLO, NOW) is None


def test_watched_channels_need_the_bot(tmp_path):
    watch = ChannelWatch({1: DEPLOYS}, OSLO, NOW)
    with pytest.raises(StartupError, match=r"\[\[channel\]\] watches Discord channels "
                                           "through the bot"):
        choose_transport(Secrets(discord_webhook_url="https://discord.com/api/webhooks/1/x"),
                         [].append, channels=watch)
    with pytest.raises(ValueError, match="own channels cannot be watched"):
        choose_transport(Secrets(discord_bot_token="t", discord_monitor_channel_id="1"),
                         [].append, channels=watch)
    board = MessageBoard(tmp_path)
    with pytest.raises(ValueError, match="own channels cannot be watched"):
        choose_transport(Secrets(discord_bot_token="t", discord_monitor_channel_id="2"),
                         [].append, channels=watch,
                         display=DisplayChannel(1, board, MessageSettings()))


# --- the bot counts what the gateway delivers --------------------------------------------------


class Changes:
    """The watch's `on_change`: lets a test wait until a number of messages were counted."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = asyncio.Event()

    def __call__(self) -> None:
        self.count += 1
        self._changed.set()

    async def wait_for(self, count: int) -> None:
        await self.wait_until(lambda: self.count >= count)

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(10):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()


@asynccontextmanager
async def watching_bot(fake: FakeDiscord, watch: ChannelWatch, *,
                       display: DisplayChannel | None = None,
                       status: Callable[[], Any] = hub_status) -> AsyncIterator[BotTransport]:
    bot = BotTransport(settings_for(fake), status=status, clock=lambda: NOW,
                       guild_ready_timeout=0.01, display=display, channels=watch)
    async with started(bot, fake):
        yield bot


def test_the_bot_counts_messages_and_keyword_matches_in_a_watched_channel():
    outcomes: list[Outcome] = []
    changes = Changes()

    async def scenario() -> None:
        async with FakeDiscord() as fake:
            watch = ChannelWatch({int(fake.other_channel_id): DEPLOYS}, OSLO, NOW,
                                 report=outcomes.append, on_change=changes)
            async with watching_bot(fake, watch):
                await fake.user_message(fake.other_channel_id, "Deployed v2 to prod")
                await fake.user_message(fake.other_channel_id, "who broke the build?",
                                        user_id="555", username="dev")
                # Feeds are often bots or webhooks, with everything in an embed.
                await fake.user_message(fake.other_channel_id, "", user_id="777",
                                        username="ci-bot", bot=True, embeds=[
                                            {"title": "Pipeline #12", "description":
                                             "Rollback finished", "fields": [
                                                 {"name": "why", "value": "stop loss"}]}])
                await changes.wait_for(3)
        [activity] = watch.activity(NOW)
        assert (activity.messages_today, activity.keyword_matches_today) == (3, 2)
        assert activity.keyword_counts == (("deploy*", 1), ("rollback", 1), ("stop loss", 1))
        assert activity.last_message_at == NOW
        assert outcomes == [Outcome.success("channel-deploys", NOW)] * 3

    asyncio.run(scenario())


def test_the_hubs_own_messages_commands_and_other_channels_are_not_counted(tmp_path):
    changes = Changes()

    async def scenario() -> None:
        async with FakeDiscord() as fake:
            watch = ChannelWatch({int(fake.other_channel_id): DEPLOYS}, OSLO, NOW,
                                 on_change=changes)
            display = DisplayChannel(int(fake.display_channel_id), MessageBoard(tmp_path),
                                     MessageSettings())
            async with watching_bot(fake, watch, display=display):
                # The hub's own bot user posting there (Discord echoes its posts to it).
                await fake.user_message(fake.other_channel_id, "deploy", bot=True,
                                        user_id=fake.application_id, username="hub-bot")
                await fake.user_message(fake.display_channel_id, "deploy")  # display's
                await fake.user_message(fake.monitor_channel_id, "deploy")  # monitoring's
                await fake.user_message(fake.monitor_channel_id, "status")  # answered there
                # In a watched channel `status` is just a message: counted, not answered.
                await fake.user_message(fake.other_channel_id, "status")
                await changes.wait_for(1)
                await fake.wait_until(lambda: bool(fake.posts_to(fake.monitor_channel_id))
                                      and bool(fake.posts_to(fake.display_channel_id)))
                # A later event on the same connection: everything before it was handled.
                await fake.user_message(fake.other_channel_id, "rollback now")
                await changes.wait_until(
                    lambda: dict(watch.activity(NOW)[0].keyword_counts)["rollback"] == 1)
            assert fake.posts_to(fake.other_channel_id) == []
            assert len(fake.posts_to(fake.monitor_channel_id)) == 1
        assert changes.count == 2
        [activity] = watch.activity(NOW)
        assert (activity.messages_today, activity.keyword_matches_today) == (2, 1)
        assert dict(activity.keyword_counts)["deploy*"] == 0  # no "deploy" was counted

    asyncio.run(scenario())


# --- where the counts show ------------------------------------------------------------------------


def counted_status() -> Any:
    counter = ActivityCounter(DEPLOYS, OSLO, NOW - 3600)
    for text in ("deploying", "rollback now", "coffee"):
        counter.record(text, NOW - 60)
    quiet = ActivityCounter(WatchedChannel("general"), OSLO, NOW - 3600)
    recorder = StatusRecorder("shelf-pi", NOW - 7200)
    return recorder.publish(NOW, [snap("channel-deploys", HealthState.HEALTHY)],
                            DeliveryStatus("bot", "idle", "", 0, 0), 0,
                            channels=(counter.activity(NOW), quiet.activity(NOW)))


def test_api_status_and_metrics_show_each_channels_counts():
    status = counted_status()
    server = StatusServer("127.0.0.1:0", lambda: status, clock=lambda: NOW)

    async def scenario(session: aiohttp.ClientSession, base: str) -> tuple[Any, str]:
        api = await request(session, "GET", base + "/api/status")
        metrics = await request(session, "GET", base + "/metrics")
        assert api.status == metrics.status == 200
        return api.json(), metrics.text

    body, metrics = serving(server, scenario)
    day = local_day(NOW, OSLO).isoformat()
    assert body["channels"] == [
        {"name": "deploys", "component": "channel-deploys", "day": day, "messages_today": 3,
         "keyword_matches_today": 2,
         "keyword_matches": {"deploy*": 1, "rollback": 1, "stop loss": 0},
         "last_message_at": datetime.fromtimestamp(NOW - 60, UTC).isoformat()},
        {"name": "general", "component": None, "day": day, "messages_today": 0,
         "keyword_matches_today": 0, "keyword_matches": {}, "last_message_at": None}]
    assert [c["name"] for c in body["components"]] == ["channel-deploys"]
    families = {f.name: f for f in text_string_to_metric_families(metrics)}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in families.values() for s in f.samples}
    assert families["divoom_hub_channel_messages_today"].type == "gauge"
    assert samples[("divoom_hub_channel_messages_today", (("channel", "deploys"),))] == 3
    assert samples[("divoom_hub_channel_messages_today", (("channel", "general"),))] == 0
    assert samples[("divoom_hub_channel_keyword_matches_today", (("channel", "deploys"),))] == 2
    assert samples[("divoom_hub_channel_keyword_messages_today",
                    (("channel", "deploys"), ("keyword", "rollback")))] == 1


def test_without_watched_channels_there_are_no_channel_metrics():
    server = StatusServer("127.0.0.1:0", lambda: published(), clock=lambda: NOW)

    async def scenario(session: aiohttp.ClientSession, base: str) -> tuple[Any, str]:
        api = await request(session, "GET", base + "/api/status")
        metrics = await request(session, "GET", base + "/metrics")
        return api.json(), metrics.text

    body, metrics = serving(server, scenario)
    assert body["channels"] == []
    assert "divoom_hub_channel" not in metrics
    assert "divoom_hub_component_state" in metrics


def test_the_status_reply_has_a_line_per_channel():
    embed = status_embed(counted_status())
    lines = embed["description"].split("\n")
    assert lines[1:] == [
        f"📨 deploys: 3 messages today · 2 with keywords (`deploy*` 1, `rollback` 1) · "
        f"last <t:{int(NOW - 60)}:f>",
        "📨 general: 0 messages today"]
    assert lines[0].startswith("up 2 h")
    assert "📨" not in status_embed(published())["description"]


# --- a silent channel alerts like any other component (virtual time) ------------------------------


def test_a_silent_channel_alerts_after_its_silence_and_recovers_on_the_next_message():
    channel = WatchedChannel("deploys", (), silent_after_minutes=10)
    scheduler = TestScheduler()
    messages: Subject[Outcome] = Subject()
    watch = ChannelWatch({1: channel}, ZoneInfo("UTC"), 0.0, report=messages.on_next)
    machines = HealthMachines()
    machines.add(channel.component, channel.policy(
        Policy(failures_before_alert=2, remind_after_seconds=0, settle_seconds=60)), 0.0)
    seen: list[Notice] = []
    health_notices(messages, machines, scheduler).subscribe(seen.append)

    def post(moment: float) -> None:
        scheduler.schedule_absolute(moment, lambda *_: watch.on_message(
            1, "hi", to_seconds(scheduler.now)))

    for moment in (100.0, 400.0, 2500.0):
        post(moment)
    scheduler.advance_to(2499)
    # silent from 400: failures at 1000 and 1600, the second alerts
    assert [(n.at, n.kind.value) for n in seen] == [(1600.0, "alert")]
    assert (seen[0].component, seen[0].error_type, seen[0].error_detail) == \
        ("channel-deploys", "stale", "no outcome for 600 s")
    assert machines.state("channel-deploys") is HealthState.ALERTING
    scheduler.advance_to(2600)
    assert [(n.at, n.kind.value) for n in seen] == [(1600.0, "alert"), (2500.0, "recovery")]
    assert seen[1].downtime_seconds == 2500 - 1000
    assert watch.activity(2600.0)[0].messages_today == 3


# --- the daemon, end to end ---------------------------------------------------------------------


def channel_config(tmp_path: Path) -> Path:
    return bot_config(tmp_path, None, extra="""
[[channel]]
name = "general"
keywords = ["deploy*"]
silent_after_minutes = 60
""")


def test_the_daemon_counts_a_watched_channel_and_shows_it_in_status_api_and_metrics(tmp_path):
    config = load_config(channel_config(tmp_path))

    async def scenario() -> None:
        async with FakeDiscord() as fake:
            secrets = Secrets(**{**{n: getattr(secrets_for(fake), n)
                                    for n in Secrets.__dataclass_fields__},
                                 "discord_watch_channel_ids": (
                                     ("DISCORD_WATCH_GENERAL", fake.other_channel_id),)})
            stop = asyncio.Event()
            ready: list[DaemonInfo] = []
            daemon = asyncio.create_task(run_daemon(config, secrets, [].append, stop,
                                                    on_ready=ready.append))
            try:
                await fake.user_message(fake.other_channel_id, "deploying v7")
                await fake.user_message(fake.other_channel_id, "ok", bot=True, user_id="99")
                await fake.user_message(fake.monitor_channel_id, "status")

                def replies() -> list[dict[str, Any]]:
                    return [e for e in fake.embeds_in(fake.monitor_channel_id)
                            if e["title"].startswith("📋")]

                await fake.wait_until(lambda: bool(replies()))
                [reply] = replies()
                assert ready, "the daemon said where its status page is"
                base = ready[0].status_url
                assert base is not None
                async with aiohttp.ClientSession() as session:
                    api = (await request(session, "GET", base + "/api/status")).json()
                    metrics = (await request(session, "GET", base + "/metrics")).text
            finally:
                stop.set()
                assert await asyncio.wait_for(daemon, 20) == 0
            assert "📨 general: 2 messages today · 1 with keywords (`deploy*` 1)" in \
                reply["description"]
            assert any(f["name"] == "channel-general" for f in reply["fields"])
            [general] = api["channels"]
            assert (general["messages_today"], general["keyword_matches_today"]) == (2, 1)
            assert general["component"] == "channel-general"
            component = next(c for c in api["components"] if c["name"] == "channel-general")
            assert component["state"] == "healthy"
            assert 'divoom_hub_channel_messages_today{channel="general"} 2.0' in metrics
            assert fake.posts_to(fake.other_channel_id) == []
            assert fake.other_channel_id not in json.dumps(api) + metrics

    asyncio.run(scenario())


def test_the_daemon_refuses_to_start_without_the_channels_variable(tmp_path):
    config = load_config(channel_config(tmp_path))

    async def scenario() -> None:
        with pytest.raises(StartupError, match="DISCORD_WATCH_GENERAL is not set"):
            await run_daemon(config, Secrets(discord_bot_token="t",
                                             discord_monitor_channel_id="1"),
                             [].append, asyncio.Event())

    asyncio.run(scenario())
