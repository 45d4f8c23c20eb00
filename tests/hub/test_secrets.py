"""Secrets come from the environment, .env or NAME_FILE, and never show."""

from __future__ import annotations

import logging

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
