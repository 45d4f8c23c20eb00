"""`divoom-hub replay`: the policy dry-run, as users run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.cli import main
from hub.config import Config
from hub.replay import ReplayEvent, notice_record, parse_history, replay
from machines import HealthMachines, Notice, NotificationPolicy, Policy


def history(tmp_path: Path, *events: dict) -> Path:
    path = tmp_path / "history.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def run_cli(capsys, *args: str) -> tuple[int, list[dict], str]:
    code = main(["replay", *args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def fail(at: float, component: str = "bus", **extra) -> dict:
    return {"at": at, "component": component, "ok": False, "error": "timeout", **extra}


def ok(at: float, component: str = "bus", **extra) -> dict:
    return {"at": at, "component": component, "ok": True, **extra}


def test_replay_prints_alert_reminders_and_recovery_as_specified(tmp_path, capsys):
    path = history(tmp_path, ok(0), fail(60), fail(120), fail(180), ok(3000))
    code, lines, _ = run_cli(capsys, str(path))
    assert code == 0
    assert lines == [
        {"scenario": "default", "at": 180, "component": "bus", "kind": "alert",
         "state": "alerting", "failures": 3, "failing_for": 120, "incident": "bus#1"},
        {"scenario": "default", "at": 1080, "component": "bus", "kind": "reminder",
         "state": "reminding", "failures": 3, "failing_for": 1020, "reminder": 1,
         "incident": "bus#1"},
        {"scenario": "default", "at": 2880, "component": "bus", "kind": "reminder",
         "state": "reminding", "failures": 3, "failing_for": 2820, "reminder": 2,
         "incident": "bus#1"},
        {"scenario": "default", "at": 3000, "component": "bus", "kind": "recovery",
         "state": "recovered", "failures": 3, "failing_for": 2940, "downtime": 2940,
         "incident": "bus#1"},
    ]
    assert [list(line) for line in lines][3] == [  # the order DESIGN.md lists
        "scenario", "at", "component", "kind", "state", "failures", "failing_for",
        "downtime", "incident"]


def test_until_runs_timers_past_the_last_event_and_cuts_later_events(tmp_path, capsys):
    path = history(tmp_path, fail(0), fail(1), fail(2), ok(5000))
    _, lines, _ = run_cli(capsys, str(path), "--until", "2700")
    # alert at 2, reminders at 902 and 2702 (> 2700: not yet); the success at 5000 is cut
    assert [(line["kind"], line["at"]) for line in lines] == [("alert", 2), ("reminder", 902)]


def test_each_scenario_has_its_own_machines(tmp_path, capsys):
    path = history(tmp_path, fail(0, scenario="a"), fail(1, scenario="b"),
                   fail(2, scenario="a"), fail(3, scenario="b"), fail(4, scenario="a"))
    _, lines, _ = run_cli(capsys, str(path))
    assert [(line["scenario"], line["kind"], line["at"]) for line in lines] == [("a", "alert", 4)]


def test_policies_come_from_the_config_per_component(tmp_path, capsys):
    config = tmp_path / "hub.toml"
    config.write_text("[hub]\nname = 'test'\n\n[policy]\nfailures_before_alert = 2\n\n"
                      "[policy.weather]\nfailures_before_alert = 1\n", encoding="utf-8")
    path = history(tmp_path, fail(0, "bus"), fail(1, "weather"), fail(2, "bus"))
    _, lines, _ = run_cli(capsys, str(path), "--config", str(config))
    assert [(line["component"], line["at"]) for line in lines] == [("weather", 1), ("bus", 2)]


def test_embeds_prints_discord_payloads(tmp_path, capsys):
    path = history(tmp_path, fail(0), fail(1), fail(2), ok(3))
    _, lines, _ = run_cli(capsys, str(path), "--embeds")
    assert [line["embeds"][0]["color"] for line in lines] == [0xFF0000, 0x00FF00]
    assert all(line["allowed_mentions"]["parse"] == [] for line in lines)
    assert lines[1]["embeds"][0]["title"] == "🟢 bus recovered"


@pytest.mark.parametrize(("line", "message"), [
    ("not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"at": 5, "component": "bus"}', "'ok' must be true or false"),
    ('{"at": -1, "component": "bus", "ok": true}', "'at' must be a number"),
    ('{"at": "5", "component": "bus", "ok": true}', "'at' must be a number"),
    ('{"at": 5, "component": "", "ok": true}', "'component' must be a non-empty"),
    ('{"at": 5, "component": "bus", "ok": true, "eror": "x"}', 'unknown key "eror"'),
    ('{"at": 0.5, "component": "bus", "ok": true}', "events must be in time order"),
])
def test_bad_lines_are_reported_with_their_line_number(tmp_path, capsys, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(ok(1)) + "\n" + line + "\n", encoding="utf-8")
    code, lines, err = run_cli(capsys, str(path))
    assert code == 2 and lines == []
    assert f"{path}:2:" in err and message in err


def test_missing_history_file_is_a_clear_error(tmp_path, capsys):
    code, _, err = run_cli(capsys, str(tmp_path / "nope.jsonl"))
    assert code == 2 and "cannot read" in err


def test_python_dash_m_hub_reads_standard_input(tmp_path):
    lines = "".join(json.dumps(e) + "\n" for e in (fail(0), fail(1), fail(2)))
    done = subprocess.run([sys.executable, "-m", "hub", "replay", "-"], input=lines,
                          capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout)["kind"] == "alert"


# -- replay equals a plain loop over the pure machines ----------------------------------

def reference_run(events: list[ReplayEvent], policy: Policy, until: float) -> list[dict]:
    """Drive `HealthMachines` directly: fire each timer at its due time, then the event;
    with no silence, the notification policy only numbers the incidents."""
    machines: dict[str, HealthMachines] = {}
    policies: dict[str, NotificationPolicy] = {}
    out: list[tuple[str, Notice]] = []

    def advance(to: float) -> None:
        """Fire every timer due at or before `to`: timers come first at an instant."""
        while True:
            dues = [(m.next_due(c), s, c) for s, m in machines.items() for c in m]
            dues = [d for d in dues if d[0] is not None and d[0] <= to]
            if not dues:
                return
            due, scenario, component = min(dues, key=lambda d: d[0])
            for notice in machines[scenario].tick(component, due):
                out.extend((scenario, n) for n in policies[scenario].observe(notice, due))

    for event in events:
        if event.at > until:
            break
        advance(event.at)
        group = machines.setdefault(event.scenario, HealthMachines())
        decide = policies.setdefault(event.scenario,
                                     NotificationPolicy(policy_for=lambda _: policy))
        if event.component not in group:
            group.add(event.component, policy, event.at)
        for notice in group.observe(event.outcome(), event.at):
            out.extend((event.scenario, n) for n in decide.observe(notice, event.at))
    advance(until)
    return by_instant_and_component(notice_record(s, n) for s, n in out)


def by_instant_and_component(records) -> list[dict]:
    """Records in time order; at one instant grouped by machine, each in emission order."""
    return sorted(records, key=lambda r: (r["at"], r["scenario"], r["component"]))


events_strategy = st.lists(
    st.tuples(st.integers(0, 400), st.sampled_from(["bus", "weather"]), st.booleans(),
              st.sampled_from(["a", "b"])),
    max_size=40,
).map(lambda raw: [
    ReplayEvent(at=float(at), component=c, ok=okay, error="" if okay else "timeout",
                scenario=s, line=i + 1)
    for i, (at, c, okay, s) in enumerate(sorted(raw, key=lambda r: r[0]))
])


@settings(max_examples=200, deadline=None)
@given(events=events_strategy, until_extra=st.integers(0, 3000),
       policy=st.builds(Policy, failures_before_alert=st.integers(1, 3),
                        failing_for_seconds=st.integers(0, 60),
                        successes_before_recovery=st.integers(1, 2),
                        remind_after_seconds=st.integers(0, 300),
                        remind_backoff=st.sampled_from([1, 1.5, 2]),
                        remind_max_seconds=st.just(1000),
                        settle_seconds=st.integers(0, 120),
                        stale_after_seconds=st.sampled_from([0, 0, 90]),
                        # off: the reference only numbers incidents (flapping is pinned
                        # in tests/machines/test_policy_rules_properties.py)
                        flap_alerts=st.just(0)))
def test_replay_is_deterministic_and_equals_the_pure_machines(events, until_extra, policy):
    config = Config(policy=policy, default_keys=frozenset(Policy.keys()))
    until = (events[-1].at if events else 0.0) + until_extra
    first = [notice_record(s, n) for s, n in replay(events, config, until=until)]
    second = [notice_record(s, n) for s, n in replay(events, config, until=until)]
    assert first == second
    assert by_instant_and_component(first) == reference_run(events, policy, until)
    assert [r["at"] for r in first] == sorted(r["at"] for r in first)  # printed in time order


def test_parse_history_skips_blank_lines():
    events = parse_history(["", json.dumps(ok(1)), "  ", json.dumps(fail(2))])
    assert [(e.line, e.ok) for e in events] == [(2, True), (4, False)]


# -- what JSON writers and hand edits produce --------------------------------------------

def test_a_null_optional_field_counts_as_absent(tmp_path, capsys):
    path = history(tmp_path, fail(0, error=None, scenario=None), fail(1, error=None),
                   fail(2, scenario=None))
    code, lines, err = run_cli(capsys, str(path))
    assert (code, err) == (0, "")
    assert [(line["scenario"], line["kind"], line["at"]) for line in lines] == [
        ("default", "alert", 2)]


def test_scenarios_each_starting_at_zero_are_in_order(tmp_path, capsys):
    # Two drills written one after the other, each from 0: order holds within each.
    path = history(tmp_path, *(fail(t, scenario="drill 1") for t in (0, 60, 120)),
                   *(fail(t, scenario="drill 2") for t in (0, 30, 60)))
    code, lines, err = run_cli(capsys, str(path))
    assert (code, err) == (0, "")
    assert [(line["scenario"], line["at"]) for line in lines] == [("drill 2", 60),
                                                                  ("drill 1", 120)]


def test_until_cuts_each_scenario_even_when_a_later_one_starts_earlier(tmp_path, capsys):
    path = history(tmp_path, *(fail(t, scenario="a") for t in (0, 1, 2)),
                   *(fail(t, scenario="b") for t in (0, 1, 2)), fail(100, scenario="a"))
    _, lines, _ = run_cli(capsys, str(path), "--until", "50")
    assert [(line["scenario"], line["at"]) for line in lines] == [("a", 2), ("b", 2)]


def test_time_order_is_still_required_within_a_scenario(tmp_path, capsys):
    path = history(tmp_path, fail(5, scenario="a"), fail(0, scenario="b"),
                   fail(4, scenario="a"))
    code, _, err = run_cli(capsys, str(path))
    assert code == 2
    assert err == (f"divoom-hub replay: {path}:3: events must be in time order within a "
                   'scenario: at 4 comes after at 5 (line 1, scenario "a")\n')


@pytest.mark.parametrize(("line", "message"), [
    ('{"at": 5, "component": "bus", "ok": null}', "'ok' must be true or false, got null"),
    ('{"at": 5, "component": "bus"}',
     "'ok' must be true or false, got nothing (the key is missing)"),
    ('{"at": 5, "component": true, "ok": true}',
     "'component' must be a non-empty string, got true"),
    ('{"at": 5, "component": "bus", "ok": false, "error": false}',
     "'error' must be a string, got false"),
    ('{"at": 5, "component": "bus", "ok": true, "scenario": ["a"]}',
     "'scenario' must be a non-empty string, got [\"a\"]"),
    ('{"at": "5", "component": "bus", "ok": true}', 'got "5"'),
    ("null", "expected a JSON object, got null"),
    ("[1, 2]", "expected a JSON object, got an array"),
])
def test_errors_speak_json(tmp_path, capsys, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    code, _, err = run_cli(capsys, str(path))
    assert code == 2
    assert err.startswith(f"divoom-hub replay: {path}:1: ") and message in err
    assert "None" not in err and "True" not in err and "False" not in err


BIG = "1" + "0" * 400
YEAR_9999 = "from 0 to 253370764800 (the year 9999)"


@pytest.mark.parametrize(("text", "message"), [
    (b'{"at": 5, "component": "k\xf8kken", "ok": true}',
     "not UTF-8 text (byte 0xf8 at column 26): save the history as UTF-8"),
    (b'{"at": 253370764801, "component": "bus", "ok": true}',
     f"'at' must be a number of seconds {YEAR_9999}, got 253370764801"),
    (b'{"at": 1e300, "component": "bus", "ok": true}', "got 1e+300"),
    (b'{"at": Infinity, "component": "bus", "ok": true}', "got Infinity"),
    (b'{"at": NaN, "component": "bus", "ok": true}', "got NaN"),
    (b'{"at": 1e400, "component": "bus", "ok": true}', "got Infinity"),
    (f'{{"at": {BIG}, "component": "bus", "ok": true}}'.encode(),
     "got a number of 401 digits"),
    (b'{"at": 1' + b"0" * 5000 + b', "component": "bus", "ok": true}',
     "not valid JSON: a number with too many digits"),
    (b"[" * 100_000 + b"]" * 100_000, "not valid JSON: nested too deeply"),
    (b'{"at": 5, "component": "\\ud800", "ok": true}',
     "'component' must be a non-empty string, got \"\\ud800\" (a lone surrogate is not a "
     "character)"),
    (b'{"at": 5, "component": "bus", "ok": false, "error": "x\\udc80"}',
     "'error' must be a string, got \"x\\udc80\" (a lone surrogate"),
    (b'{"at": 5, "component": "bus", "ok": true, "\\ud800": 1}', 'unknown key "\\ud800"'),
])
def test_odd_input_is_one_line_naming_the_file_and_line(tmp_path, capsys, text, message):
    path = tmp_path / "odd.jsonl"
    path.write_bytes(json.dumps(ok(1)).encode() + b"\n" + text + b"\n")
    code, lines, err = run_cli(capsys, str(path))
    assert (code, lines) == (2, [])
    assert err.startswith(f"divoom-hub replay: {path}:2: ") and message in err, err
    assert err.count("\n") == 1


def test_standard_input_that_is_not_utf8_names_the_line():
    done = subprocess.run([sys.executable, "-m", "hub", "replay", "-"],
                          input=json.dumps(ok(0)).encode() + b"\n\xff\n", capture_output=True,
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr == (b"divoom-hub replay: <stdin>:2: not UTF-8 text (byte 0xff at "
                           b"column 1): save the history as UTF-8\n")


@pytest.mark.parametrize("until", ["inf", "-inf", "nan", "1e20", "253370764801", "-1", "soon"])
def test_until_beyond_the_year_9999_or_not_a_number_is_one_line(tmp_path, capsys, until):
    path = history(tmp_path, fail(0), fail(1), fail(2))
    code, lines, err = run_cli(capsys, str(path), f"--until={until}")
    assert (code, lines) == (2, [])
    assert err.startswith(f"divoom-hub replay: --until: expected a number of seconds "
                          f"{YEAR_9999}, got ")
    assert err.count("\n") == 1


def test_a_history_at_the_last_instant_still_runs_its_timers(tmp_path, capsys):
    last = 253_370_764_800
    path = history(tmp_path, fail(last - 2), fail(last - 1), fail(last))
    config = tmp_path / "hub.toml"
    config.write_text("[policy]\nremind_after_seconds = 2592000\nremind_max_seconds = 2592000\n"
                      "stale_after_seconds = 2592000\nfailing_for_seconds = 2592000\n",
                      encoding="utf-8")
    code, lines, err = run_cli(capsys, str(path), "--config", str(config))
    assert (code, lines, err) == (0, [], "")


# -- [policy.<name>] in replay: a configured component or one of the history -------------

def test_a_policy_for_a_component_of_the_history_is_used(tmp_path, capsys):
    config = tmp_path / "hub.toml"
    config.write_text("[policy.\"my api\"]\nfailures_before_alert = 1\n", encoding="utf-8")
    path = history(tmp_path, fail(0, "my api"))
    code, lines, _ = run_cli(capsys, str(path), "--config", str(config))
    assert code == 0 and [line["kind"] for line in lines] == ["alert"]


def test_a_policy_for_a_component_neither_configured_nor_in_the_history_is_refused(
        tmp_path, capsys):
    config = tmp_path / "hub.toml"
    config.write_text("[policy.buss]\nfailures_before_alert = 1\n", encoding="utf-8")
    path = history(tmp_path, fail(0, "bus"))
    code, lines, err = run_cli(capsys, str(path), "--config", str(config))
    assert (code, lines) == (2, [])
    assert err == (f"divoom-hub replay: {config}: [policy.buss]: no component is named "
                   "'buss' (known: bus, weather, pixoo, discord, hub, or a component of the "
                   "history)\n")
