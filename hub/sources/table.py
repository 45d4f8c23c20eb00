"""Reading one source's TOML section, with errors that name the file, section and key.

The bus and weather settings validate themselves in `from_table(table, path)`; this is
the small vocabulary they share, so their messages read alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hub.config import ConfigError


@dataclass(frozen=True, slots=True)
class Table:
    """One `[section]` of `path`; every accessor raises `ConfigError` naming the key."""

    path: Path
    section: str
    values: Mapping[str, Any]

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: [{self.section}] {key}: {message}")

    def expected(self, key: str, expected: str, got: Any) -> ConfigError:
        return self.error(key, f"expected {expected}, got {got!r}")

    def only_keys(self, known: set[str]) -> None:
        for key in self.values:
            if key not in known:
                raise self.error(key, f"unknown key (known: {', '.join(sorted(known))})")

    def string(self, key: str, default: str | None = None) -> str:
        """A string; `default=None` makes the key required."""
        if key not in self.values:
            if default is None:
                raise self.error(key, "required, but missing")
            return default
        value = self.values[key]
        if not isinstance(value, str):
            raise self.expected(key, "a string", value)
        return value

    def number(self, key: str, default: float | None = None, *, minimum: float | None = None,
               maximum: float | None = None) -> float:
        """A number (int or float, not bool) within [minimum, maximum] when given."""
        if key not in self.values:
            if default is None:
                raise self.error(key, "required, but missing")
            return default
        value = self.values[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.expected(key, "a number", value)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            low = "" if minimum is None else f"{minimum:g}"
            high = "" if maximum is None else f"{maximum:g}"
            bounds = (f"between {low} and {high}" if low and high
                      else f">= {low}" if low else f"<= {high}")
            raise self.expected(key, f"a number {bounds}", value)
        return float(value)

    def integer(self, key: str, default: int, *, minimum: int, maximum: int) -> int:
        value = self.values.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) \
                or not minimum <= value <= maximum:
            raise self.expected(key, f"a whole number between {minimum} and {maximum}", value)
        return value

    def strings(self, key: str, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """A list of strings; `default=None` makes the key required."""
        if key not in self.values:
            if default is None:
                raise self.error(key, "required, but missing")
            return default
        value = self.values[key]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.expected(key, "a list of strings", value)
        return tuple(value)

    def url(self, key: str, default: str) -> str:
        value = self.string(key, default)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise self.expected(key, "an http:// or https:// URL", value)
        return value
