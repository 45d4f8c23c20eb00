"""`divoom-hub replay` as a function of its inputs: deterministic, causal, per scenario.

tests/hub/test_replay.py pins the output format and compares `replay` with the pure
machines under one policy; here the policies differ per component and travel through a
written hub.toml, the history through a written JSON-lines file and the command line.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Iterable
from contextlib import redirect_stdout
from dataclasses import fields, replace
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from hub.cli import main
from hub.config import Config, load_config
from hub.replay import ReplayEvent, notice_record, parse_history, replay
from machines import NotificationPolicy, Policy
from tests.machines.drive import HALF, Scenario, drive, policies

#: Any component name may appear in a history; these need quoting in TOML.
NAMES = ("bus", "my api", "æøå", "api.example.org")
SCENARIOS = ("default", "outage drill")


@st.composite
def histories(draw: st.DrawFn) -> list[ReplayEvent]:
    # a few machines per history, so each sees enough outcomes for whole incidents
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
    scenarios = draw(st.lists(st.sampled_from(SCENARIOS), min_size=1, unique=True))
    raw = draw(st.lists(
        st.tuples(st.one_of(st.integers(0, 240), st.integers(0, 4800)),
                  st.sampled_from(names), st.booleans(), st.sampled_from(["", "timeout"]),
                  st.sampled_from(scenarios)),
        min_size=8, max_size=40))
    events, quarters = [], 0
    for line, (gap, component, ok, error, scenario) in enumerate(raw, start=1):
        quarters += gap
        events.append(ReplayEvent(at=quarters / 4, component=component, ok=ok,
                                  error="" if ok else error, scenario=scenario, line=line))
    return events


@st.composite
def configs(draw: st.DrawFn) -> Config:
    """A default policy and a `[policy.<name>]` for some of the components; `write_config`
    writes every key of `[policy]`, so none of the defaults that fit a component holds."""
    own = draw(st.lists(st.sampled_from(NAMES), unique=True))
    return Config(policy=draw(policies()), policies={name: draw(policies()) for name in own},
                  default_keys=frozenset(Policy.keys()))


def toml_table(name: str, policy: Policy) -> str:
    lines = [f"[{name}]"]
    lines += [f"{f.name} = {getattr(policy, f.name)!r}" for f in fields(Policy)
              if f.name != "depends_on"]
    if policy.depends_on:  # [policy.<component>] only; a list in TOML
        lines.append(f"depends_on = {json.dumps(list(policy.depends_on))}")
    return "\n".join(lines) + "\n"


def write_config(config: Config, directory: Path) -> Path:
    """The config as a user would write it; names quoted as TOML (a JSON string is one)."""
    text = '[hub]\nname = "replay-test"\n\n' + toml_table("policy", config.policy)
    for name, policy in config.policies.items():
        text += "\n" + toml_table(f"policy.{json.dumps(name)}", policy)
    path = directory / "hub.toml"
    path.write_text(text, encoding="utf-8")
    return path


def write_history(events: Iterable[ReplayEvent], directory: Path) -> Path:
    path = directory / "history.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for e in events:
            line = {"at": e.at, "component": e.component, "ok": e.ok, "scenario": e.scenario}
            if e.error:
                line["error"] = e.error
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    return path


def records(events: list[ReplayEvent], config: Config, until: float | None = None) -> list[dict]:
    return [notice_record(s, n) for s, n in replay(events, config, until=until)]


def per_machine(lines: Iterable[dict]) -> dict[tuple[str, str], list[dict]]:
    """Lines grouped by (scenario, component), each group in its printed order."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for line in lines:
        groups.setdefault((line["scenario"], line["component"]), []).append(line)
    return groups


@HALF
@given(events=histories(), config=configs(), extra=st.sampled_from([0, 30, 5000]))
def test_replay_is_deterministic_through_written_config_history_and_command_line(
        events, config, extra):
    # A `[policy.<name>]` names a component of the history (or the config refuses it).
    history = {e.component for e in events}
    config = replace(config, policies={n: p for n, p in config.policies.items() if n in history})
    until = events[-1].at + extra
    expected = records(events, config, until)
    assert records(events, config, until) == expected  # the same run twice
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        config_path = write_config(config, directory)
        loaded = load_config(config_path, history=history)
        assert loaded.policy == config.policy
        assert all(loaded.policy_for(n) == config.policy_for(n) for n in NAMES)
        history_path = write_history(events, directory)
        with history_path.open(encoding="utf-8") as handle:
            assert parse_history(handle, str(history_path)) == events
        out = io.StringIO()
        with redirect_stdout(out):
            # --all: `replay()` returns what flapping holds too
            code = main(["replay", str(history_path), "--config", str(config_path),
                         "--until", repr(until), "--all"])
    assert code == 0
    assert [json.loads(line) for line in out.getvalue().splitlines()] == expected


@given(events=histories(), config=configs(), extra=st.sampled_from([0, 30, 5000]))
def test_replay_agrees_with_the_machines_driven_directly_under_each_components_policy(
        events, config, extra):
    # Flapping off: the reference below numbers incidents and holds nothing (the
    # flapping rule is pinned in tests/machines/test_policy_rules_properties.py).
    config = replace(config, policy=replace(config.policy, flap_alerts=0),
                     policies={n: replace(p, flap_alerts=0) for n, p in config.policies.items()})
    until = events[-1].at + extra
    printed = per_machine(records(events, config, until))
    for scenario in SCENARIOS:
        mine = [e for e in events if e.scenario == scenario]
        direct = drive(Scenario({name: config.policy_for(name) for name in NAMES},
                                [e.outcome() for e in mine], until))
        # with no silence, the notification policy after the machines numbers incidents
        numbered = NotificationPolicy(policy_for=config.policy_for)
        expected = per_machine(notice_record(scenario, decided) for e in direct
                               for decided in numbered.observe(e.notice, e.notice.at))
        assert {k: v for k, v in printed.items() if k[0] == scenario} == expected


@given(events=histories(), config=configs(), data=st.data())
def test_until_cuts_the_run_without_changing_what_came_before(events, config, data):
    # Notices never depend on later events, so replaying up to T prints exactly the
    # notices at or before T of a longer run.
    last = events[-1].at
    until = data.draw(st.sampled_from(sorted({0.0, last / 3, last / 2, last})), label="until")
    longer = per_machine(records(events, config, last + 5000))
    shorter = per_machine(records(events, config, until))
    assert all(line["at"] <= until for lines in shorter.values() for line in lines)
    assert shorter == {k: cut for k, v in longer.items()
                       if (cut := [line for line in v if line["at"] <= until])}


@given(events=histories(), config=configs())
def test_each_scenario_replays_as_if_it_were_alone(events, config):
    together = per_machine(records(events, config, events[-1].at))
    alone: dict[tuple[str, str], list[dict]] = {}
    for scenario in SCENARIOS:
        mine = [e for e in events if e.scenario == scenario]
        if mine:
            alone.update(per_machine(records(mine, config, events[-1].at)))
    assert together == alone

