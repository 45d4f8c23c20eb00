"""`divoom-hub check`: one line per thing checked, exit code 1 when any failed."""

from __future__ import annotations

import asyncio
import os

import pytest

from hub.check.discord import BOT_PERMISSIONS
from hub.cli import main
from tests.fakes.discord_gateway import (
    OVERWRITE_MEMBER,
    OVERWRITE_ROLE,
    SEND_MESSAGES,
    FakeDiscord,
    overwrite,
)
from tests.fakes.target import Target


def write_config(tmp_path, *urls: str):
    path = tmp_path / "hub.toml"
    monitors = "".join(
        f"[[monitor]]\nkind = 'http'\nname = 'site{i}'\nurl = '{url}'\ntimeout_seconds = 1\n"
        for i, url in enumerate(urls))
    path.write_text(f"[hub]\nstate_dir = 'state'\n{monitors}", encoding="utf-8")
    return path


def test_reachable_monitors_pass(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DISCORD_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
    with Target().running() as target:
        code = main(["check", "-c", str(write_config(tmp_path, target.url))])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[0].split()[:2] == ["config", "ok"] and "1 monitors" in lines[0]
    assert lines[-1].split()[:3] == ["site0", "ok", "answered"]


def test_a_failing_monitor_fails_the_check_and_says_why(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DISCORD_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
    with Target().running() as up, Target().running() as down:
        down.status = 500
        code = main(["check", "-c", str(write_config(tmp_path, up.url, down.url))])
    out = capsys.readouterr().out
    assert code == 1
    assert "site0        ok" in out
    assert "site1        FAIL  http_500: 500 Internal Server Error (expected 200-399)" in out


def test_a_bad_config_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "hub.toml"
    path.write_text("[hub]\nnmae = 'typo'\n", encoding="utf-8")
    assert main(["check", "-c", str(path)]) == 2
    assert "[hub] nmae: unknown key" in capsys.readouterr().err


def test_dashboard_sources_are_polled_once_and_the_pixoo_pinged(tmp_path, capsys, monkeypatch):
    import time

    from tests.fakes.entur import Call, FakeEntur
    from tests.fakes.met import FakeMet, compact_document
    from tests.fakes.pixoo import FakePixoo

    monkeypatch.delenv("DISCORD_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
    now = time.time()
    entur = FakeEntur(now)
    entur.add_quay("NSR:Quay:7184", "Storo", [Call("31", "Tonsenhagen", 5)])
    met = FakeMet(now, compact_document(now - now % 3600, [4.0, 5.0]))
    with entur.running(), met.running(), FakePixoo() as pixoo:
        path = tmp_path / "hub.toml"
        path.write_text(f"""
[bus]
endpoint = "{entur.url}"
client_name = "divoomhub-tests"
quays = ["NSR:Quay:7184", "NSR:Quay:404"]
labels = ["A", "B"]
[weather]
endpoint = "{met.url}"
lat = 59.91
lon = 10.75
user_agent = "divoom-hub-tests hub@example.com"
[pixoo]
address = "{pixoo.address}"
timeout_seconds = 1
""", encoding="utf-8")
        code = main(["check", "-c", str(path)])
        pinged = list(pixoo.commands)
    out = capsys.readouterr().out
    assert code == 1  # one quay is unknown: the check says which
    assert "bus, weather, pixoo" in out.splitlines()[0]
    assert "bus          FAIL  quay: quay B (NSR:Quay:404)" in out
    assert "weather      ok    answered" in out
    assert "pixoo        ok    answered" in out
    assert pinged == ["Channel/GetAllConf"]  # a ping, and nothing drawn


# --- what run would do, said before it runs ----------------------------------------------------


def check_report(tmp_path, monkeypatch, capsys, toml: str,
                 env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """`divoom-hub check` on `toml` (state in `tmp_path/state` unless it says otherwise) with
    only the Discord and HTTP variables of `env` set; the exit code and the report's lines."""
    for name in list(os.environ):
        if name.startswith(("DISCORD_", "HUB_")):
            monkeypatch.delenv(name)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "hub.toml"
    path.write_text(toml, encoding="utf-8")
    code = main(["check", "-c", str(path)])
    return code, capsys.readouterr().out.splitlines()


def test_a_bot_token_without_a_monitoring_channel_is_a_warning_saying_what_to_set(
        tmp_path, monkeypatch, capsys):
    code, lines = check_report(tmp_path, monkeypatch, capsys, "[hub]\nstate_dir = 'state'\n",
                               env={"DISCORD_BOT_TOKEN": "Xq7-s3cr3t"})
    assert code == 0  # the hub runs: notices go to the console
    assert line_of("\n".join(lines), "transport") == (
        "transport    WARN  console: DISCORD_BOT_TOKEN is set, but without "
        "DISCORD_MONITOR_CHANNEL_ID notices are only printed on the console; set "
        "DISCORD_MONITOR_CHANNEL_ID to the monitoring channel's id (Discord: right-click the "
        "channel → Copy Channel ID)")
    assert "Xq7-s3cr3t" not in "\n".join(lines)


def test_watched_channels_without_the_bot_fail_as_run_would_refuse_them(
        tmp_path, monkeypatch, capsys):
    code, lines = check_report(tmp_path, monkeypatch, capsys,
                               "[hub]\nstate_dir = 'state'\n[[channel]]\nname = 'deploys'\n")
    assert code == 1
    assert line_of("\n".join(lines), "watched").startswith(
        "watched      FAIL  [[channel]] watches Discord channels through the bot")


REPORTING = """
[hub]
state_dir = "state"
http_listen = "127.0.0.1:8787"

[[monitor]]
kind = "heartbeat"
name = "backup"
period_seconds = 86400
grace_seconds = 3600

[[monitor]]
kind = "heartbeat"
name = "cron"
period_seconds = 300

[policy.cron]
failures_before_alert = 2

[[monitor]]
kind = "threshold"
name = "fridge"
max = 6
"""


def test_each_heartbeat_and_pushed_threshold_gets_a_line_saying_where_to_send_it(
        tmp_path, monkeypatch, capsys):
    code, lines = check_report(tmp_path, monkeypatch, capsys, REPORTING)
    assert code == 0
    assert "3 monitors" in lines[0]
    report = "\n".join(lines)
    assert line_of(report, "status") == (
        "status       ok    page at http://127.0.0.1:8787/ (from this machine only)")
    assert line_of(report, "backup") == (
        "backup       ok    heartbeat: expects POST http://127.0.0.1:8787/ping/backup every "
        "1 d (+ 1 h grace): alerts after 1 d 1 h without one; only this machine can reach "
        "127.0.0.1:8787")
    # the default grace (a minute), and the owner's debounce of two silent stretches
    assert line_of(report, "cron") == (
        "cron         ok    heartbeat: expects POST http://127.0.0.1:8787/ping/cron every "
        "5 min (+ 1 min grace): alerts after 12 min without one; only this machine can reach "
        "127.0.0.1:8787")
    assert line_of(report, "fridge") == (
        "fridge       ok    threshold: expects POST http://127.0.0.1:8787/api/metric/fridge "
        '{"value": <number>}; only this machine can reach 127.0.0.1:8787')


def test_beyond_loopback_the_lines_name_the_token_and_without_one_the_status_fails(
        tmp_path, monkeypatch, capsys):
    import socket

    listening = REPORTING.replace("127.0.0.1:8787", "0.0.0.0:8787")
    code, lines = check_report(tmp_path, monkeypatch, capsys, listening,
                               env={"HUB_HTTP_TOKEN": "t0ken-Xq7"})
    report = "\n".join(lines)
    assert code == 0
    host = socket.gethostname()
    assert line_of(report, "backup").startswith(
        f"backup       ok    heartbeat: expects POST http://{host}:8787/ping/backup with "
        "'Authorization: Bearer <HUB_HTTP_TOKEN>' every 1 d")
    assert "t0ken-Xq7" not in report
    code, lines = check_report(tmp_path, monkeypatch, capsys, listening)
    assert code == 1
    assert line_of("\n".join(lines), "status") == (
        "status       FAIL  [hub] http_listen 0.0.0.0:8787 reaches beyond this machine, so the "
        "hub refuses to start without an access token: set HUB_HTTP_TOKEN in .env (or listen "
        "on 127.0.0.1 only)")


def test_heartbeats_without_a_status_server_fail_naming_them(tmp_path, monkeypatch, capsys):
    code, lines = check_report(tmp_path, monkeypatch, capsys,
                               REPORTING.replace('"127.0.0.1:8787"', '""'))
    assert code == 1
    assert line_of("\n".join(lines), "status") == (
        'status       FAIL  [hub] http_listen is "" (off), but backup, cron, fridge report to '
        'it: set it, e.g. "127.0.0.1:8787"')


def test_every_component_gets_a_line_of_its_own(tmp_path, monkeypatch, capsys):
    with Target().running() as target:
        toml = REPORTING + (f"[[monitor]]\nkind = 'http'\nname = 'site'\nurl = '{target.url}'\n"
                            "[[monitor]]\nkind = 'threshold'\nname = 'sensor'\nmax = 6\n"
                            f"url = '{target.url}'\ntimeout_seconds = 1\n")
        _, lines = check_report(tmp_path, monkeypatch, capsys, toml)
    subjects = [line.split()[0] for line in lines]
    assert subjects == ["config", "transport", "state_dir", "status",
                        "site", "sensor", "backup", "cron", "fridge"]


def test_check_polls_what_run_polls_in_the_same_order(tmp_path, monkeypatch, capsys):
    from reactivex.testing import TestScheduler

    from hub.config import load_config
    from hub.world import real_world

    with Target().running() as target:
        toml = REPORTING + "".join(
            f"[[monitor]]\nkind = '{kind}'\nname = '{name}'\nurl = '{target.url}'\n"
            f"timeout_seconds = 1\n{extra}"
            for kind, name, extra in [("threshold", "sensor", "max = 6\n"), ("http", "site", ""),
                                      ("http", "api", "")])
        _, lines = check_report(tmp_path, monkeypatch, capsys, toml)
        world = real_world(load_config(tmp_path / "hub.toml"), TestScheduler())
        world.close()
    polled = [watched.name for watched in world.watched if watched.every_seconds is not None]
    assert polled == ["site", "api", "sensor"]
    assert [line.split()[0] for line in lines if line.split()[0] in polled] == polled


def test_a_writable_state_dir_passes_and_keeps_nothing_from_the_check(
        tmp_path, monkeypatch, capsys):
    state = tmp_path / "state"
    state.mkdir()
    (state / "outbox.sqlite").write_bytes(b"")
    code, lines = check_report(tmp_path, monkeypatch, capsys, "[hub]\nstate_dir = 'state'\n")
    assert code == 0
    assert line_of("\n".join(lines), "state_dir") == f"state_dir    ok    {state}: writable"
    assert [p.name for p in state.iterdir()] == ["outbox.sqlite"]


def test_a_state_dir_still_to_be_made_passes_without_being_made(tmp_path, monkeypatch, capsys):
    code, lines = check_report(tmp_path, monkeypatch, capsys,
                               "[hub]\nstate_dir = 'var/state'\n")
    assert code == 0
    assert line_of("\n".join(lines), "state_dir") == (
        f"state_dir    ok    {tmp_path / 'var' / 'state'}: not there yet; the hub creates it "
        f"at start ({tmp_path} is writable)")
    assert not (tmp_path / "var").exists()


def test_a_state_dir_that_cannot_be_made_fails_saying_what_to_do(tmp_path, monkeypatch, capsys):
    (tmp_path / "blocker").write_text("a file where a directory should be", encoding="utf-8")
    code, lines = check_report(tmp_path, monkeypatch, capsys,
                               "[hub]\nstate_dir = 'blocker/state'\n")
    assert code == 1
    assert line_of("\n".join(lines), "state_dir") == (
        f"state_dir    FAIL  {tmp_path / 'blocker' / 'state'} cannot be created "
        f"({tmp_path / 'blocker'} is not a directory); the outbox, journal and frames live "
        "there: give the hub's user that directory, or set [hub] state_dir")


# --- the bot's channels -----------------------------------------------------------------------


def run_bot_check(tmp_path, monkeypatch, *, channels=(), env=lambda fake: {},
                  prepare=lambda fake: None) -> tuple[int, FakeDiscord]:
    """`divoom-hub check` with the bot pointed at a fresh fake Discord: `channels` are the
    `[[channel]]` names, `env(fake)` more variables, `prepare(fake)` what to change in the
    fake first. Returns the exit code and the fake (closed); the report is on stdout."""
    path = tmp_path / "hub.toml"
    path.write_text("[hub]\nstate_dir = 'state'\n" + "".join(
        f"[[channel]]\nname = '{name}'\n" for name in channels), encoding="utf-8")
    for name in list(os.environ):
        if name.startswith("DISCORD_"):
            monkeypatch.delenv(name)

    async def scenario() -> tuple[int, FakeDiscord]:
        async with FakeDiscord() as fake:
            prepare(fake)
            for name, value in {"DISCORD_BOT_TOKEN": fake.token,
                                "DISCORD_MONITOR_CHANNEL_ID": fake.monitor_channel_id,
                                "DISCORD_API_BASE": fake.api_base,
                                "DISCORD_GATEWAY_URL": fake.gateway_url, **env(fake)}.items():
                monkeypatch.setenv(name, value)
            # `check` runs its own event loop, so it runs on a thread beside the fake's.
            code = await asyncio.to_thread(main, ["check", "-c", str(path)])
            return code, fake

    return asyncio.run(scenario())


def report_of(capsys, fake: FakeDiscord) -> str:
    out = capsys.readouterr().out
    for secret in (fake.token, fake.monitor_channel_id, fake.display_channel_id,
                   fake.other_channel_id, fake.hidden_channel_id, fake.guild_id):
        assert secret not in out
    assert not fake.identifies  # no gateway session, and nothing posted
    assert not [r for r in fake.requests if r.method != "GET"]
    return out


def line_of(report: str, subject: str) -> str:
    return next(line for line in report.splitlines() if line.split()[0] == subject)


def test_every_bot_channel_is_reachable_with_the_permissions_the_bot_needs(
        tmp_path, monkeypatch, capsys):
    code, fake = run_bot_check(
        tmp_path, monkeypatch, channels=["deploys"],
        env=lambda fake: {"DISCORD_CHANNEL_ID": fake.display_channel_id,
                          "DISCORD_WATCH_DEPLOYS": fake.other_channel_id})
    report = report_of(capsys, fake)
    assert code == 0, report
    assert line_of(report, "channel") == (
        "channel      ok    monitoring channel: #hub-monitoring reachable; Send Messages, "
        "Embed Links, Attach Files granted")
    assert line_of(report, "display") == (
        "display      ok    display channel: #kitchen-display reachable; Send Messages granted")
    assert line_of(report, "watched") == (
        "watched      ok    [[channel]] 'deploys': #general reachable")
    # The invite link in docs/discord-bot.md grants exactly what the check asks for.
    assert BOT_PERMISSIONS.value == 52224


def test_an_unknown_display_channel_fails_naming_its_variable(tmp_path, monkeypatch, capsys):
    code, fake = run_bot_check(tmp_path, monkeypatch,
                                  env=lambda fake: {"DISCORD_CHANNEL_ID": "999"})
    report = report_of(capsys, fake)
    assert code == 1
    assert line_of(report, "display") == (
        "display      FAIL  display channel not found (HTTP 404): check DISCORD_CHANNEL_ID "
        "and that the bot is in its server")
    assert "999" not in report


def test_a_watched_channel_without_its_variable_fails_naming_the_variable(
        tmp_path, monkeypatch, capsys):
    code, fake = run_bot_check(
        tmp_path, monkeypatch, channels=["deploys", "trading-alerts"],
        env=lambda fake: {"DISCORD_WATCH_DEPLOYS": fake.other_channel_id})
    report = report_of(capsys, fake)
    assert code == 1
    watched = [line for line in report.splitlines() if line.startswith("watched")]
    assert watched == [
        "watched      ok    [[channel]] 'deploys': #general reachable",
        "watched      FAIL  [[channel]] 'trading-alerts': DISCORD_WATCH_TRADING_ALERTS is not "
        "set (Discord: right-click the channel → Copy Channel ID)"]


def test_a_watched_channel_the_bot_cannot_see_fails_saying_what_to_grant(
        tmp_path, monkeypatch, capsys):
    code, fake = run_bot_check(
        tmp_path, monkeypatch, channels=["staff"],
        env=lambda fake: {"DISCORD_WATCH_STAFF": fake.hidden_channel_id})
    report = report_of(capsys, fake)
    assert code == 1
    assert line_of(report, "watched") == (
        "watched      FAIL  the bot cannot see the [[channel]] 'staff' (HTTP 403): give it "
        "View Channel there")


def test_without_attach_files_the_monitoring_channel_fails_saying_what_to_grant(
        tmp_path, monkeypatch, capsys):
    def without_attach_files(fake: FakeDiscord) -> None:
        fake.attach_files_allowed = False

    code, fake = run_bot_check(tmp_path, monkeypatch, prepare=without_attach_files)
    report = report_of(capsys, fake)
    assert code == 1
    assert line_of(report, "channel") == (
        "channel      FAIL  monitoring channel: #hub-monitoring reachable, but the bot lacks "
        "Attach Files (`status` replies come without the timeline picture): grant Attach "
        "Files to the bot there (channel permissions, or its role; the invite link's "
        "permissions integer is 52224)")


@pytest.mark.parametrize(("overwrites", "may_post"), [
    # A read-only channel: @everyone may not post, whatever the server's roles say …
    ([("everyone", 0, SEND_MESSAGES)], False),
    # … unless the bot's role or the bot itself is allowed back in that channel.
    ([("everyone", 0, SEND_MESSAGES), ("role", SEND_MESSAGES, 0)], True),
    ([("everyone", 0, SEND_MESSAGES), ("member", SEND_MESSAGES, 0)], True),
    # The bot's own overwrite beats its role's, either way.
    ([("role", 0, SEND_MESSAGES), ("member", SEND_MESSAGES, 0)], True),
    ([("role", SEND_MESSAGES, 0), ("member", 0, SEND_MESSAGES)], False),
    # A role the bot does not hold changes nothing.
    ([("guests", 0, SEND_MESSAGES)], True),
])
def test_the_display_channel_permissions_follow_the_channels_overwrites(
        tmp_path, monkeypatch, capsys, overwrites, may_post):
    def with_overwrites(fake: FakeDiscord) -> None:
        targets = {"everyone": (fake.guild_id, OVERWRITE_ROLE),
                   "role": (fake.bot_role_id, OVERWRITE_ROLE),
                   "guests": (fake.guest_role_id, OVERWRITE_ROLE),
                   "member": (fake.bot_user["id"], OVERWRITE_MEMBER)}
        fake.overwrites[fake.display_channel_id] = [
            overwrite(targets[who][0], allow=allow, deny=deny, target_type=targets[who][1])
            for who, allow, deny in overwrites]

    code, fake = run_bot_check(
        tmp_path, monkeypatch, prepare=with_overwrites,
        env=lambda fake: {"DISCORD_CHANNEL_ID": fake.display_channel_id})
    report = report_of(capsys, fake)
    assert code == (0 if may_post else 1)
    assert line_of(report, "display").split()[1] == ("ok" if may_post else "FAIL")
    if not may_post:
        assert "lacks Send Messages (posts there get no answer): grant Send Messages" \
            in report
