"""Pure health machines, the notification policy after them, and their declared rules:
no I/O, no clock, no threads."""

from machines.health import HealthMachines, Snapshot, Transition, UnknownComponentError
from machines.notice import HeldReason, Notice, NoticeKind
from machines.notification import NotificationPolicy, NotificationSnapshot, Refused
from machines.outcome import Outcome
from machines.policy import Policy, PolicyError
from machines.states import HealthState

__all__ = [
    "HealthMachines",
    "HealthState",
    "HeldReason",
    "Notice",
    "NoticeKind",
    "NotificationPolicy",
    "NotificationSnapshot",
    "Outcome",
    "Policy",
    "PolicyError",
    "Refused",
    "Snapshot",
    "Transition",
    "UnknownComponentError",
]
