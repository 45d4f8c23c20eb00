"""Alertmanager's label matchers (`name="value"`, `=~`, `!=`, `!~`), evaluated here.

A silence read back from `/api/v2/silences` is a list of them, and so is a
`[[monitor]] kind = "alertmanager"`'s `matchers` table (equality only there). Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


class MatcherError(ValueError):
    """A matcher as Alertmanager sent it cannot be read; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    def matches(self, labels: Mapping[str, str]) -> bool:
        """As Alertmanager decides: a missing label is the empty string, a regex is
        anchored at both ends."""
        given = labels.get(self.name, "")
        if self.is_regex:
            try:
                found = re.fullmatch(self.value, given) is not None
            except re.error:  # Go's RE2 takes some patterns Python's re refuses
                found = False
        else:
            found = given == self.value
        return found == self.is_equal

    def __str__(self) -> str:
        operator = ("=" if self.is_equal else "!=") if not self.is_regex else (
            "=~" if self.is_equal else "!~")
        return f"{self.name}{operator}{self.value!r}".replace("'", '"')

    @classmethod
    def from_api(cls, data: Any) -> Matcher:
        """One matcher of the v2 API (`{"name", "value", "isRegex", "isEqual"}`)."""
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) \
                or not isinstance(data.get("value"), str) \
                or not isinstance(data.get("isRegex", False), bool) \
                or not isinstance(data.get("isEqual", True), bool):
            raise MatcherError(f"expected a matcher {{name, value, isRegex}}, got {data!r:.80}")
        return cls(data["name"], data["value"], data.get("isRegex", False),
                   data.get("isEqual", True))


def all_match(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
