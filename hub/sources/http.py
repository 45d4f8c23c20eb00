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

import requests

from hub.settings_table import Table
from hub.sources.errors import request_failure
from hub.sources.slow import judged_for_speed, read_slow_after
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
    slow_after_seconds: float = 0.0  # 0 = off; else a slower success is a failure `slow`

    def expects(self, status: int) -> bool:
        return any(low <= status <= high for low, high in self.expect_status)

    def describe_expected(self) -> str:
        return ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in self.expect_status)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], path: Path, index: int) -> HttpCheck:
        """Validate one `[[monitor]]` table (without `kind`); errors name file and key."""
        reader = Table.monitor(table, path, index)
        reader.only_keys({"name", "url", "every_seconds", "timeout_seconds", "expect_status",
                          "method", "headers", "slow_after_seconds"})
        name = reader.name()
        url = reader.url("url")
        every = reader.number("every_seconds", 60.0)
        if every < MIN_EVERY_SECONDS:
            raise reader.expected("every_seconds", f"a number >= {MIN_EVERY_SECONDS}", every)
        timeout = reader.number("timeout_seconds", 10.0)
        if timeout <= 0:
            raise reader.expected("timeout_seconds", "a number > 0", timeout)
        method = table.get("method", "GET")
        if not isinstance(method, str) or method.upper() not in METHODS:
            raise reader.expected("method", f"one of {', '.join(METHODS)}", method)
        headers = table.get("headers", {})
        if not isinstance(headers, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
            raise reader.expected("headers", "a table of strings", headers)
        expect = _expect_status(table.get("expect_status", "200-399"), reader)
        return cls(name=name, url=url, every_seconds=every, timeout_seconds=timeout,
                   expect_status=expect, method=method.upper(), headers=dict(headers),
                   slow_after_seconds=read_slow_after(reader, timeout))


def _expect_status(value: Any, reader: Table) -> tuple[tuple[int, int], ...]:
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
        raise reader.expected(
            "expect_status", "a status (200), a range (\"200-399\") or a list of them", value)
    if not ranges:
        raise reader.expected("expect_status", "at least one status", value)
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
        return judged_for_speed(Outcome.success(check.name, now, latency_seconds=now - started),
                                check.slow_after_seconds)
    reason = f" {response.reason}" if response.reason else ""
    return _failed(check, now, started, f"http_{response.status_code}",
                   f"{response.status_code}{reason} (expected {check.describe_expected()})")


def _failed(check: HttpCheck, now: float, started: float, error_type: str,
            detail: str) -> Outcome:
    return Outcome.failure(check.name, now, error_type, detail, latency_seconds=now - started)

