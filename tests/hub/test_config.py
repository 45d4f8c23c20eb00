"""hub.toml loading: defaults, per-component policies, and errors that name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import Config, ConfigError, load_config
from machines import Policy


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_config_gives_the_documented_defaults(monkeypatch):
    monkeypatch.delenv("HUB_CONFIG", raising=False)
    config = load_config(None)
    assert config == Config(hub=config.hub)
    assert config.policy == Policy()
    assert config.hub.http_listen == "127.0.0.1:8787"


def test_hub_config_env_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_CONFIG", str(write(tmp_path, '[hub]\nname = "shelf"\n')))
    assert load_config(None).hub.name == "shelf"


def test_component_policy_overrides_the_defaults_which_override_the_builtins(tmp_path):
    config = load_config(write(tmp_path, """
[hub]
name = "kitchen"
state_dir = "var"
timezone = "Europe/Oslo"

[policy]
failures_before_alert = 5
remind_after_seconds = 600

[policy.bus]
failures_before_alert = 2
"""))
    assert config.hub.state_dir == tmp_path / "var"  # relative to the config file
    assert config.policy_for("weather") == Policy(failures_before_alert=5,
                                                  remind_after_seconds=600)
    assert config.policy_for("bus") == Policy(failures_before_alert=2, remind_after_seconds=600)
    assert config.policy_for("anything-else") is config.policy


@pytest.mark.parametrize(("text", "message"), [
    ("[hub]\nnmae = 'x'\n", "[hub] nmae: unknown key"),
    ("[bogus]\n", "[bogus]: unknown key"),
    ("[policy]\nfailures_before_alert = 0\n", "[policy] failures_before_alert: expected"),
    ("[policy]\nremind_backoff = 0.5\n", "[policy] remind_backoff: expected >= 1"),
    ("[policy.bus]\nremind_after_seconds = 100\nremind_max_seconds = 50\n",
     "[policy.bus] remind_max_seconds: expected >= remind_after_seconds"),
    ("[policy.bus]\nfailures_before_alert = '3'\n", "[policy.bus] failures_before_alert"),
    ("[policy.bus]\nretries = 3\n", "[policy.bus] retries: unknown key"),
    ("[hub]\ntimezone = 'Mars/Olympus'\n", "[hub] timezone: expected an IANA zone"),
    ("[hub]\nhttp_listen = 'localhost'\n", "[hub] http_listen: expected 'host:port'"),
    ("[hub]\nname = 3\n", "[hub] name: expected a string, got 3"),
    ("hub = 3\n", "hub: expected a table"),
    ("[hub\n", "not valid TOML"),
])
def test_bad_config_names_file_key_and_expectation(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml")


def test_http_listen_can_be_disabled(tmp_path):
    assert load_config(write(tmp_path, '[hub]\nhttp_listen = ""\n')).hub.http_listen == ""


def test_the_example_config_in_the_repository_is_valid():
    example = Path(__file__).resolve().parents[2] / "hub.example.toml"
    config = load_config(example)
    assert config.bus is not None and config.weather is not None and config.pixoo is not None
    assert [m.name for m in config.monitors] == ["router", "nas"]
    assert [h.name for h in config.heartbeats] == ["backup"]
    assert config.policy_for("bus").failures_before_alert == 5


@pytest.mark.parametrize(("body", "key"), [
    ("[weather]\nlat = nan\nlon = 10.0\nuser_agent = 'hub you@example.com'\n", "lat"),
    ("[[monitor]]\nkind = 'http'\nname = 'web'\nurl = 'http://x/'\nevery_seconds = inf\n",
     "every_seconds"),
    ("[bus]\nclient_name = 'acme-hub'\nquays = ['NSR:Quay:1']\nlabels = ['A']\n"
     "every_seconds = nan\n", "every_seconds"),
])
def test_nan_and_infinity_are_not_numbers_a_setting_can_take(tmp_path, body, key):
    with pytest.raises(ConfigError, match=rf"{key}: expected"):
        load_config(write(tmp_path, body))
