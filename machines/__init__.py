"""Pure health machines and their declared policies: no I/O, no clock, no threads."""

from machines.health import HealthMachines, Snapshot, Transition, UnknownComponentError
from machines.notice import Notice, NoticeKind
from machines.outcome import Outcome
from machines.policy import Policy, PolicyError
from machines.states import HealthState

__all__ = [
    "HealthMachines",
    "HealthState",
    "Notice",
    "NoticeKind",
    "Outcome",
    "Policy",
    "PolicyError",
    "Snapshot",
    "Transition",
    "UnknownComponentError",
]
