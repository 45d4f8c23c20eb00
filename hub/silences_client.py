"""Change and list a running hub's silences over its HTTP API (what `divoom-hub mute`,
`unmute`, `ack` and `silences` use). Standard library only, like hub/client.py.

    GET    /api/silences                     the silences in force, the open incidents
    POST   /api/silences                     {"action": "mute"|"ack", "component", ...}
    DELETE /api/silences/<component>?by=...  unmute

A refusal (`SilenceError`) says why, in the hub's words ("bus is not muted").
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

DEFAULT_URL = "http://127.0.0.1:8787"


class SilenceError(RuntimeError):
    """The hub did not do it (or could not be reached); `str()` says why."""


def silences(url: str = DEFAULT_URL, token: str | None = None,
             timeout: float = 5.0) -> dict[str, Any]:
    """`GET /api/silences`: {"notifications", "silences": [...], "incidents": [...]}."""
    return _call("GET", url, "/api/silences", None, token, timeout)


def change(action: str, component: str, *, duration: str = "", reason: str = "",
           by: str = "", url: str = DEFAULT_URL, token: str | None = None,
           timeout: float = 5.0) -> str:
    """`mute`, `ack` or `unmute` `component`; the hub's reply (what changed, until when)."""
    if action == "unmute":
        path = f"/api/silences/{quote(component, safe='')}" + (
            f"?by={quote(by, safe='')}" if by else "")
        answer = _call("DELETE", url, path, None, token, timeout)
    else:
        body: dict[str, str] = {"action": action, "component": component}
        body.update({k: v for k, v in (("for", duration), ("reason", reason), ("by", by))
                     if v})
        answer = _call("POST", url, "/api/silences", body, token, timeout)
    return str(answer.get("reply", ""))


def _call(method: str, url: str, path: str, body: dict[str, Any] | None,
          token: str | None, timeout: float) -> dict[str, Any]:
    endpoint = url.rstrip("/") + path
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(endpoint, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer: dict[str, Any] = json.loads(response.read().decode("utf-8"))
            return answer
    except urllib.error.HTTPError as err:
        with err:
            raw = err.read()
        try:
            said = json.loads(raw.decode("utf-8")).get("error") or ""
        except (ValueError, AttributeError):
            said = raw.decode("utf-8", errors="replace")[:200]
        if err.code == 401:
            said += " (set HUB_HTTP_TOKEN to the hub's token, in the environment or .env)"
        raise SilenceError(f"the hub refused (HTTP {err.code}): {said}".rstrip(": ")) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        reason = getattr(err, "reason", err)
        raise SilenceError(f"cannot reach the hub at {url}: {reason} (is it running, and "
                           "is [hub] http_listen set?)") from None
    except ValueError as err:
        raise SilenceError(f"{endpoint} did not answer like a Divoom Hub: {err}") from None
