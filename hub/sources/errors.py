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
exception text as is: it can carry a URL with a secret in its query. Why a connection
failed is worded by `hub.connection_errors`, as it is for Discord.
"""

from __future__ import annotations

import requests

from hub.connection_errors import connection_reason


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
        reason = connection_reason(err)
        return "connect", f"cannot reach {peer}: {reason}" if peer else reason
    if isinstance(err, requests.TooManyRedirects):
        return "too_many_redirects", "redirect loop"
    return "error", type(err).__name__
