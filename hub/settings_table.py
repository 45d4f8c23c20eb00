"""Reading one table of `hub.toml`, with errors that name the file, the table and the key.

Each settings class validates itself in `from_table`; this is the vocabulary they share,
so that `[bus]`, `[[monitor]]` and `[[channel]]` errors read alike:

    hub.toml: [bus] quays: expected a list of strings, got 3
    hub.toml: [[monitor]] #2 (heartbeat): period_seconds: expected a number > 0 (…), got None
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from machines.policy import MAX_SECONDS

#: Components the hub always has, whatever the config: its sources, the device, Discord
#: (when it carries the notices), and `hub`, the hub's own health. No monitor takes these
#: names, and `[policy.<name>]` may always name them.
BUILT_IN_COMPONENTS = ("bus", "weather", "pixoo", "discord", "hub")

#: A value shown in an error is cut to this many characters: one line, readable.
SHOWN_MAX_CHARS = 80
#: Short, lowercase, URL-safe: a monitor's name is also its path (`/ping/<name>`).
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")
HTTP_URL = "an http:// or https:// URL"
#: Every duration in hub.toml says its unit in its name; none may be longer than a
#: policy's (30 days): `every_seconds = 1e300` would overflow the clock in the loop.
MAX_DURATIONS = {"_seconds": MAX_SECONDS, "_minutes": MAX_SECONDS // 60}


class ConfigError(ValueError):
    """The configuration is invalid; the message names the file and the key."""


def shown(value: Any) -> str:
    """`value` as an error message shows it: its repr, an integer too long to read by its
    size, anything long cut short."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**21:
        return f"a number of {int(math.log10(abs(value))) + 1} digits"
    text = repr(value)
    return text if len(text) <= SHOWN_MAX_CHARS else text[:SHOWN_MAX_CHARS - 1] + "…"


@dataclass(frozen=True, slots=True)
class Table:
    """The table at `place` ("[bus]", "[[monitor]] #2 (heartbeat)") of `path`, or the
    whole file (`place` ""), whose keys name its tables.

    Every accessor raises `ConfigError` naming the key. An entry of an array of tables
    (`place` starts with "[[") is numbered, so a colon sets the key apart from it, and a
    missing key reads as None there ("expected …, got None") and a value of the wrong type
    is told all that is expected of it; a section says "required, but missing", and "a
    number" or "a string" until the value is one.
    """

    path: Path | str
    place: str
    values: Mapping[str, Any]
    #: Keys read before the table came here (a monitor's `kind`): listed first as known.
    implied: tuple[str, ...] = ()

    @classmethod
    def document(cls, path: Path | str, values: Mapping[str, Any]) -> Table:
        """The whole file: `only_keys` names a stray table `[name]`, `table` reads one."""
        return cls(path, "", values)

    @classmethod
    def monitor(cls, values: Mapping[str, Any], path: Path, index: int,
                kind: str | None = None) -> Table:
        """`[[monitor]] #index (kind)`, whose `kind` key was read by the caller."""
        place = f"[[monitor]] #{index}" + (f" ({kind})" if kind else "")
        return cls(path, place, values, implied=("kind",))

    @property
    def is_entry(self) -> bool:
        return self.place.startswith("[[")

    def error(self, key: str, message: str) -> ConfigError:
        if not self.place:
            return ConfigError(f"{self.path}: {key}: {message}")
        where = f"{self.place}:" if self.is_entry else self.place
        return ConfigError(f"{self.path}: {where} {key}: {message}")

    def expected(self, key: str, expected: str, got: Any) -> ConfigError:
        return self.error(key, f"expected {expected}, got {shown(got)}")

    def missing(self, key: str, expected: str) -> ConfigError:
        if self.is_entry:
            return self.expected(key, expected, None)
        return self.error(key, "required, but missing")

    def only_keys(self, known: set[str]) -> None:
        for key in self.values:
            if key not in known:
                listed = ", ".join([*self.implied, *sorted(known)])
                raise self.error(key if self.place else f"[{key}]",
                                 f"unknown key (known: {listed})")

    def table(self, key: str) -> Table:
        """The section under `key` (`[hub]`, or `[policy.bus]` within `[policy]`); empty
        when absent."""
        value = self.values.get(key, {})
        if not isinstance(value, dict):
            raise self.expected(key, "a table", value)
        place = f"[{self.place[1:-1]}.{key}]" if self.place else f"[{key}]"
        return Table(self.path, place, value)

    def name(self, *, reserved: Collection[str] = BUILT_IN_COMPONENTS) -> str:
        """`name`: short, lowercase, URL-safe, and none of `reserved`."""
        name = self.values.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise self.expected("name", "a short lowercase name (letters, digits, - _ .)", name)
        if name in reserved:
            raise self.expected("name", "a name not used by a built-in component", name)
        return name

    def string(self, key: str, default: str | None = None, *,
               expected: str = "a string") -> str:
        """A string; `default=None` makes the key required."""
        if key not in self.values:
            if default is None:
                raise self.missing(key, expected)
            return default
        value = self.values[key]
        if not isinstance(value, str):
            raise self.expected(key, expected, value)
        return value

    def url(self, key: str, default: str | None = None) -> str:
        value = self.string(key, default, expected=HTTP_URL if self.is_entry else "a string")
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - reading it checks it: a port beyond 65535 is refused
        except ValueError:  # e.g. "http://[::1/": an unclosed IPv6 bracket
            raise self.expected(key, HTTP_URL, value) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self.expected(key, HTTP_URL, value)
        return value

    def number(self, key: str, default: float | None = None, *, minimum: float | None = None,
               maximum: float | None = None, above: float | None = None,
               meaning: str = "") -> float:
        """A finite number (int or float, not bool), `>= minimum`, `<= maximum`, `> above`.

        `default=None` makes the key required; `meaning` explains the number in errors.
        """
        low = None if minimum is None else f"{minimum:g}"
        high = None if maximum is None else f"{maximum:g}"
        bounds = (f" from {low} to {high}" if low is not None and high is not None
                  else f" >= {low}" if low is not None
                  else f" > {above:g}" if above is not None
                  else f" <= {high}" if high is not None else "")
        expected = f"a number{bounds}" + (f" ({meaning})" if meaning else "")
        if key not in self.values and default is None:
            raise self.missing(key, expected)
        value = self.values.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.expected(key, expected if self.is_entry else "a number", value)
        for unit, longest in MAX_DURATIONS.items():
            # A duration with a lower `maximum` of its own is told that one instead.
            if key.endswith(unit) and value > longest and (maximum is None or maximum > longest):
                raise self.expected(key, f"at most {longest} ({unit[1:]}: 30 days)", value)
        # Range tests, not `math.isfinite`: NaN fails them too, and they take an integer of
        # any size, where converting it to a float would overflow.
        if not -sys.float_info.max <= value <= sys.float_info.max \
                or (minimum is not None and value < minimum) \
                or (maximum is not None and value > maximum) \
                or (above is not None and value <= above):
            raise self.expected(key, expected, value)
        return float(value)

    def optional_number(self, key: str, meaning: str, *,
                        above: float | None = None) -> float | None:
        """A number when the key is given, else None."""
        return self.number(key, meaning=meaning, above=above) if key in self.values else None

    def integer(self, key: str, default: int, *, minimum: int, maximum: int,
                meaning: str = "") -> int:
        """A whole number (not bool) from `minimum` to `maximum`; `meaning` as for `number`."""
        value = self.values.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) \
                or not minimum <= value <= maximum:
            raise self.expected(key, f"a whole number from {minimum} to {maximum}"
                                     + (f" ({meaning})" if meaning else ""), value)
        return value

    def strings(self, key: str, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """A list of strings; `default=None` makes the key required."""
        if key not in self.values:
            if default is None:
                raise self.missing(key, "a list of strings")
            return default
        value = self.values[key]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.expected(key, "a list of strings", value)
        return tuple(value)
