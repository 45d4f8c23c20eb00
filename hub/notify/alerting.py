"""How loud a component's notices are: its severity, and who a critical alert pings.

`severity` is set per component in `[policy.<component>]` (default `warning`) and looked
up here when a message is built, so the machines never need to know it. A critical
**alert** (never a reminder, a recovery or anything else) pings the one role or user of
`[discord] mention_critical`, and its `allowed_mentions` names exactly that id: text from
the outside world in the same message can still ping nobody else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


#: What an owner writes: `role:<id>` or `user:<id>`, the id as Discord's "Copy ID" gives it.
_MENTION = re.compile(r"^(?P<kind>role|user):(?P<id>[0-9]{15,22})$")
MENTION_EXPECTED = "'role:<id>' or 'user:<id>' (the id from Discord's Copy ID)"


@dataclass(frozen=True, slots=True)
class Mention:
    """One role or user to ping; `content` pings it, `allowed_mentions` allows only it."""

    kind: str  # role | user
    id: str

    @classmethod
    def parse(cls, text: str) -> Mention:
        """`role:<id>` or `user:<id>`; ValueError (saying what is expected) otherwise."""
        match = _MENTION.match(text.strip())
        if match is None:
            raise ValueError(f"expected {MENTION_EXPECTED}")
        return cls(kind=match["kind"], id=match["id"])

    @property
    def content(self) -> str:
        return f"<@&{self.id}>" if self.kind == "role" else f"<@{self.id}>"

    @property
    def allowed_mentions(self) -> dict[str, Any]:
        """Discord's `allowed_mentions` that lets this one mention through, nothing else."""
        return {"parse": [], "roles": [self.id] if self.kind == "role" else [],
                "users": [self.id] if self.kind == "user" else [], "replied_user": False}


@dataclass(frozen=True, slots=True)
class Alerting:
    """Severities by component and the critical mention, as configured."""

    severities: Mapping[str, Severity] = field(default_factory=dict)
    default_severity: Severity = Severity.WARNING
    mention_critical: Mention | None = None

    def severity_for(self, component: str) -> Severity:
        return self.severities.get(component, self.default_severity)
