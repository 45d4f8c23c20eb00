"""Which transport the Discord settings choose: one decision, which `run` builds and
`check` names, for every combination of the settings that choose it."""

from __future__ import annotations

import itertools
import socket

import pytest

from hub.app import StartupError, choose_transport
from hub.notify.choice import TransportKind, transport_choice
from hub.notify.discord.settings import DEFAULT_GATEWAY_URL, BotSettings
from hub.notify.webhook import DEFAULT_API_BASE
from hub.secrets import Secrets
from tests.hub.test_check import check_report, line_of

TOKEN = "Xq7-s3cr3t"
MONITOR_CHANNEL_ID = "123456789012345678"
WEBHOOK_URL = "https://discord.com/api/webhooks/1/w3bh00k-s3cr3t"

#: Each of the three settings that choose the transport, unset or set, in every combination.
COMBINATIONS = [
    dict(zip(("discord_bot_token", "discord_monitor_channel_id", "discord_webhook_url"),
             values, strict=True))
    for values in itertools.product(("", TOKEN), ("", MONITOR_CHANNEL_ID), ("", WEBHOOK_URL))]


def test_the_bot_is_chosen_over_a_webhook_with_discords_own_endpoints_by_default():
    choice = transport_choice(Secrets(discord_bot_token=TOKEN,
                                      discord_monitor_channel_id=MONITOR_CHANNEL_ID,
                                      discord_webhook_url=WEBHOOK_URL))
    assert choice.kind is TransportKind.BOT
    assert choice.bot == BotSettings(TOKEN, int(MONITOR_CHANNEL_ID), DEFAULT_API_BASE,
                                     DEFAULT_GATEWAY_URL)
    assert not choice.lacks_bot_token and not choice.is_bot_token_unused
    assert TOKEN not in repr(choice) and MONITOR_CHANNEL_ID not in repr(choice)


def test_discord_api_base_and_gateway_url_point_the_bot_and_the_webhook_elsewhere():
    elsewhere = {"discord_api_base": "http://127.0.0.1:9/api/v10",
                 "discord_gateway_url": "ws://127.0.0.1:9/gateway"}
    bot = transport_choice(Secrets(discord_bot_token=TOKEN,
                                   discord_monitor_channel_id=MONITOR_CHANNEL_ID, **elsewhere))
    assert bot.bot is not None
    assert (bot.api_base, bot.bot.api_base, bot.bot.gateway_url) == (
        elsewhere["discord_api_base"], elsewhere["discord_api_base"],
        elsewhere["discord_gateway_url"])
    webhook = transport_choice(Secrets(discord_webhook_url=WEBHOOK_URL, **elsewhere))
    assert (webhook.kind, webhook.api_base, webhook.bot) == (
        TransportKind.WEBHOOK, elsewhere["discord_api_base"], None)


@pytest.mark.parametrize(("secrets", "kind", "lacks_bot_token", "is_bot_token_unused"), [
    ({}, TransportKind.CONSOLE, False, False),
    ({"discord_bot_token": TOKEN}, TransportKind.CONSOLE, False, True),
    ({"discord_bot_token": TOKEN, "discord_webhook_url": WEBHOOK_URL},
     TransportKind.WEBHOOK, False, True),
    ({"discord_monitor_channel_id": MONITOR_CHANNEL_ID}, TransportKind.CONSOLE, True, False),
    ({"discord_monitor_channel_id": MONITOR_CHANNEL_ID, "discord_webhook_url": WEBHOOK_URL},
     TransportKind.WEBHOOK, True, False),
])
def test_without_both_halves_of_the_bot_the_webhook_or_the_console_is_chosen_and_the_half_flagged(
        secrets, kind, lacks_bot_token, is_bot_token_unused):
    choice = transport_choice(Secrets(**secrets))
    assert (choice.kind, choice.bot, choice.lacks_bot_token, choice.is_bot_token_unused) == (
        kind, None, lacks_bot_token, is_bot_token_unused)


@pytest.mark.parametrize("secrets", COMBINATIONS)
def test_run_builds_the_transport_the_choice_names_or_refuses_a_channel_without_a_token(
        secrets):
    choice = transport_choice(Secrets(**secrets))
    if choice.lacks_bot_token:
        with pytest.raises(StartupError, match="DISCORD_BOT_TOKEN is not"):
            choose_transport(Secrets(**secrets), [].append)
    else:
        assert choose_transport(Secrets(**secrets), [].append).name == choice.kind.value


def unreachable_api_base() -> str:
    """A local address where nothing listens: `check`'s calls to Discord fail at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/api/v10"


@pytest.mark.parametrize("secrets", COMBINATIONS)
def test_check_names_the_transport_run_builds_or_fails_where_run_refuses(
        secrets, tmp_path, monkeypatch, capsys):
    env = {name.upper(): value for name, value in secrets.items() if value}
    env["DISCORD_API_BASE"] = unreachable_api_base()
    _, lines = check_report(tmp_path, monkeypatch, capsys, "[hub]\nstate_dir = 'state'\n",
                            env=env)
    transport = line_of("\n".join(lines), "transport")
    try:
        built = choose_transport(Secrets(**secrets), [].append).name
    except StartupError:
        assert transport.split()[1] == "FAIL"
    else:
        assert transport.split()[2].rstrip(":") == built
    assert TOKEN not in "\n".join(lines) and "w3bh00k-s3cr3t" not in "\n".join(lines)


def test_a_display_channel_that_is_the_monitoring_channel_fails_check_as_run_refuses_it(
        tmp_path, monkeypatch, capsys):
    from hub.display.messages import DisplayChannel, MessageBoard, MessageSettings

    secrets = Secrets(discord_bot_token=TOKEN, discord_monitor_channel_id=MONITOR_CHANNEL_ID,
                      discord_channel_id=MONITOR_CHANNEL_ID)
    assert transport_choice(secrets).shares_display_channel
    display = DisplayChannel(int(MONITOR_CHANNEL_ID), MessageBoard(tmp_path),
                             MessageSettings())
    with pytest.raises(StartupError, match="the same channel"):
        choose_transport(secrets, [].append, display=display)
    env = {"DISCORD_BOT_TOKEN": TOKEN, "DISCORD_MONITOR_CHANNEL_ID": MONITOR_CHANNEL_ID,
           "DISCORD_CHANNEL_ID": MONITOR_CHANNEL_ID, "DISCORD_API_BASE": unreachable_api_base()}
    code, lines = check_report(tmp_path, monkeypatch, capsys, "[hub]\nstate_dir = 'state'\n",
                               env=env)
    assert code == 1
    assert line_of("\n".join(lines), "display").split()[1] == "FAIL"
    assert "the same channel" in line_of("\n".join(lines), "display")
