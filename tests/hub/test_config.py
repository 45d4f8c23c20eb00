"""hub.toml loading: defaults, per-component policies, and errors that name file and key."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from hub.cli import main
from hub.config import Config, ConfigError, check_http_access, load_config
from hub.notify.alerting import Mention, Severity
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


def test_each_built_in_component_gets_the_defaults_that_fit_it(tmp_path):
    config = Config()
    assert config.policy_for("pixoo") == Policy(failures_before_alert=5,
                                                failing_for_seconds=30)
    assert config.policy_for("weather") == Policy(failures_before_alert=2)
    assert config.policy_for("bus") == Policy(failures_before_alert=3)
    assert config.policy_for("router") == Policy()


def test_a_key_written_in_policy_or_policy_name_beats_the_fitting_default(tmp_path):
    config = load_config(write(tmp_path, """
[policy]
failures_before_alert = 4
remind_after_seconds = 600

[policy.pixoo]
failing_for_seconds = 10
"""))
    # [policy] said failures_before_alert for every component; pixoo's own table said 10 s.
    assert config.policy_for("pixoo") == Policy(failures_before_alert=4,
                                                failing_for_seconds=10,
                                                remind_after_seconds=600)
    assert config.policy_for("weather") == Policy(failures_before_alert=4,
                                                  remind_after_seconds=600)
    only_pixoo = load_config(write(tmp_path, "[policy.pixoo]\nsettle_seconds = 60\n"))
    assert only_pixoo.policy_for("pixoo") == Policy(failures_before_alert=5,
                                                    failing_for_seconds=30, settle_seconds=60)


def test_error_rate_keys_are_read_and_a_bad_one_names_the_file_and_key(tmp_path):
    config = load_config(write(tmp_path, "[policy]\nerror_rate_threshold = 0.3\n"
                                         "[policy.pixoo]\nerror_rate_min_outcomes = 20\n"))
    assert config.policy_for("pixoo").error_rate_threshold == 0.3
    assert config.policy_for("pixoo").error_rate_min_outcomes == 20
    path = write(tmp_path, "[policy]\nerror_rate_threshold = 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value)
    assert "error_rate_threshold" in str(err.value)
    assert "from 0 (off) to 1" in str(err.value)


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
    ("[policy]\nseverity = 'high'\n",
     "[policy] severity: expected 'info' or 'warning' or 'critical', got 'high'"),
    ("[policy.bus]\nseverity = 3\n", "[policy.bus] severity: expected 'info' or"),
    ("[discord]\nmention_critical = '@here'\n",
     "[discord] mention_critical: expected 'role:<id>' or 'user:<id>'"),
    ("[discord]\nmention_critical = 'role:everyone'\n", "[discord] mention_critical"),
    ("[discord]\nmention = 'role:123456789012345678'\n", "[discord] mention: unknown key"),
    ("[hub]\noutbox_max_bytes = 100\n", "[hub] outbox_max_bytes: expected a whole number"),
    ("[hub]\noutbox_max_bytes = 1e6\n", "[hub] outbox_max_bytes: expected a whole number"),
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
    assert [config.policy_for(c).depends_on for c in ("bus", "weather", "pixoo", "router")] \
        == [("router",)] * 3 + [()]


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


# -- every bad input is one line and exit 2, naming the file and the key -----------------

def run_cli(*args: str, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m hub …` as a user (or systemd) runs it, without HUB_HTTP_TOKEN."""
    environ = {k: v for k, v in os.environ.items()
               if k not in ("HUB_HTTP_TOKEN", "HUB_CONFIG")} | (env or {})
    return subprocess.run([sys.executable, "-m", "hub", *args], capture_output=True,
                          text=True, timeout=60, env=environ, cwd=cwd)


@pytest.mark.parametrize("command", ["run"])  # `check` reports it as a FAIL line (test_check)
def test_listening_beyond_loopback_without_a_token_is_one_line_and_exit_2(tmp_path, command):
    path = write(tmp_path, "[hub]\nstate_dir = 'state'\nhttp_listen = '0.0.0.0:8787'\n")
    done = run_cli(command, "-c", str(path), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        f"divoom-hub {command}: {path}: [hub] http_listen: '0.0.0.0:8787' is beyond "
        "loopback, so the status page needs an access token: set HUB_HTTP_TOKEN in the "
        "environment or .env, or listen on 127.0.0.1 only\n")
    assert done.stdout == ""
    assert not (tmp_path / "state").exists()  # refused before anything started


def test_the_demo_on_a_public_address_without_a_token_is_one_line_and_exit_2(tmp_path):
    done = run_cli("demo", "--http-listen", "0.0.0.0:0", "--seconds", "30",
                   "--state-dir", str(tmp_path / "demo"), cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "divoom-hub demo: refusing to serve the status page on 0.0.0.0:0 without an access "
        "token: set HUB_HTTP_TOKEN in the environment or .env (clients then send "
        "'Authorization: Bearer <token>' or '?token=<token>'), or listen on 127.0.0.1 only\n")


def test_a_token_in_the_dotenv_beside_the_config_lets_check_pass_a_public_listen(tmp_path):
    path = write(tmp_path, "[hub]\nhttp_listen = '0.0.0.0:8787'\n")
    (tmp_path / ".env").write_text("HUB_HTTP_TOKEN=a-long-random-string\n", encoding="utf-8")
    done = run_cli("check", "-c", str(path))
    assert done.returncode == 0, done.stderr
    assert "a-long-random-string" not in done.stdout + done.stderr


def test_check_http_access_allows_loopback_and_a_disabled_server(tmp_path):
    for listen in ("127.0.0.1:8787", "[::1]:0", "localhost:8787", ""):
        config = load_config(write(tmp_path, f"[hub]\nhttp_listen = '{listen}'\n"))
        check_http_access(config, has_token=False)
    public = load_config(write(tmp_path, "[hub]\nhttp_listen = 'pi.lan:8787'\n"))
    check_http_access(public, has_token=True)
    with pytest.raises(ConfigError, match=r"\[hub\] http_listen: 'pi.lan:8787' is beyond"):
        check_http_access(public, has_token=False)  # a name may resolve to anything


def test_a_config_saved_as_latin1_names_the_file_and_the_line(tmp_path):
    path = tmp_path / "hub.toml"
    path.write_bytes("[hub]\nname = 'kjøkken'\n".encode("latin-1"))
    done = run_cli("check", "-c", str(path))
    assert done.returncode == 2
    assert done.stderr == (f"divoom-hub check: {path}:2: not UTF-8 text (byte 0xf8): save "
                           "the file as UTF-8\n")


BIG = "1" + "0" * 400


@pytest.mark.parametrize(("text", "message"), [
    (f"[policy]\nsettle_seconds = {BIG}\n",
     "[policy] settle_seconds: expected a finite number of seconds from 0 to 2592000 "
     "(30 days), got a number of 401 digits"),
    (f"[policy.bus]\nfailures_before_alert = {BIG}\n",
     "[policy.bus] failures_before_alert: expected a whole number from 1 to 1000, got a "
     "number of 401 digits"),
    (f"[[monitor]]\nkind = 'threshold'\nname = 't'\nmin = {BIG}\n",
     "[[monitor]] #1 (threshold): min: expected a number (the lowest acceptable value), "
     "got a number of 401 digits"),
    (f"[display]\nwalk_seconds = {BIG}\n",
     "[display] walk_seconds: expected seconds from 0 to 86400, got a number of 401 digits"),
    ("[hub]\nname = 'x'\n[policy]\nsettle_seconds = 1" + "0" * 5000 + "\n",
     ":4: not valid TOML: a number with more than 4300 digits"),
    ("[[monitor]]\nkind = 'http'\nname = 'web'\nurl = 'http://[::1/'\n",
     "[[monitor]] #1: url: expected an http:// or https:// URL, got 'http://[::1/'"),
    ("[weather]\nlat = 1\nlon = 2\nuser_agent = 'x a@b.no'\nendpoint = 'http://[::1/x'\n",
     "[weather] endpoint: expected an http:// or https:// URL, got 'http://[::1/x'"),
    ("[pixoo]\naddress = 'http://[::1/'\n", "[pixoo] address: expected an IP or host"),
    ('[hub]\nstate_dir = "state\\u0000x"\n',
     "[hub] state_dir: expected a folder path (no NUL character), got 'state\\x00x'"),
    ("[hub]\nstate_dir = '~nosuchuser-divoom/state'\n",
     "[hub] state_dir: expected a folder path (~nosuchuser-divoom names no user of this "
     "system)"),
    ("[hub]\nhttp_listen = 'pi:\u00b2'\n", "[hub] http_listen: expected 'host:port'"),
    ("[messages]\nallowed_users = ['\u00b2']\n", "[messages] allowed_users: expected a list"),
    ("a = " + "[" * 3000 + "]" * 3000 + "\n", ":1: not valid TOML: arrays or tables nested"),
])
def test_odd_input_is_one_line_naming_the_file_and_the_key(tmp_path, capsys, text, message):
    path = write(tmp_path, text)
    assert main(["check", "-c", str(path)]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"divoom-hub check: {path}") and message in err
    assert err.count("\n") == 1 and out == ""


# -- sane bounds for every interval ------------------------------------------------------

@pytest.mark.parametrize("key", ["failing_for_seconds", "remind_after_seconds",
                                 "remind_max_seconds", "settle_seconds",
                                 "stale_after_seconds"])
def test_policy_durations_are_at_most_30_days(tmp_path, key):
    at_most = f"[policy]\n{key} = 2592000\nremind_max_seconds = 2592000\n"
    if key == "remind_max_seconds":
        at_most = f"[policy]\n{key} = 2592000\n"
    assert getattr(load_config(write(tmp_path, at_most)).policy, key) == 2_592_000
    for value in ("2592001", "1e12", "inf", "nan"):
        with pytest.raises(ConfigError) as caught:
            load_config(write(tmp_path, f"[policy.bus]\n{key} = {value}\n"))
        assert f"[policy.bus] {key}: expected a finite number of seconds from 0 to 2592000 " \
               "(30 days)" in str(caught.value)


@pytest.mark.parametrize(("key", "highest", "message"), [
    ("failures_before_alert", 1000, "expected a whole number from 1 to 1000"),
    ("successes_before_recovery", 1000, "expected a whole number from 1 to 1000"),
    ("remind_backoff", 10, "expected >= 1 .* and at most 10"),
])
def test_policy_counts_and_the_backoff_are_bounded(tmp_path, key, highest, message):
    assert getattr(load_config(write(tmp_path, f"[policy]\n{key} = {highest}\n")).policy,
                   key) == highest
    with pytest.raises(ConfigError, match=rf"\[policy\] {key}: {message}"):
        load_config(write(tmp_path, f"[policy]\n{key} = {highest + 1}\n"))


@pytest.mark.parametrize(("text", "key"), [
    ("[[monitor]]\nkind = 'http'\nname = 'web'\nurl = 'http://x/'\nevery_seconds = 1e300\n",
     "every_seconds"),
    ("[[monitor]]\nkind = 'http'\nname = 'web'\nurl = 'http://x/'\ntimeout_seconds = 1e9\n",
     "timeout_seconds"),
    ("[bus]\nclient_name = 'acme-hub'\nquays = ['NSR:Quay:1']\nlabels = ['A']\n"
     "every_seconds = 2592001\n", "every_seconds"),
    ("[weather]\nlat = 1\nlon = 2\nuser_agent = 'x a@b.no'\nevery_seconds = 1e300\n",
     "every_seconds"),
    ("[[monitor]]\nkind = 'heartbeat'\nname = 'b'\nperiod_seconds = 1e12\n"
     "grace_seconds = 0\n", "period_seconds"),
    ("[[channel]]\nname = 'ops'\nsilent_after_minutes = 43201\n", "silent_after_minutes"),
])
def test_intervals_are_at_most_30_days(tmp_path, text, key):
    with pytest.raises(ConfigError, match=rf"{key}: expected at most "):
        load_config(write(tmp_path, text))


WEATHER = "[weather]\nlat = 1\nlon = 2\nuser_agent = 'x a@b.no'\n"
PIXOO = "[pixoo]\naddress = '192.168.1.50'\n"


@pytest.mark.parametrize(("text", "message"), [
    # `lat` in two sections, one wording (there was "between -90 and 90" beside this)
    (WEATHER.replace("lat = 1", "lat = 91"),
     "[weather] lat: expected a number from -90 to 90, got 91"),
    (PIXOO + "lat = 91\nlon = 10\n", "[pixoo] lat: expected a number from -90 to 90, got 91"),
    # a section asks for "a number" until the value is one, [pixoo] too
    (WEATHER.replace("lat = 1", "lat = true"), "[weather] lat: expected a number, got True"),
    (PIXOO + "timeout_seconds = true\n", "[pixoo] timeout_seconds: expected a number, got True"),
    # a duration with its own, lower bound is told that bound, not the 30 days of any duration
    (WEATHER + "timeout_seconds = 1e7\n",
     "[weather] timeout_seconds: expected a number from 0.1 to 120, got 10000000.0"),
    (PIXOO + "timeout_seconds = 1e7\n",
     "[pixoo] timeout_seconds: expected a number from 0.1 to 30, got 10000000.0"),
    (PIXOO + "reset_every = 500\n", "[pixoo] reset_every: expected a whole number from 1 to "
                                      "200 (the device locks up after a few hundred frames), "
                                      "got 500"),
    ("[bus]\nclient_name = 'acme-hub'\nquays = ['NSR:Quay:1']\nlabels = ['A']\n"
     "departures = 21\n",
     "[bus] departures: expected a whole number from 1 to 20, got 21"),
])
def test_every_section_words_a_bad_number_alike(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {message}"


def test_a_heartbeat_whose_period_and_grace_add_up_beyond_30_days_is_refused(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "[[monitor]]\nkind = 'heartbeat'\nname = 'b'\n"
                                    "period_seconds = 2000000\ngrace_seconds = 600000\n"))
    assert str(caught.value) == (
        f"{tmp_path / 'hub.toml'}: [[monitor]] #1 (heartbeat): period_seconds + "
        "grace_seconds: expected a finite number of seconds from 0 to 2592000 (30 days), "
        "got 2600000.0")


# -- [policy.<component>] names a component ----------------------------------------------

def test_a_policy_for_no_component_names_the_file_the_table_and_the_known_ones(tmp_path):
    path = write(tmp_path, """
[policy.buss]
failures_before_alert = 5

[[monitor]]
kind = "http"
name = "router"
url = "http://192.0.2.1/"

[[channel]]
name = "ops"
silent_after_minutes = 60

[[channel]]
name = "chat"
""")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}: [policy.buss]: no component is named 'buss' (known: bus, weather, pixoo, "
        "discord, hub, router, channel-ops)")
    done = run_cli("check", "-c", str(path))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"divoom-hub check: {caught.value}\n"


def test_policies_for_every_known_component_are_accepted(tmp_path):
    config = load_config(write(tmp_path, """
[policy.hub]
failures_before_alert = 1
[policy.discord]
failures_before_alert = 2
[policy.router]
failures_before_alert = 3
[policy.channel-ops]
failures_before_alert = 4

[[monitor]]
kind = "http"
name = "router"
url = "http://192.0.2.1/"

[[channel]]
name = "ops"
silent_after_minutes = 60
"""))
    assert [config.policy_for(c).failures_before_alert
            for c in ("hub", "discord", "router", "channel-ops", "bus")] == [1, 2, 3, 4, 3 * 1]


def test_a_monitor_may_not_be_named_hub(tmp_path):
    with pytest.raises(ConfigError, match=r"\[\[monitor\]\] #1: name: expected a name not used "
                                          r"by a built-in component, got 'hub'"):
        load_config(write(tmp_path, "[[monitor]]\nkind = 'http'\nname = 'hub'\n"
                                    "url = 'http://192.0.2.1/'\n"))


def test_replay_accepts_a_policy_for_a_component_of_its_history(tmp_path):
    path = write(tmp_path, "[policy.\"my api\"]\nfailures_before_alert = 1\n")
    assert load_config(path, history={"my api"}).policy_for("my api").failures_before_alert == 1
    with pytest.raises(ConfigError, match="or a component of the history"):
        load_config(path, history={"bus"})
    with pytest.raises(ConfigError, match="no component is named 'my api'"):
        load_config(path)


# -- the version -------------------------------------------------------------------------

def test_version_prints_the_installed_version(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out == f"divoom-hub {version('divoom-hub')}\n"


def test_severity_per_component_and_the_critical_mention_are_read(tmp_path):
    config = load_config(write(tmp_path, """
[hub]
outbox_max_bytes = 1_000_000
[policy]
severity = "info"
failures_before_alert = 2
[policy.bus]
severity = "critical"
failures_before_alert = 4
[policy.weather]
failures_before_alert = 5
[discord]
mention_critical = "user:123456789012345678"
"""))
    alerting = config.alerting()
    assert alerting.severity_for("bus") is Severity.CRITICAL
    assert alerting.severity_for("weather") is Severity.INFO  # [policy]'s, inherited
    assert alerting.mention_critical == Mention("user", "123456789012345678")
    assert alerting.mention_critical.allowed_mentions == {
        "parse": [], "roles": [], "users": ["123456789012345678"], "replied_user": False}
    assert config.policy_for("bus").failures_before_alert == 4  # the machines' keys still read
    assert config.hub.outbox_max_bytes == 1_000_000


def test_without_severity_every_component_is_a_warning_and_nobody_is_pinged():
    alerting = Config().alerting()
    assert alerting.severity_for("bus") is Severity.WARNING
    assert alerting.mention_critical is None


# -- depends_on --------------------------------------------------------------------------

ROUTER = """
[[monitor]]
kind = "http"
name = "router"
url = "http://192.0.2.1/"
"""


def test_depends_on_is_read_per_component(tmp_path):
    config = load_config(write(tmp_path, ROUTER + """
[policy]
flap_alerts = 4
[policy.bus]
depends_on = ["router"]
flap_window_seconds = 600
"""))
    assert config.policy_for("bus").depends_on == ("router",)
    assert (config.policy_for("bus").flap_alerts, config.policy_for("bus").flap_window_seconds) \
        == (4, 600.0)
    assert config.policy_for("weather").depends_on == ()


def test_a_cycle_in_depends_on_is_an_error_naming_it(tmp_path):
    path = write(tmp_path, ROUTER + """
[policy.router]
depends_on = ["weather"]
[policy.bus]
depends_on = ["router"]
[policy.weather]
depends_on = ["bus"]
""")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}: [policy.router] depends_on: a cycle: router -> weather -> bus -> router "
        "(a component cannot wait on itself)")


def test_depending_on_itself_is_a_cycle(tmp_path):
    with pytest.raises(ConfigError, match=r"\[policy.bus\] depends_on: a cycle: bus -> bus"):
        load_config(write(tmp_path, "[policy.bus]\ndepends_on = ['bus']\n"))


def test_depends_on_an_unknown_component_names_it(tmp_path):
    path = write(tmp_path, "[policy.bus]\ndepends_on = ['routr']\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}: [policy.bus] depends_on: no component is named 'routr' (known: bus, "
        "weather, pixoo, discord, hub)")
    assert load_config(path, history={"routr"}).policy_for("bus").depends_on == ("routr",)


@pytest.mark.parametrize(("text", "message"), [
    ("[policy]\ndepends_on = ['router']\n",
     r"\[policy\] depends_on: belongs in \[policy.<component>\]"),
    ("[policy.bus]\ndepends_on = 'router'\n",
     r"\[policy.bus\] depends_on: expected a list of component names, such as \[\"router\"\], "
     r"got 'router'"),
    ("[policy.bus]\ndepends_on = ['']\n", r"depends_on: expected a list of component names"),
    ("[policy]\nflap_alerts = 1\n",
     r"\[policy\] flap_alerts: expected 0 \(off\) or a whole number from 2 to 1000, got 1"),
    ("[policy]\nflap_window_seconds = 0\n",
     r"\[policy\] flap_window_seconds: expected at least 0.001, got 0"),
])
def test_bad_flapping_and_dependency_keys_name_the_table_and_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))
