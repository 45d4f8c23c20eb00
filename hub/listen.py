"""`[hub] http_listen`: the status server's address, and whether it needs an access token.

The config validates it, `check` describes it and the status server binds it; all three
parse it here, so they cannot disagree on what a valid address is, nor on which address
only this machine can reach (there the page needs no token: beyond it, it does).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

#: The access token of the status page (in the environment or `.env`, see hub/secrets.py).
TOKEN_ENV = "HUB_HTTP_TOKEN"
#: `host:port`, the host maybe in brackets (`[::1]:8787`); the port in ASCII digits
#: (`str.isdigit` also takes "²", which `int` then refuses).
_LISTEN = re.compile(r"(?:\[(?P<bracketed>[^\]]+)\]|(?P<host>[^\s\[\]]+)):(?P<port>[0-9]{1,5})")
MAX_PORT = 65535
#: What an address looks like, as every error about one says it.
ADDRESS_EXPECTED = "'host:port' such as '127.0.0.1:8787'"


@dataclass(frozen=True, slots=True)
class Listen:
    """Where the status server listens: `host` without brackets; `port` 0 = any free port."""

    host: str
    port: int

    @property
    def is_loopback(self) -> bool:
        """Only this machine reaches it. A host name is not: it may resolve to anything."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_listen(text: str) -> Listen | None:
    """`"127.0.0.1:8787"`, `"[::1]:8787"`, `"0.0.0.0:0"` → a `Listen`; None when `text` is
    not `host:port` (each caller says so in its own words: config, `check`, the server)."""
    match = _LISTEN.fullmatch(text)
    if match is None or int(match["port"]) > MAX_PORT:
        return None
    return Listen(match["bracketed"] or match["host"], int(match["port"]))


def not_an_address(text: str) -> str:
    """The error for a `text` that `parse_listen` refuses, where no file names it."""
    return f"http_listen: expected {ADDRESS_EXPECTED}, got {text!r}"
