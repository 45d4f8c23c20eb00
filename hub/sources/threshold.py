"""`[[monitor]]` kind `threshold`: a number that must stay within `min`/`max`.

The value is either read from a JSON document (`url` + a dotted `path` such as
`"sensors.0.temp"`, polled every `every_seconds` on a worker thread) or pushed by the
device to `POST /api/metric/<name>` with `{"value": number}` (served by `hub.web.server`).

`judge` is the pure rule: a number within bounds is a success; above `max` is a failure
`above_max` ("21.5 > max 20"), below `min` a failure `below_min`; anything that is not a
finite number (missing, null, a string, NaN) is a failure `bad_value`. `read_threshold`
never raises: every `requests` error becomes a failed `Outcome` (`timeout`, `connect`,
`tls`, `http_503`, `bad_json`, …), as for the `http` kind.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from hub import strict_json
from hub.settings_table import HTTP_URL, Table
from hub.sources.errors import request_failure
from hub.sources.http import MIN_EVERY_SECONDS
from machines import Outcome

KIND = "threshold"
_SHOWN_VALUE_MAX = 40  # a bad value is quoted in the detail, shortened to this


@dataclass(frozen=True, slots=True)
class ThresholdMonitor:
    """One configured threshold; at least one of `min_value`, `max_value` is set."""

    name: str
    min_value: float | None = None
    max_value: float | None = None
    url: str = ""  # "" = the value is pushed to POST /api/metric/<name>
    path: tuple[str, ...] = ()  # () = the document itself is the number
    every_seconds: float = 60.0
    timeout_seconds: float = 10.0

    @property
    def is_pushed(self) -> bool:
        return not self.url

    @staticmethod
    def limits_of(error_type: str, detail: str) -> tuple[str, str] | None:
        """(current value, threshold) of a failure `judge` made ("21.5 > max 20" →
        ("21.5", "max 20")), for the alert's fields; None for any other failure."""
        sign = {"above_max": " > ", "below_min": " < "}.get(error_type)
        if sign is None or sign not in detail:
            return None
        current, threshold = detail.split(sign, 1)
        return current, threshold

    def judge(self, value: Any, at: float, latency_seconds: float | None = None) -> Outcome:
        """The outcome of one reading; `data` holds the value when it is a number."""
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            return Outcome.failure(self.name, at, "bad_value",
                                   f"expected a number, got {_shown(value)}",
                                   latency_seconds=latency_seconds)
        number = float(value)
        if self.max_value is not None and number > self.max_value:
            return Outcome.failure(self.name, at, "above_max",
                                   f"{number:g} > max {self.max_value:g}",
                                   latency_seconds=latency_seconds, data=number)
        if self.min_value is not None and number < self.min_value:
            return Outcome.failure(self.name, at, "below_min",
                                   f"{number:g} < min {self.min_value:g}",
                                   latency_seconds=latency_seconds, data=number)
        return Outcome.success(self.name, at, latency_seconds=latency_seconds, data=number)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], path: Path, index: int) -> ThresholdMonitor:
        """Validate one `[[monitor]]` table (without `kind`); errors name file and key."""
        reader = Table.monitor(table, path, index, KIND)
        reader.only_keys({"name", "min", "max", "url", "path", "every_seconds",
                          "timeout_seconds"})
        name = reader.name()
        low = reader.optional_number("min", "the lowest acceptable value")
        high = reader.optional_number("max", "the highest acceptable value")
        if low is None and high is None:
            raise reader.expected("min", "at least one of min and max", None)
        if low is not None and high is not None and low > high:
            raise reader.expected("max", f"a number >= min ({low:g})", high)
        if not reader.string("url", "", expected=HTTP_URL):
            for key in ("path", "every_seconds", "timeout_seconds"):
                if key in table:
                    raise reader.expected(key, "no value: without url, values are pushed to "
                                          f"POST /api/metric/{name}", table[key])
            return cls(name=name, min_value=low, max_value=high)
        url = reader.url("url")
        dotted = reader.string("path", "", expected='a dotted path into the JSON such as '
                                                    '"sensors.0.temp"')
        segments = tuple(dotted.split(".")) if dotted else ()
        if any(not segment for segment in segments):
            raise reader.expected("path", 'a dotted path such as "sensors.0.temp" '
                                  "(no empty parts)", dotted)
        return cls(
            name=name, min_value=low, max_value=high, url=url, path=segments,
            every_seconds=reader.number("every_seconds", 60.0, minimum=MIN_EVERY_SECONDS,
                                        meaning="seconds between reads"),
            timeout_seconds=reader.number("timeout_seconds", 10.0, above=0,
                                          meaning="seconds to wait for an answer"),
        )


class PathNotFoundError(LookupError):
    """The dotted path leads nowhere in the document; the message says where it stopped."""


def value_at(document: Any, path: tuple[str, ...]) -> Any:
    """`document` followed along `path`: keys into objects, whole numbers into arrays."""
    current = document
    for depth, segment in enumerate(path):
        where = ".".join(path[:depth]) or "the document"
        if isinstance(current, dict):
            if segment not in current:
                raise PathNotFoundError(f"no key {segment!r} in {where}")
            current = current[segment]
        elif isinstance(current, list):
            if not segment.isdigit() or int(segment) >= len(current):
                raise PathNotFoundError(f"no item {segment!r} in {where} "
                                        f"({len(current)} items)")
            current = current[int(segment)]
        else:
            raise PathNotFoundError(f"{where} is not an object or array, cannot take "
                                    f"{segment!r}")
    return current


def read_threshold(session: requests.Session, monitor: ThresholdMonitor,
                   clock: Callable[[], float]) -> Outcome:
    """Fetch the document and judge the value at the path; never raises."""
    started = clock()

    def failed(error_type: str, detail: str) -> Outcome:
        now = clock()
        return Outcome.failure(monitor.name, now, error_type, detail,
                               latency_seconds=now - started)

    try:
        with session.get(monitor.url, timeout=monitor.timeout_seconds,
                         headers={"Accept": "application/json"}) as response:
            status, reason = response.status_code, response.reason
            body = response.content if 200 <= status < 300 else b""
    except requests.RequestException as err:
        return failed(*request_failure(err, monitor.timeout_seconds))
    if not 200 <= status < 300:
        return failed(f"http_{status}", f"{status} {reason or ''}".strip())
    try:
        # NaN, a 400-digit number or deep nesting is a ValueError here, not a
        # RecursionError now or an OverflowError in `judge`.
        document = strict_json.loads(body)
    except ValueError as err:
        return failed("bad_json", f"not a JSON document: {err}")
    try:
        value = value_at(document, monitor.path)
    except PathNotFoundError as err:
        return failed("bad_value", f"{'.'.join(monitor.path)}: {err}")
    now = clock()
    return monitor.judge(value, now, latency_seconds=now - started)


def _shown(value: Any) -> str:
    text = "nothing" if value is None else repr(value)
    return text if len(text) <= _SHOWN_VALUE_MAX else text[:_SHOWN_VALUE_MAX - 1] + "…"
