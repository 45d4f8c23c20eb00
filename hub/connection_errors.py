"""A connection that failed, in the same few words wherever it failed.

Entur, MET, the Pixoo and `[[monitor]]`s are reached with `requests`, Discord with
`aiohttp`, and each library wraps the operating system's error its own way: `requests`
three levels deep (`ConnectionError` → urllib3's `MaxRetryError` → `NewConnectionError`
→ `ConnectionRefusedError`), aiohttp one (`ClientConnectorDNSError.os_error`, a
`socket.gaierror`), and their messages differ ("Connection refused" against "Connect
call failed"). `connection_reason` digs the system's error out of either and names it,
so "cannot reach Discord: …" reads like "cannot reach MET: …":

    connection refused                    nothing listens on that port
    connection reset                      the peer dropped the connection
    closed the connection without a reply the peer accepted, then hung up
    connection timed out                  the system gave up connecting
    no route to host / network is unreachable
    unknown host (name or service not known)        DNS has no such name
    name lookup failed (temporary failure in name resolution)   no DNS answer
    cannot connect                        anything else

The words never include the exception's text, which can carry a URL with a secret.
"""

from __future__ import annotations

import errno
import http.client
import re
import socket
import sys
from collections.abc import Iterator

UNKNOWN_HOST = "unknown host (name or service not known)"
NAME_LOOKUP_FAILED = "name lookup failed (temporary failure in name resolution)"
CLOSED_WITHOUT_REPLY = "closed the connection without a reply"
CANNOT_CONNECT = "cannot connect"

_ERRNO_WORDS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.ETIMEDOUT: "connection timed out",
    errno.EHOSTUNREACH: "no route to host",
    errno.ENETUNREACH: "network is unreachable",
}
#: getaddrinfo's codes (negative on Linux): an unknown name, or no DNS answer at all.
_RESOLVER_WORDS = {
    socket.EAI_NONAME: UNKNOWN_HOST,
    socket.EAI_AGAIN: NAME_LOOKUP_FAILED,
    **({socket.EAI_NODATA: UNKNOWN_HOST} if hasattr(socket, "EAI_NODATA") else {}),
}
#: When the system's error object was lost on the way (aiohttp joins the errors of
#: several addresses into one message), its text is the last resort.
_TEXT_WORDS = (
    ("Connection refused", "connection refused"),
    ("Name or service not known", UNKNOWN_HOST),
    ("nodename nor servname", UNKNOWN_HOST),
    ("No address associated with hostname", UNKNOWN_HOST),
    ("Temporary failure in name resolution", NAME_LOOKUP_FAILED),
    ("RemoteDisconnected", CLOSED_WITHOUT_REPLY),
    ("Connection aborted", CLOSED_WITHOUT_REPLY),
    ("Connection reset", "connection reset"),
    ("No route to host", "no route to host"),
    ("Network is unreachable", "network is unreachable"),
)
_ERRNO_IN_TEXT = re.compile(r"\[Errno (-?\d+)\]")
#: How deep wrapped errors are followed; requests needs four levels.
_MAX_DEPTH = 8


def connection_reason(err: BaseException) -> str:
    """Why a connection failed, in a few words (`connection refused`, …; see above)."""
    chain = list(_wrapped(err))
    for exc in chain:
        if isinstance(exc, http.client.RemoteDisconnected) or _is_aiohttp_disconnect(exc):
            return CLOSED_WITHOUT_REPLY
        if isinstance(exc, socket.gaierror) and exc.errno in _RESOLVER_WORDS:
            return _RESOLVER_WORDS[exc.errno]
        if isinstance(exc, OSError) and not isinstance(exc, socket.gaierror) \
                and exc.errno in _ERRNO_WORDS:
            return _ERRNO_WORDS[exc.errno]
    for exc in chain:
        text = str(exc)
        for marker, words in _TEXT_WORDS:
            if marker in text:
                return words
        for number in _ERRNO_IN_TEXT.findall(text):
            if int(number) in _ERRNO_WORDS:
                return _ERRNO_WORDS[int(number)]
    return CANNOT_CONNECT


def _wrapped(err: BaseException) -> Iterator[BaseException]:
    """`err` and every error it wraps (cause, context, arguments, `reason`, `os_error`),
    outermost first, each once."""
    seen: set[int] = set()
    level = [err]
    for _ in range(_MAX_DEPTH):
        inner: list[BaseException] = []
        for exc in level:
            if id(exc) in seen:
                continue
            seen.add(id(exc))
            yield exc
            candidates = [exc.__cause__, exc.__context__, *exc.args,
                          getattr(exc, "reason", None), getattr(exc, "os_error", None)]
            inner += [c for c in candidates if isinstance(c, BaseException)]
        if not inner:
            return
        level = inner


def _is_aiohttp_disconnect(exc: BaseException) -> bool:
    """aiohttp's "server disconnected", without importing aiohttp for it: only an aiohttp
    already loaded can have raised one (and a hub that sends with requests never loads it)."""
    aiohttp = sys.modules.get("aiohttp")
    return aiohttp is not None and isinstance(exc, aiohttp.ServerDisconnectedError)
