"""What a failed `requests` call becomes in an `Outcome`: an `error_type` and a short detail.

Every source that talks HTTP maps the library's exceptions the same way, so the alert
for "MET is down" reads like the one for "Entur is down" or for a `[[monitor]]` URL:

    requests.RequestException
    ├── Timeout (incl. ConnectTimeout)   timeout             no answer within N s
    ├── ConnectionError
    │   ├── SSLError                     tls                 TLS handshake or certificate
    │   └── (the rest)                   connect             connection refused, …
    ├── TooManyRedirects                 too_many_redirects  redirect loop
    └── (anything else)                  error               the exception's class name

The order matters: `ConnectTimeout` is both a `Timeout` and a `ConnectionError` (it is
reported as `timeout`), and `SSLError` is a `ConnectionError`. The detail never holds the
exception text as is: it can carry a URL with a secret in its query.
"""

from __future__ import annotations

import requests

#: Phrases of the socket and resolver errors that `requests` wraps, in the order they are
#: looked for; the detail is the phrase in lower case.
_CONNECT_MARKERS = ("Connection refused", "Name or service not known", "No route to host",
                    "Connection reset", "Network is unreachable", "Temporary failure")


def connect_detail(err: requests.ConnectionError) -> str:
    """Why a connection failed, in a few words (`connection refused`, …)."""
    text = str(err)
    for marker in _CONNECT_MARKERS:
        if marker in text:
            return marker.lower()
    return "cannot connect"


def request_failure(err: requests.RequestException, timeout_seconds: float,
                    peer: str | None = None) -> tuple[str, str]:
    """`(error_type, detail)` for a failed request; `peer` names the service in the detail.

    With `peer="MET"`: `("timeout", "MET did not answer within 10 s")`,
    `("connect", "cannot reach MET: connection refused")`; without one:
    `("timeout", "no answer within 10 s")`, `("connect", "connection refused")`.
    """
    if isinstance(err, requests.Timeout):
        return "timeout", (f"{peer} did not answer within {timeout_seconds:g} s" if peer
                           else f"no answer within {timeout_seconds:g} s")
    if isinstance(err, requests.exceptions.SSLError):
        return "tls", "TLS handshake or certificate failed"
    if isinstance(err, requests.ConnectionError):
        reason = connect_detail(err)
        return "connect", f"cannot reach {peer}: {reason}" if peer else reason
    if isinstance(err, requests.TooManyRedirects):
        return "too_many_redirects", "redirect loop"
    return "error", type(err).__name__
