"""`divoom-hub replay` with the notification policy: operators' actions in the history,
maintenance windows and the kill switch from the config, held notices with `--all`
(DESIGN.md, "`replay` for all of this")."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.cli import main
from hub.config import Config, load_config
from hub.replay import ReplayAction, ReplayEvent, notice_record, parse_history, replay
from machines import Policy
from tests.machines.drive import HALF
from tests.machines.drive_policy import Action, drive_policy

#: Alert on the first failure, remind every 100 s: each history reads like its timeline.
FAST = "[policy]\nfailures_before_alert = 1\nremind_after_seconds = 100\nremind_backoff = 1\n" \
       "remind_max_seconds = 100\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def history(tmp_path: Path, *lines: dict) -> Path:
    return write(tmp_path, "history.jsonl", "".join(json.dumps(line) + "\n" for line in lines))


def fail(at: float, component: str = "bus", **extra) -> dict:
    return {"at": at, "component": component, "ok": False, "error": "timeout", **extra}


def ok(at: float, component: str = "bus", **extra) -> dict:
    return {"at": at, "component": component, "ok": True, **extra}


def action(at: float, what: str, component: str = "bus", **extra) -> dict:
    return {"at": at, "action": what, "component": component, **extra}


def run_cli(capsys, tmp_path: Path, *lines: dict, config: str = FAST,
            options: tuple[str, ...] = ()) -> tuple[int, list[dict], str]:
    path = history(tmp_path, *lines)
    config_path = write(tmp_path, "hub.toml", config)
    code = main(["replay", str(path), "--config", str(config_path), *options])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def timeline(lines: list[dict]) -> list[tuple]:
    return [(line["kind"], line["at"], line["incident"], line.get("held")) for line in lines]


def test_a_mute_holds_the_alert_and_sends_it_when_it_ends(tmp_path, capsys):
    lines = (action(0, "mute", for_seconds=250, by="alice"), fail(10), ok(300))
    code, sent, err = run_cli(capsys, tmp_path, *lines)
    assert (code, err) == (0, "")
    assert timeline(sent) == [("alert", 250, "bus#1", None), ("recovery", 300, "bus#1", None)]
    _, everything, _ = run_cli(capsys, tmp_path, *lines, options=("--all",))
    assert timeline(everything) == [
        ("alert", 10, "bus#1", "mute"), ("reminder", 110, "bus#1", "mute"),
        ("reminder", 210, "bus#1", "mute"), ("alert", 250, "bus#1", None),
        ("recovery", 300, "bus#1", None)]
    assert everything[0] == {"scenario": "default", "at": 10, "component": "bus",
                             "kind": "alert", "state": "alerting", "failures": 1,
                             "failing_for": 0, "incident": "bus#1", "held": "mute"}


def test_unmute_and_ack_in_the_history(tmp_path, capsys):
    code, lines, err = run_cli(
        capsys, tmp_path, action(0, "mute", "*", for_seconds=3600), fail(10),
        fail(10, "weather"), action(20, "unmute", "weather"), action(30, "ack", "weather#1",
                                                                      by="bob"),
        ok(400, "weather"), options=("--all",))
    assert (code, err) == (0, "")
    weather = [line for line in lines if line["component"] == "weather"]
    assert timeline(weather) == [
        ("alert", 10, "weather#1", "mute"), ("alert", 20, "weather#1", None),
        ("reminder", 110, "weather#1", "ack"), ("reminder", 210, "weather#1", "ack"),
        ("reminder", 310, "weather#1", "ack"), ("recovery", 400, "weather#1", None)]


def test_lines_at_one_instant_go_after_the_timers_in_file_order(tmp_path, capsys):
    # at 100: the reminder (a timer) first, then the ack, then the failure of weather
    _, lines, _ = run_cli(capsys, tmp_path, fail(0), action(100, "ack"),
                          fail(100, "weather"), action(100, "mute", "weather", for_seconds=5),
                          fail(150, "weather"), options=("--all",))
    assert timeline(lines) == [("alert", 0, "bus#1", None), ("reminder", 100, "bus#1", None),
                               ("alert", 100, "weather#1", None)]
    _, muted_first, _ = run_cli(capsys, tmp_path, action(0, "mute", for_seconds=5), fail(0),
                                options=("--all", "--until", "5"))
    assert timeline(muted_first) == [("alert", 0, "bus#1", "mute"),
                                     ("alert", 5, "bus#1", None)]


def test_a_refused_action_is_said_on_stderr_and_the_replay_goes_on(tmp_path, capsys):
    code, lines, err = run_cli(capsys, tmp_path, action(0, "ack"), fail(10),
                               action(20, "unmute"))
    assert code == 0 and timeline(lines) == [("alert", 10, "bus#1", None)]
    path = tmp_path / "history.jsonl"
    assert err == (f"divoom-hub replay: {path}:1: ack refused: bus has no open incident to "
                   "acknowledge\n"
                   f"divoom-hub replay: {path}:3: unmute refused: bus is not muted\n")


def test_maintenance_windows_come_from_the_config_in_its_timezone(tmp_path, capsys):
    config = FAST + ('[hub]\ntimezone = "Europe/Oslo"\n\n[[maintenance]]\n'
                     'components = ["bus"]\nstart = "01:05"\nduration = "10m"\n'
                     'reason = "router reboot"\n')
    # 1970-01-01 01:05 in Oslo (UTC+1) is 300 s after the epoch
    code, lines, err = run_cli(capsys, tmp_path, ok(0), fail(400), ok(950), config=config,
                               options=("--all",))
    assert (code, err) == (0, "")
    assert timeline(lines) == [
        ("alert", 400, "bus#1", "maintenance"),
        *(("reminder", at, "bus#1", "maintenance") for at in (500, 600, 700, 800)),
        ("alert", 900, "bus#1", None), ("reminder", 900, "bus#1", None),
        ("recovery", 950, "bus#1", None)]


def test_windows_across_a_history_of_any_span_cost_only_the_days_it_touches(tmp_path, capsys):
    config = FAST + '[[maintenance]]\ncomponents = "*"\nstart = "00:00"\nduration = "1h"\n'
    last = 253_370_764_800  # 9999-01-01T00:00:00Z, midnight in UTC
    code, lines, err = run_cli(capsys, tmp_path, ok(0), fail(1800), ok(3000), ok(last - 3600),
                               fail(last),
                               config="[hub]\ntimezone = 'UTC'\n" + config,
                               options=("--all", "--until", str(last)))
    assert (code, err) == (0, "")
    assert [line for line in timeline(lines) if line[0] != "reminder"] == [
        ("alert", 1800, "bus#1", "maintenance"), ("recovery", 3000, "bus#1", "maintenance"),
        ("alert", last, "bus#2", "maintenance")]
    assert {line["held"] for line in lines} == {"maintenance"}


def test_the_kill_switch_prints_nothing_and_all_of_it_with_all(tmp_path, capsys):
    config = "[hub]\nnotifications = false\n" + FAST
    _, sent, _ = run_cli(capsys, tmp_path, fail(0), ok(10), config=config)
    assert sent == []
    _, everything, _ = run_cli(capsys, tmp_path, fail(0), ok(10), config=config,
                               options=("--all",))
    assert timeline(everything) == [("alert", 0, "bus#1", "notifications_off"),
                                    ("recovery", 10, "bus#1", "notifications_off")]


def test_embeds_print_what_would_be_sent_and_refuse_all(tmp_path, capsys):
    _, payloads, _ = run_cli(capsys, tmp_path, action(0, "mute", for_seconds=50), fail(10),
                             options=("--embeds", "--until", "50"))
    [late] = payloads
    assert "Held by a mute since <t:10:f>." in late["embeds"][0]["description"]
    code, lines, err = run_cli(capsys, tmp_path, fail(0), options=("--embeds", "--all"))
    assert (code, lines) == (2, [])
    assert err == ("divoom-hub replay: --all and --embeds: held notices have no Discord "
                   "payload; use one or the other\n")


@pytest.mark.parametrize(("line", "message"), [
    ('{"at": 1, "action": "snooze", "component": "bus"}',
     "'action' must be \"ack\", \"mute\" or \"unmute\", got \"snooze\""),
    ('{"at": 1, "action": "mute", "component": "bus"}',
     "'for_seconds' must be a number of seconds above 0 and at most 604800 (7 days), got "
     "nothing (the key is missing)"),
    ('{"at": 1, "action": "mute", "component": "bus", "for_seconds": 604801}',
     "at most 604800 (7 days), got 604801"),
    ('{"at": 1, "action": "mute", "component": "bus", "for_seconds": "1h"}', 'got "1h"'),
    ('{"at": 1, "action": "mute", "component": "bus", "for_seconds": 0}', "got 0"),
    ('{"at": 1, "action": "ack", "component": "bus", "for_seconds": 60}',
     "'for_seconds' is for \"mute\" only, not 'ack'"),
    ('{"at": 1, "action": "ack", "component": "bus", "ok": true}',
     "'ok' belongs to an outcome, not to an operator's action"),
    ('{"at": 1, "component": "bus", "ok": true, "by": "alice"}',
     "'by' belongs to an operator's action, and this line has no 'action'"),
    ('{"at": 1, "action": "ack", "component": "bus", "by": 7}',
     "'by' must be a string, got 7"),
    ('{"at": 1, "action": "ack", "component": ""}', "'component' must be a non-empty string"),
    ('{"at": 0.5, "action": "ack", "component": "bus"}', "must be in time order"),
])
def test_a_bad_action_line_is_one_line_naming_file_and_line(tmp_path, capsys, line, message):
    path = write(tmp_path, "bad.jsonl", json.dumps(ok(1)) + "\n" + line + "\n")
    code = main(["replay", str(path)])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.startswith(f"divoom-hub replay: {path}:2: ") and message in err, err
    assert err.count("\n") == 1


def test_nulls_count_as_absent_in_action_lines_too():
    [mute, ack] = parse_history([
        '{"at": 1, "action": "mute", "component": "*", "for_seconds": 60, "by": null, '
        '"scenario": null}',
        '{"at": 2, "action": "ack", "component": "bus", "for_seconds": null}'])
    assert mute == ReplayAction(at=1, action="mute", component="*", scenario="default",
                                line=1, for_seconds=60.0)
    assert ack == ReplayAction(at=2, action="ack", component="bus", scenario="default", line=2)


# -- replay is a function of its inputs -----------------------------------------------

COMPONENTS = ("bus", "weather")


@st.composite
def histories(draw: st.DrawFn) -> list[ReplayEvent | ReplayAction]:
    """Outcomes and actions of two scenarios, in time order, several at one instant."""
    lines: list[ReplayEvent | ReplayAction] = []
    at = 0.0
    for number in range(1, draw(st.integers(5, 40)) + 1):
        at += draw(st.sampled_from([0, 0, 30, 100, 250, 1000]))
        scenario = draw(st.sampled_from(["a", "b"]))
        component = draw(st.sampled_from(COMPONENTS))
        kind = draw(st.sampled_from(["ok", "fail", "fail", "ack", "mute", "unmute"]))
        if kind in ("ok", "fail"):
            lines.append(ReplayEvent(at, component, kind == "ok", "" if kind == "ok"
                                     else "timeout", scenario, number))
        else:
            target = draw(st.sampled_from([*COMPONENTS, "*"]))
            lines.append(ReplayAction(at, kind, target, scenario, number,
                                      for_seconds=draw(st.sampled_from([30.0, 500.0, 5000.0]))
                                      if kind == "mute" else None, by="alice"))
    return lines


def records(lines, config: Config, until: float) -> list[dict]:
    return [notice_record(s, n) for s, n in replay(lines, config, until=until)]


@HALF
@given(lines=histories(), extra=st.sampled_from([0, 100, 5000]),
       notifications=st.booleans())
def test_replay_with_actions_is_deterministic_and_the_cli_prints_what_was_sent(
        lines, extra, notifications):
    config = Config(policy=Policy(failures_before_alert=2, remind_after_seconds=100),
                    default_keys=frozenset({"failures_before_alert", "remind_after_seconds"}))
    until = lines[-1].at + extra
    first = records(lines, config, until)
    assert records(lines, config, until) == first
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        path = directory / "history.jsonl"
        path.write_text("".join(json.dumps(as_json(line)) + "\n" for line in lines),
                        encoding="utf-8")
        config_path = write(directory, "hub.toml",
                            f"[hub]\nnotifications = {str(notifications).lower()}\n"
                            "[policy]\nfailures_before_alert = 2\nremind_after_seconds = 100\n")
        loaded = load_config(config_path)
        assert parse_history(path.read_text(encoding="utf-8").splitlines()) == lines
        assert records(lines, loaded, until) == [
            r if notifications or "held" in r else {**r, "held": "notifications_off"}
            for r in first]


def as_json(line: ReplayEvent | ReplayAction) -> dict:
    if isinstance(line, ReplayEvent):
        return {"at": line.at, "component": line.component, "ok": line.ok,
                "error": line.error or None, "scenario": line.scenario}
    return {"at": line.at, "action": line.action, "component": line.component,
            "for_seconds": line.for_seconds, "by": line.by, "scenario": line.scenario}


@HALF
@given(lines=histories(), extra=st.sampled_from([0, 100, 5000]))
def test_replay_decides_what_the_pure_machines_and_policy_decide_driven_directly(lines, extra):
    policy = Policy(failures_before_alert=2, remind_after_seconds=100)
    until = lines[-1].at + extra
    printed = records(lines, Config(policy=policy, default_keys=frozenset(Policy.keys())),
                      until)
    for scenario in ("a", "b"):
        mine = [line for line in lines if line.scenario == scenario]
        components = dict.fromkeys(e.component for e in mine if isinstance(e, ReplayEvent))
        inputs = [e.outcome() if isinstance(e, ReplayEvent)
                  else Action(e.at, e.action, e.component, e.for_seconds or 0.0, e.by)
                  for e in mine]
        direct = drive_policy(lambda _: policy, inputs, until, components)
        for component in COMPONENTS:  # the order between machines at one instant is open
            assert [r for r in printed
                    if r["scenario"] == scenario and r["component"] == component] == [
                notice_record(scenario, n) for n in direct.decided
                if n.component == component]


def test_the_incidents_guide_quotes_what_replay_prints_for_its_example(capsys):
    repo = Path(__file__).resolve().parents[2]
    guide = (repo / "docs" / "incidents.md").read_text(encoding="utf-8")
    (command,) = re.findall(r"```sh\n\.venv/bin/divoom-hub (replay [^\n]+)\n```", guide)
    (quoted,) = re.findall(r"```json\n(.+?)\n```", guide, flags=re.DOTALL)
    args = command.split()
    args[1] = str(repo / args[1])
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert (out.splitlines(), err) == (quoted.splitlines(), "")


# -- flapping and dependencies ------------------------------------------------------------

FLAPS = FAST + "flap_alerts = 3\nflap_window_seconds = 1000\n"
DEPENDS = FLAPS + "[policy.bus]\ndepends_on = [\"router\"]\n"


def test_replay_prints_flapping_and_settled_and_with_all_what_flapping_held(capsys, tmp_path):
    flaps = [fail(0), ok(10), fail(20), ok(30), fail(40), ok(50)]
    code, sent, _ = run_cli(capsys, tmp_path, *flaps, config=FLAPS,
                            options=("--until", "1050"))
    assert code == 0
    assert timeline(sent) == [
        ("alert", 0, "bus#1", None), ("recovery", 10, "bus#1", None),
        ("alert", 20, "bus#2", None), ("recovery", 30, "bus#2", None),
        ("flapping", 40, "bus#3", None), ("settled", 1050, None, None)]
    assert sent[-1]["state"] == "recovered"
    _, everything, _ = run_cli(capsys, tmp_path, *flaps, config=FLAPS,
                               options=("--until", "1050", "--all"))
    assert timeline(everything)[4:] == [
        ("flapping", 40, "bus#3", None), ("alert", 40, "bus#3", "flapping"),
        ("recovery", 50, "bus#3", "flapping"), ("settled", 1050, None, None)]


def test_replay_folds_a_child_into_its_parents_incident_from_the_config(capsys, tmp_path):
    lines = [fail(0, "router"), fail(10), ok(50), ok(60, "router")]
    _, sent, _ = run_cli(capsys, tmp_path, *lines, config=DEPENDS)
    assert [(r["component"], r["kind"]) for r in sent] == [("router", "alert"),
                                                           ("router", "recovery")]
    _, everything, _ = run_cli(capsys, tmp_path, *lines, config=DEPENDS, options=("--all",))
    assert [r.get("folded_into") for r in everything] == [None, "router#1", "router#1", None]
    assert "held" not in everything[1]


def test_replay_names_a_dependency_cycle_in_the_config(capsys, tmp_path):
    config = FAST + "[policy.bus]\ndepends_on = [\"router\"]\n" \
                    "[policy.router]\ndepends_on = [\"bus\"]\n"
    code, _, err = run_cli(capsys, tmp_path, fail(0, "router"), fail(0), config=config)
    assert code == 2
    assert "depends_on: a cycle: bus -> router -> bus" in err


def test_timers_due_at_one_instant_fire_parents_first(tmp_path, capsys):
    # Both alert by their timer at 60 s (failing_for_seconds); bus's timer was set first,
    # yet router, which bus depends on, is decided first, so bus folds into its incident.
    config = ("[policy]\nfailures_before_alert = 1\nfailing_for_seconds = 60\n"
              "remind_after_seconds = 0\n[policy.bus]\ndepends_on = [\"router\"]\n")
    code, lines, err = run_cli(capsys, tmp_path, fail(0, "bus"), fail(0, "router"),
                               config=config, options=("--all", "--until", "60"))
    assert (code, err) == (0, "")
    assert [(line["component"], line["kind"], line["at"], line["incident"],
             line.get("folded_into")) for line in lines] == [
        ("router", "alert", 60, "router#1", None),
        ("bus", "alert", 60, "bus#1", "router#1")]
