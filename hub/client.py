"""Send a diagnostic to a Divoom Hub from any Python app on the same host.

Standard library only: copy this one file into your app if you do not want the hub
installed there.

    from client import notify          # or: from hub.client import notify
    notify("warning", "backup", "disk 91% full", {"free": "12 GB"})

The hub posts it to its Discord monitoring channel, coloured by level (info, warning,
error, critical). A report within the hub's limits is posted whole: `message` at most
2000 characters, and `message` with `details` (labels and values, or the text) at most
3500 characters together; a `details` object has at most 20 entries, labels of at most
64 characters, values of at most 1024. The text is sent as UTF-8, which keeps any report
within those limits under the hub's 16 KiB body cap.

It accepts a few a minute per service (5 by default) and refuses the rest with
`NotifyError.retry_after_seconds` set: nothing is queued then, so send it again later or
let it go. Any refusal (`NotifyError`) means nothing was queued. An answer with a
`"warning"` means the report was kept but cannot go out yet (delivery to Discord is
stopped, e.g. the webhook was deleted): it is sent once delivery works again, so do
not send it twice. With an access token (`HUB_HTTP_TOKEN` on the hub), pass `token=`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8787"


class NotifyError(RuntimeError):
    """The hub did not take the diagnostic; `str()` says why.

    `status` is the HTTP status (None when the hub could not be reached at all), and
    `retry_after_seconds` is set when the hub refused it for its rate limit.
    """

    def __init__(self, message: str, status: int | None = None,
                 retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_seconds = retry_after_seconds


def notify(level: str, service: str, message: str,
           details: Mapping[str, str | int | float | bool] | str | None = None,
           url: str = DEFAULT_URL, token: str | None = None,
           timeout: float = 5.0) -> dict[str, Any]:
    """Send one diagnostic; return the hub's answer, or raise `NotifyError`.

    `details` is an object of label → value (shown as fields) or a string (shown as a
    block of text, e.g. a traceback). The answer is `{"accepted": True, ...}`, with a
    `"warning"` when the hub kept the report but cannot deliver it yet.
    """
    report: dict[str, Any] = {"level": level, "service": service, "message": message}
    if details is not None:
        report["details"] = details if isinstance(details, str) else dict(details)
    return call("POST", url, "/api/notify", report, token, timeout, what="the diagnostic")


def call(method: str, url: str, path: str, document: dict[str, Any] | None = None,
         token: str | None = None, timeout: float = 5.0, *,
         what: str = "the request") -> dict[str, Any]:
    """One JSON exchange with the hub's HTTP API at `url`; its answer, or `NotifyError`
    saying why not (`what` names the request in a refusal: "the hub refused …")."""
    endpoint = url.rstrip("/") + path
    headers = {"Accept": "application/json"}
    body = None
    if document is not None:
        headers["Content-Type"] = "application/json"
        # As UTF-8, not as \u escapes: "ø" is 2 bytes instead of 6, "😀" 4 instead of 12.
        body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(endpoint, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer: dict[str, Any] = json.loads(response.read().decode("utf-8"))
            return answer
    except urllib.error.HTTPError as err:
        with err:
            raise _refusal(err, what) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        reason = getattr(err, "reason", err)
        raise NotifyError(f"cannot reach the hub at {url}: {reason}") from None
    except ValueError as err:  # a 2xx that is not JSON: something else listens there
        raise NotifyError(f"{endpoint} did not answer like a Divoom Hub: {err}") from None


def _refusal(err: urllib.error.HTTPError, what: str) -> NotifyError:
    body = err.read()
    try:
        said = json.loads(body.decode("utf-8")).get("error") or ""
    except (ValueError, AttributeError):
        said = body.decode("utf-8", errors="replace")[:200]
    retry_after = None
    if err.code == 429:
        header = err.headers.get("Retry-After", "")
        retry_after = float(header) if header.strip().isdigit() else None
    reason = f"the hub refused {what} (HTTP {err.code})"
    if err.code == 401:
        said += " (pass the hub's HUB_HTTP_TOKEN)"
    return NotifyError(f"{reason}: {said}" if said else reason, status=err.code,
                       retry_after_seconds=retry_after)
