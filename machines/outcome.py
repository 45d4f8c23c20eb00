"""The result of one look at a component: the only thing sources hand to the machines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Outcome:
    """One poll, push, ping or report about a component.

    `error_type` is a short machine-readable reason (`timeout`, `connect`, `http_503`,
    `bad_json`, `schema`, `stale`, ...) and `detail` a short human-readable one; both are
    empty for a success. `data` carries what a successful poll fetched (departures, a
    forecast) for the display; the machines never look at it and treat it as immutable.
    """

    component: str
    ok: bool
    at: float
    latency_seconds: float | None = None
    error_type: str = ""
    detail: str = ""
    data: Any = None

    @classmethod
    def success(cls, component: str, at: float, **kwargs: Any) -> Outcome:
        return cls(component=component, ok=True, at=at, **kwargs)

    @classmethod
    def failure(cls, component: str, at: float, error_type: str, detail: str = "",
                **kwargs: Any) -> Outcome:
        return cls(component=component, ok=False, at=at, error_type=error_type, detail=detail,
                   **kwargs)
