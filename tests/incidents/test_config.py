"""`[discord] operators` and the example config's commented incident settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.config import ConfigError, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "hub.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_operators_are_user_or_role_ids_given_as_strings_or_numbers(tmp_path):
    config = load_config(write(tmp_path, '[discord]\noperators = ["123456789012345678", '
                                         '234567890123456789]\n'))
    assert config.discord.operators == {123456789012345678, 234567890123456789}
    assert load_config(write(tmp_path, "")).discord.operators == frozenset()


@pytest.mark.parametrize(("text", "message"), [
    ('operators = "123"', "[discord] operators: expected a list of Discord user or role "
                          "ids, such as [\"123456789012345678\"], got '123'"),
    ('operators = ["ada"]', "[discord] operators: expected a list of Discord user or role "
                            "ids, such as [\"123456789012345678\"], got 'ada'"),
    ('operators = [true]', "got True"),
    ('admins = ["1"]', "[discord] admins: unknown key (known: mention_critical, operators)"),
])
def test_bad_operators_name_file_and_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, f"[discord]\n{text}\n"))
    assert str(caught.value).startswith(f"{tmp_path / 'hub.toml'}: ")
    assert message in str(caught.value)


def test_the_examples_commented_operators_and_window_load_when_uncommented(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8")
    block = text[text.index("# [discord]"):]
    uncommented = re.sub(r"^# (?=\[|operators|mention_critical|components|days|start|"
                         r"duration|reason)", "", block, flags=re.MULTILINE)
    config = load_config(write(tmp_path, text.replace(block, uncommented)))
    assert config.discord.operators == {123456789012345678}
    assert config.mention_critical is not None
    [window] = config.maintenance
    assert window.components == {"router", "bus", "weather"}
    assert (window.start_minute, window.duration_seconds) == (180, 1800)


def test_check_says_who_may_silence_the_next_windows_and_the_kill_switch(tmp_path):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from hub.check.report import _incident_findings
    from hub.secrets import Secrets

    config = load_config(write(tmp_path, (
        '[hub]\ntimezone = "Europe/Oslo"\nnotifications = false\n'
        '[discord]\noperators = ["123456789012345678"]\n'
        '[[maintenance]]\ncomponents = "*"\ndays = ["sun"]\nstart = "03:00"\n'
        'duration = "30m"\nreason = "router reboot"\n')))
    monday = datetime(2026, 11, 30, 12, 0, tzinfo=ZoneInfo("Europe/Oslo")).timestamp()
    lines = [f.line() for f in _incident_findings(config, Secrets(), now=monday)]
    assert lines == [
        "notices      WARN  [hub] notifications = false: every notice is recorded and none "
        "is sent",
        "operators    WARN  [discord] operators need the bot (DISCORD_BOT_TOKEN and "
        "DISCORD_MONITOR_CHANNEL_ID); without it use divoom-hub mute/unmute/ack or "
        "/api/silences",
        "maintenance  ok    every component: next Sun 06 Dec 03:00 CET to Sun 06 Dec 03:30 CET "
        "(router reboot)"]
