"""Reading one `[[monitor]]` table: every error names the file, the table and the key.

Shared by the monitor kinds that report in (`heartbeat`, `threshold`), so that each kind's
`from_table` only says which keys it has and what they must hold.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.config import ConfigError

#: Names of the built-in components; a monitor may not take one of them over.
BUILT_IN_COMPONENTS = ("bus", "weather", "pixoo", "discord")
#: Short, lowercase, URL-safe: a monitor's name is also its path (`/ping/<name>`).
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")


@dataclass(frozen=True, slots=True)
class MonitorTable:
    table: Mapping[str, Any]
    path: Path
    index: int
    kind: str

    def error(self, key: str, expected: str, got: Any) -> ConfigError:
        return ConfigError(f"{self.path}: [[monitor]] #{self.index} ({self.kind}): {key}: "
                           f"expected {expected}, got {got!r}")

    def only_keys(self, known: set[str]) -> None:
        for key in self.table:
            if key not in known:
                raise ConfigError(
                    f"{self.path}: [[monitor]] #{self.index} ({self.kind}): {key}: unknown key "
                    f"(known: kind, {', '.join(sorted(known))})")

    def name(self) -> str:
        name = self.table.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise self.error("name", "a short lowercase name (letters, digits, - _ .)", name)
        if name in BUILT_IN_COMPONENTS:
            raise self.error("name", "a name not used by a built-in component", name)
        return name

    def number(self, key: str, meaning: str, default: float | None = None, *,
               minimum: float = -math.inf, above: float = -math.inf) -> float:
        """A finite number, `>= minimum` and `> above`; `meaning` explains it in errors."""
        value = self.table.get(key, default)
        bounds = (f" >= {minimum:g}" if minimum > -math.inf else
                  f" > {above:g}" if above > -math.inf else "")
        expected = f"a number{bounds} ({meaning})"
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value) or value < minimum or value <= above:
            raise self.error(key, expected, value)
        return float(value)

    def optional_number(self, key: str, meaning: str) -> float | None:
        return self.number(key, meaning) if key in self.table else None

    def string(self, key: str, expected: str, default: str | None = None) -> str:
        value = self.table.get(key, default)
        if not isinstance(value, str):
            raise self.error(key, expected, value)
        return value
