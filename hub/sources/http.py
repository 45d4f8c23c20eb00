"""`[[monitor]]` kind `http`: is an endpoint answering with an expected status?

`check_http` runs on a worker thread with a `requests.Session` and a timeout, and turns
every library error into a failed `Outcome` with a precise `error_type` (`timeout`,
`connect`, `http_503`, `tls`, `too_many_redirects`, `error`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from hub.config import ConfigError
from hub.sources.errors import request_failure
from machines import Outcome

METHODS = ("GET", "HEAD", "POST")
#: Polling faster than this hammers the target and floods the machines with outcomes.
MIN_EVERY_SECONDS = 0.05
_RANGE = re.compile(r"^\s*(\d{3})\s*-\s*(\d{3})\s*$")


@dataclass(frozen=True, slots=True)
class HttpCheck:
    """One configured HTTP monitor."""

    name: str
    url: str
    every_seconds: float = 60.0
    timeout_seconds: float = 10.0
    expect_status: tuple[tuple[int, int], ...] = ((200, 399),)
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)

    def expects(self, status: int) -> bool:
        return any(low <= status <= high for low, high in self.expect_status)

    def describe_expected(self) -> str:
        return ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in self.expect_status)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], path: Path, index: int) -> HttpCheck:
        """Validate one `[[monitor]]` table (without `kind`); errors name file and key."""

        def error(key: str, expected: str, got: Any) -> ConfigError:
            return ConfigError(f"{path}: [[monitor]] #{index}: {key}: expected {expected}, "
                               f"got {got!r}")

        known = {"name", "url", "every_seconds", "timeout_seconds", "expect_status", "method",
                 "headers"}
        for key in table:
            if key not in known:
                raise ConfigError(f"{path}: [[monitor]] #{index}: {key}: unknown key "
                                  f"(known: kind, {', '.join(sorted(known))})")
        name = table.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,39}", name):
            raise error("name", "a short lowercase name (letters, digits, - _ .)", name)
        if name in ("bus", "weather", "pixoo", "discord"):
            raise error("name", "a name not used by a built-in component", name)
        url = table.get("url")
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") \
                or not urlsplit(url).netloc:
            raise error("url", "an http:// or https:// URL", url)
        every = _number(table, "every_seconds", 60.0, error)
        if every < MIN_EVERY_SECONDS:
            raise error("every_seconds", f"a number >= {MIN_EVERY_SECONDS}", every)
        timeout = _number(table, "timeout_seconds", 10.0, error)
        if timeout <= 0:
            raise error("timeout_seconds", "a number > 0", timeout)
        method = table.get("method", "GET")
        if not isinstance(method, str) or method.upper() not in METHODS:
            raise error("method", f"one of {', '.join(METHODS)}", method)
        headers = table.get("headers", {})
        if not isinstance(headers, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
            raise error("headers", "a table of strings", headers)
        expect = _expect_status(table.get("expect_status", "200-399"), error)
        return cls(name=name, url=url, every_seconds=every, timeout_seconds=timeout,
                   expect_status=expect, method=method.upper(), headers=dict(headers))


def _number(table: Mapping[str, Any], key: str, default: float,
            error: Callable[[str, str, Any], ConfigError]) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise error(key, "a number", value)
    return float(value)


def _expect_status(value: Any,
                   error: Callable[[str, str, Any], ConfigError]) -> tuple[tuple[int, int], ...]:
    """`200`, `[200, 204]`, `"200-399"` or a list mixing both."""
    items = value if isinstance(value, list) else [value]
    ranges: list[tuple[int, int]] = []
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool) and 100 <= item <= 599:
            ranges.append((item, item))
            continue
        match = _RANGE.match(item) if isinstance(item, str) else None
        if match and 100 <= int(match[1]) <= int(match[2]) <= 599:
            ranges.append((int(match[1]), int(match[2])))
            continue
        raise error("expect_status", "a status (200), a range (\"200-399\") or a list of them",
                    value)
    if not ranges:
        raise error("expect_status", "at least one status", value)
    return tuple(ranges)


def check_http(session: requests.Session, check: HttpCheck,
               clock: Callable[[], float]) -> Outcome:
    """One request; never raises. `clock` stamps the outcome and measures latency."""
    started = clock()
    try:
        response = session.request(check.method, check.url, headers=dict(check.headers),
                                   timeout=check.timeout_seconds, allow_redirects=True,
                                   stream=True)
        response.close()  # the body is not needed; do not download it
    except requests.RequestException as err:
        error_type, detail = request_failure(err, check.timeout_seconds)
        return _failed(check, clock(), started, error_type, detail)
    now = clock()
    if check.expects(response.status_code):
        return Outcome.success(check.name, now, latency_seconds=now - started)
    reason = f" {response.reason}" if response.reason else ""
    return _failed(check, now, started, f"http_{response.status_code}",
                   f"{response.status_code}{reason} (expected {check.describe_expected()})")


def _failed(check: HttpCheck, now: float, started: float, error_type: str,
            detail: str) -> Outcome:
    return Outcome.failure(check.name, now, error_type, detail, latency_seconds=now - started)

