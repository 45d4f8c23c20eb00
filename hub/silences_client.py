"""Change and list a running hub's silences over its HTTP API (what `divoom-hub mute`,
`unmute`, `ack` and `silences` use), through `hub.client.call`.

    GET    /api/silences                     the silences in force, the open incidents
    POST   /api/silences                     {"action": "mute"|"ack", "component", ...}
    DELETE /api/silences/<component>?by=...  unmute

A refusal (`NotifyError`) says why, in the hub's words ("bus is not muted").
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hub.client import DEFAULT_URL, call


def silences(url: str = DEFAULT_URL, token: str | None = None,
             timeout: float = 5.0) -> dict[str, Any]:
    """`GET /api/silences`: {"notifications", "silences": [...], "incidents": [...]}."""
    return call("GET", url, "/api/silences", None, token, timeout)


def change(action: str, component: str, *, duration: str = "", reason: str = "",
           by: str = "", url: str = DEFAULT_URL, token: str | None = None,
           timeout: float = 5.0) -> str:
    """`mute`, `ack` or `unmute` `component`; the hub's reply (what changed, until when)."""
    if action == "unmute":
        path = f"/api/silences/{quote(component, safe='')}" + (
            f"?by={quote(by, safe='')}" if by else "")
        answer = call("DELETE", url, path, None, token, timeout, what="the unmute")
    else:
        body: dict[str, str] = {"action": action, "component": component}
        body.update({k: v for k, v in (("for", duration), ("reason", reason), ("by", by))
                     if v})
        answer = call("POST", url, "/api/silences", body, token, timeout,
                      what=f"the {action}")
    return str(answer.get("reply", ""))
