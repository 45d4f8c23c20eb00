"""The health machines and the notification policy after them, driven in virtual time the
way `divoom-hub replay` drives them (DESIGN.md, "Precise rules"): at one instant, silence
expiries first, then the machines' timers, then the inputs in order.

Shared by the policy's example tests and its properties (tests/machines/).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from machines import HealthMachines, Notice, Outcome, Policy
from machines.dependencies import parents_first
from machines.notification import NotificationPolicy, NotificationSnapshot, Refused
from machines.silences import Window
from tests.machines.drive import restarted


@dataclass(frozen=True)
class Action:
    """An operator's action: `ack`, `mute` (for `for_seconds`) or `unmute` of `target`."""

    at: float
    action: str
    target: str
    for_seconds: float = 0.0
    by: str = "alice"


Input = Outcome | Action


@dataclass
class PolicyRun:
    """What a run decided, in order; the machines' own notices; the refused actions."""

    decided: list[Notice] = field(default_factory=list)
    emitted: list[Notice] = field(default_factory=list)
    refused: list[tuple[Action, str]] = field(default_factory=list)
    steps: int = 0

    @property
    def sent(self) -> list[Notice]:
        return [n for n in self.decided if n.is_sent]


@dataclass(frozen=True)
class Case:
    """A generated history for the policy's properties: each component's policy, the
    inputs, the maintenance windows, and how far to run."""

    policies: dict[str, Policy]
    inputs: list[Input]
    windows: list[Window]
    until: float
    components: tuple[str, ...]

    def policy(self, component: str) -> Policy:
        return self.policies[component]

    def run(self, *, notifications: bool = True, restarts: Iterable[int] = ()) -> PolicyRun:
        return drive_policy(self.policy, self.inputs, self.until, self.components,
                            windows=self.windows, notifications=notifications,
                            restarts=restarts)


def drive_policy(policy_for: Callable[[str], Policy], inputs: Sequence[Input], until: float,
                 components: Iterable[str], windows: Iterable[Window] = (),
                 notifications: bool = True,
                 restarts: Iterable[int] = ()) -> PolicyRun:
    """Run `inputs` (in time order) and every timer up to `until`.

    A step is one call into the machines or the policy; after each step numbered in
    `restarts`, both are snapshotted, sent through JSON and restored (a hub restarting
    with its journal).
    """
    assert [i.at for i in inputs] == sorted(i.at for i in inputs), "inputs in time order"
    components = tuple(components)
    windows = tuple(windows)
    restart_steps = set(restarts)
    machines = HealthMachines()
    policy = NotificationPolicy(notifications=notifications, windows=windows,
                                components=components, policy_for=policy_for)
    run = PolicyRun()

    def step(decided: list[Notice]) -> None:
        nonlocal machines, policy
        run.decided.extend(decided)
        run.steps += 1
        if run.steps in restart_steps:
            machines = restarted(machines, policy_for)
            policy = restarted_policy(policy, windows, notifications, policy_for)

    def decide(notices: list[Notice], now: float) -> list[Notice]:
        run.emitted.extend(notices)
        decided: list[Notice] = []
        for notice in notices:
            decided.extend(policy.observe(notice, now))
        return decided

    # Parents before children at one instant (DESIGN.md, "Precise rules"), then by name.
    rank = {c: i for i, c in enumerate(parents_first(
        sorted(components), lambda c: policy_for(c).depends_on))}

    def fire_timers(upto: float) -> None:
        while True:
            policy_due = policy.next_due()
            health = [(due, rank.get(c, len(rank)), c) for c in machines
                      if (due := machines.next_due(c)) is not None and due <= upto]
            if policy_due is not None and policy_due <= upto and (
                    not health or policy_due <= min(health)[0]):
                step(policy.tick(policy_due))
            elif health:
                due, _, component = min(health)
                step(decide(machines.tick(component, due), due))
            else:
                return

    if 0 in restart_steps:
        step([])
    for item in inputs:
        fire_timers(item.at)
        if isinstance(item, Outcome):
            if item.component not in machines:
                machines.add(item.component, policy_for(item.component), item.at)
            step(decide(machines.observe(item, item.at), item.at))
        else:
            try:
                step(act(policy, item))
            except Refused as refusal:
                run.refused.append((item, str(refusal)))
                step([])
    fire_timers(until)
    return run


def act(policy: NotificationPolicy, action: Action) -> list[Notice]:
    if action.action == "ack":
        return policy.ack(action.target, action.at, action.by)
    if action.action == "mute":
        return policy.mute(action.target, action.at, action.for_seconds, action.by)
    return policy.unmute(action.target, action.at)


def restarted_policy(policy: NotificationPolicy, windows: Sequence[Window],
                     notifications: bool,
                     policy_for: Callable[[str], Policy] | None = None) -> NotificationPolicy:
    stored = json.loads(json.dumps(policy.snapshot().to_dict()))
    return NotificationPolicy.restore(NotificationSnapshot.from_dict(stored),
                                      notifications=notifications, windows=windows,
                                      policy_for=policy_for)
