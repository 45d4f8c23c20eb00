"""Secrets come from the environment, .env or NAME_FILE, and never show."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from hub.secrets import RedactingFilter, SecretsError, load_secrets, read_dotenv

TOKEN = "MTE4NzY1.secret-token-value"
WEBHOOK = "https://discord.com/api/webhooks/123456789/AbC-webhook-token_xyz"


def test_environment_wins_over_dotenv(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"# comment\nexport DISCORD_BOT_TOKEN='{TOKEN}'\n"
                      "DISCORD_MONITOR_CHANNEL_ID=111\n", encoding="utf-8")
    secrets = load_secrets({"DISCORD_MONITOR_CHANNEL_ID": "222"}, dotenv)
    assert secrets.discord_bot_token == TOKEN
    assert secrets.discord_monitor_channel_id == "222"


def test_name_file_holds_the_secret(tmp_path):
    (tmp_path / "hook").write_text(WEBHOOK + "\n", encoding="utf-8")
    secrets = load_secrets({"DISCORD_WEBHOOK_URL_FILE": str(tmp_path / "hook")}, None)
    assert secrets.discord_webhook_url == WEBHOOK


def test_unreadable_secret_file_names_the_variable_not_the_value(tmp_path):
    with pytest.raises(SecretsError, match="DISCORD_BOT_TOKEN_FILE: cannot read"):
        load_secrets({"DISCORD_BOT_TOKEN_FILE": str(tmp_path / "absent")}, None)


def test_channel_ids_must_be_numeric():
    with pytest.raises(SecretsError, match="DISCORD_CHANNEL_ID: expected a numeric channel id"):
        load_secrets({"DISCORD_CHANNEL_ID": "#general"}, None)


def test_bad_dotenv_line_is_reported_by_line(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("DISCORD_BOT_TOKEN\n", encoding="utf-8")
    with pytest.raises(SecretsError, match=r"\.env:1: expected KEY=value"):
        read_dotenv(dotenv)


def test_repr_says_what_is_set_but_not_the_values():
    secrets = load_secrets({"DISCORD_BOT_TOKEN": TOKEN, "DISCORD_WEBHOOK_URL": WEBHOOK}, None)
    text = repr(secrets)
    assert TOKEN not in text and WEBHOOK not in text
    assert "discord_bot_token=set" in text and "discord_channel_id=unset" in text


def test_log_records_are_scrubbed_of_every_secret(caplog):
    secrets = load_secrets({"DISCORD_BOT_TOKEN": TOKEN, "DISCORD_WEBHOOK_URL": WEBHOOK}, None)
    logger = logging.getLogger("test.secrets")
    logger.addFilter(RedactingFilter(secrets))
    try:
        with caplog.at_level(logging.INFO, logger="test.secrets"):
            logger.info("posting to %s with %s", WEBHOOK, TOKEN)
            try:
                raise RuntimeError(f"failed: {TOKEN}")
            except RuntimeError:
                logger.exception("boom")
    finally:
        logger.filters.clear()
    assert TOKEN not in caplog.text and WEBHOOK not in caplog.text
    assert "posting to *** with ***" in caplog.text


def test_the_status_page_token_is_a_secret_too(caplog):
    secrets = load_secrets({"HUB_HTTP_TOKEN": "page-token-123"}, None)
    assert secrets.hub_http_token == "page-token-123"
    assert "page-token-123" not in repr(secrets)
    logger = logging.getLogger("test.secrets.token")
    logger.addFilter(RedactingFilter(secrets))
    with caplog.at_level(logging.INFO, logger="test.secrets.token"):
        logger.info("GET /?token=%s", "page-token-123")
    assert caplog.records[0].getMessage() == "GET /?token=***"


def test_an_unreadable_dotenv_is_a_clear_error_not_a_crash(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_bytes(b"DISCORD_BOT_TOKEN=\xff\xfe\n")
    with pytest.raises(SecretsError, match=r"\.env: cannot read: not UTF-8 text"):
        read_dotenv(dotenv)


@pytest.mark.parametrize(("name", "value"), [
    ("DISCORD_GATEWAY_URL", "ws://[::1/"),
    ("DISCORD_GATEWAY_URL", "http://127.0.0.1:8080/"),
    ("DISCORD_GATEWAY_URL", "gateway.discord.gg"),
    ("DISCORD_GATEWAY_URL", "wss://"),
    ("DISCORD_GATEWAY_URL", "ws://127.0.0.1:99999/"),
    ("DISCORD_GATEWAY_URL", "ws://proxy host/"),
    ("DISCORD_API_BASE", "https://[::1/api"),
    ("DISCORD_API_BASE", "ftp://discord.com/api"),
    ("DISCORD_API_BASE", "discord.com/api/v10"),
])
def test_a_malformed_redirect_url_names_the_variable_and_not_the_value(name, value):
    with pytest.raises(SecretsError) as caught:
        load_secrets({name: value}, None)
    assert str(caught.value) == {
        "DISCORD_GATEWAY_URL": "DISCORD_GATEWAY_URL: expected a URL such as "
                               "wss://gateway.discord.gg (ws:// or wss://, with a host)",
        "DISCORD_API_BASE": "DISCORD_API_BASE: expected a URL such as "
                            "https://discord.com/api/v10 (http:// or https://, with a host)",
    }[name]


@pytest.mark.parametrize(("name", "value"), [
    ("DISCORD_GATEWAY_URL", "ws://127.0.0.1:8080"),
    ("DISCORD_GATEWAY_URL", "wss://gateway.discord.gg/"),
    ("DISCORD_API_BASE", "https://discord.com/api/v10"),
    ("DISCORD_API_BASE", "http://[::1]:8080/api"),
])
def test_well_formed_redirect_urls_are_kept(name, value):
    assert getattr(load_secrets({name: value}, None), name.lower()) == value


def test_a_malformed_gateway_url_stops_check_with_one_line_and_exit_2(tmp_path):
    config = tmp_path / "hub.toml"
    config.write_text("[hub]\nname = 'x'\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "HUB_"))}
    done = subprocess.run([sys.executable, "-m", "hub", "check", "-c", str(config)],
                          capture_output=True, text=True, timeout=60,
                          env={**env, "DISCORD_GATEWAY_URL": "ws://[::1/"})
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == ("divoom-hub check: DISCORD_GATEWAY_URL: expected a URL such as "
                           "wss://gateway.discord.gg (ws:// or wss://, with a host)\n")


def test_a_channel_id_needs_ascii_digits():
    # '²'.isdigit() is true, but int('²') fails: the id would crash the bot at start.
    with pytest.raises(SecretsError, match="DISCORD_MONITOR_CHANNEL_ID: expected a numeric"):
        load_secrets({"DISCORD_MONITOR_CHANNEL_ID": "12\u00b2"}, None)


def test_a_secret_file_that_is_not_utf8_names_the_variable(tmp_path):
    (tmp_path / "token").write_bytes(b"\xff\xfe-token")
    with pytest.raises(SecretsError, match="^DISCORD_BOT_TOKEN_FILE: the file is not UTF-8"):
        load_secrets({"DISCORD_BOT_TOKEN_FILE": str(tmp_path / "token")}, None)


def test_an_undecodable_environment_value_names_the_variable_and_not_the_value():
    # Python hands bytes that are not UTF-8 in the environment over as lone surrogates.
    with pytest.raises(SecretsError) as caught:
        load_secrets({"DISCORD_BOT_TOKEN": "tok\udcffen"}, None)
    assert str(caught.value) == "DISCORD_BOT_TOKEN: not UTF-8 text"
