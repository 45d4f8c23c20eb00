"""Walking into parsed JSON whose shape is not guaranteed (the bus and weather replies)."""

from __future__ import annotations

from typing import Any


def dig(value: Any, *keys: str) -> Any:
    """`value[k1][k2]…`, or None as soon as a step is not an object."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
