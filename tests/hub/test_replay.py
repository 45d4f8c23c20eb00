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
from machines import HealthMachines, Notice, Policy


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
         "state": "alerting", "failures": 3, "failing_for": 120},
        {"scenario": "default", "at": 1080, "component": "bus", "kind": "reminder",
         "state": "reminding", "failures": 3, "failing_for": 1020, "reminder": 1},
        {"scenario": "default", "at": 2880, "component": "bus", "kind": "reminder",
         "state": "reminding", "failures": 3, "failing_for": 2820, "reminder": 2},
        {"scenario": "default", "at": 3000, "component": "bus", "kind": "recovery",
         "state": "recovered", "failures": 3, "failing_for": 2940, "downtime": 2940},
    ]


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
    ('{"at": 5, "component": "bus", "ok": true, "eror": "x"}', "unknown key 'eror'"),
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
    """Drive `HealthMachines` directly: fire each timer at its due time, then the event."""
    machines: dict[str, HealthMachines] = {}
    out: list[tuple[str, Notice]] = []

    def advance(to: float) -> None:
        """Fire every timer due at or before `to`: timers come first at an instant."""
        while True:
            dues = [(m.next_due(c), s, c) for s, m in machines.items() for c in m]
            dues = [d for d in dues if d[0] is not None and d[0] <= to]
            if not dues:
                return
            due, scenario, component = min(dues, key=lambda d: d[0])
            out.extend((scenario, n) for n in machines[scenario].tick(component, due))

    for event in events:
        if event.at > until:
            break
        advance(event.at)
        group = machines.setdefault(event.scenario, HealthMachines())
        if event.component not in group:
            group.add(event.component, policy, event.at)
        out.extend((event.scenario, n) for n in group.observe(event.outcome(), event.at))
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
                        stale_after_seconds=st.sampled_from([0, 0, 90])))
def test_replay_is_deterministic_and_equals_the_pure_machines(events, until_extra, policy):
    config = Config(policy=policy)
    until = (events[-1].at if events else 0.0) + until_extra
    first = [notice_record(s, n) for s, n in replay(events, config, until=until)]
    second = [notice_record(s, n) for s, n in replay(events, config, until=until)]
    assert first == second
    assert by_instant_and_component(first) == reference_run(events, policy, until)
    assert [r["at"] for r in first] == sorted(r["at"] for r in first)  # printed in time order


def test_parse_history_skips_blank_lines():
    events = parse_history(["", json.dumps(ok(1)), "  ", json.dumps(fail(2))])
    assert [(e.line, e.ok) for e in events] == [(2, True), (4, False)]
