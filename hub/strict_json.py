"""Decoding JSON from outside the hub: every way a body can be bad is a `ValueError`.

The stdlib parser alone lets through what later breaks the hub: `NaN` and `Infinity`
(not JSON), numbers no float can hold (a 400-digit integer), lone UTF-16 surrogates
(`"\\ud800"`, which cannot be stored or sent as UTF-8), and it raises `RecursionError`,
not `ValueError`, on a few thousand nested arrays. `loads` refuses all of these with a
message that says what was wrong, so a caller needs to catch only `ValueError`: the
status server answers 400, a polled source records `bad_json`.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

#: Real documents nest a handful of levels (a report: 2, a sensor's JSON: rarely 10);
#: the stdlib parser recurses once per level, so a bound keeps it far from the stack's.
MAX_DEPTH = 64
#: More digits than this cannot be a float (the largest is about 1.8e308).
_MAX_INT_DIGITS = len(str(int(sys.float_info.max)))
#: A string token, or one bracket: brackets inside strings do not nest anything.
#: Possessive, so an unterminated string costs one pass, not one per quote.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*+"|[\[\]{}]', re.DOTALL)
#: A lone surrogate can only come from an escape: UTF-8 decoding never yields one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class JsonBodyError(ValueError):
    """The body is not JSON the hub can use; the message says why."""


def loads(body: bytes | str) -> Any:
    """The document in `body` (UTF-8 when bytes), or a `ValueError` saying what is wrong."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    _check_depth(text)
    document = json.loads(text, parse_constant=_refuse_constant, parse_int=_int,
                          parse_float=_float)
    if _SURROGATE_ESCAPE.search(text):
        _check_text(document)
    return document


def _check_depth(text: str) -> None:
    depth = 0
    for token in _TOKEN.finditer(text):
        bracket = token.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                raise JsonBodyError(f"nested deeper than {MAX_DEPTH} levels")
        elif bracket in ("]", "}"):
            depth -= 1


def _check_text(document: Any) -> None:
    """Every key and string in `document` is text that UTF-8 can carry."""
    pending = [document]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and _SURROGATE.search(item):
            raise JsonBodyError(r"a string holds a lone surrogate (such as \ud800): it is "
                                "not text")


def _refuse_constant(constant: str) -> Any:
    raise JsonBodyError(f"{constant} is not a JSON number")


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > _MAX_INT_DIGITS:
        raise JsonBodyError(f"a number with {digits} digits is out of range")
    value = int(text)
    try:
        float(value)
    except OverflowError:
        raise JsonBodyError(f"a number with {digits} digits is out of range") from None
    return value


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise JsonBodyError(f"{_shorten(text)} is out of range")
    return value


def _shorten(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
