"""Secrets: from the environment or a `.env` file, never from `hub.toml`.

Each secret `NAME` may also be given as `NAME_FILE`, the path of a file holding it
(systemd credentials, Docker secrets). The environment wins over `.env`. Values never
appear in a `repr`, and `RedactingFilter` scrubs them from every log record.

Besides the fixed names, every `DISCORD_WATCH_<NAME>` (and `DISCORD_WATCH_<NAME>_FILE`)
is read: the id of the channel `[[channel]] name = "<name>"` watches (hub.sources.channels).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit

NAMES = ("DISCORD_BOT_TOKEN", "DISCORD_MONITOR_CHANNEL_ID", "DISCORD_CHANNEL_ID",
         "DISCORD_WEBHOOK_URL", "HUB_HTTP_TOKEN", "ALERTMANAGER_TOKEN",
         "ALERTMANAGER_PASSWORD")
#: Not secret, but read from the same places: redirects for proxies and tests.
SETTINGS = ("DISCORD_API_BASE", "DISCORD_GATEWAY_URL")
#: Watched channels' ids: `DISCORD_WATCH_DEPLOYS` for `[[channel]] name = "deploys"`.
WATCH_PREFIX = "DISCORD_WATCH_"
#: The URL schemes each redirect may use, and the default it replaces: discord.py speaks
#: REST over HTTP and its gateway over a websocket.
URL_SCHEMES = {"DISCORD_API_BASE": (("http", "https"), "https://discord.com/api/v10"),
               "DISCORD_GATEWAY_URL": (("ws", "wss"), "wss://gateway.discord.gg")}
#: A Discord id is a snowflake: ASCII digits (`str.isdigit` also takes '²', which `int`
#: refuses).
_SNOWFLAKE = re.compile(r"[0-9]+")


class SecretsError(ValueError):
    """A secret is malformed or unreadable; the message names it, never its value."""


@dataclass(frozen=True, slots=True)
class Secrets:
    discord_bot_token: str = ""
    discord_monitor_channel_id: str = ""
    discord_channel_id: str = ""
    discord_webhook_url: str = ""
    hub_http_token: str = ""  # required to serve the status page beyond loopback
    #: `[alertmanager]`'s credentials: a bearer token, or the password of its `username`.
    alertmanager_token: str = ""
    alertmanager_password: str = ""
    discord_api_base: str = ""
    discord_gateway_url: str = ""
    #: ((variable, channel id), ...) of every `DISCORD_WATCH_<NAME>` found.
    discord_watch_channel_ids: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={'set' if getattr(self, f.name) else 'unset'}"
                          for f in fields(self))
        return f"Secrets({shown})"

    def values(self) -> list[str]:
        """The secret values that are set, for redaction."""
        return [v for v in (self.discord_bot_token, self.discord_webhook_url,
                            self.discord_monitor_channel_id, self.discord_channel_id,
                            self.hub_http_token, self.alertmanager_token,
                            self.alertmanager_password) if v] + \
            [v for _, v in self.discord_watch_channel_ids if v]

    def watch_channel_id(self, variable: str) -> str:
        """The id in `DISCORD_WATCH_<NAME>`, or "" when it is not set."""
        return dict(self.discord_watch_channel_ids).get(variable, "")


def read_dotenv(path: Path) -> dict[str, str]:
    """`KEY=value` lines; `#` comments, `export ` prefixes and matching quotes allowed."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
        raise SecretsError(f"{path}: cannot read: {reason} (the hub's user must be able to "
                           "read it; keep it mode 0600 and owned by that user)") from None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise SecretsError(f"{path}:{number}: expected KEY=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def load_secrets(environ: Mapping[str, str], dotenv: Path | None) -> Secrets:
    source = {**(read_dotenv(dotenv) if dotenv is not None else {}), **environ}
    found: dict[str, str] = {}
    for name in (*NAMES, *SETTINGS):
        found[name.lower()] = _read(source, name)
    for name in ("DISCORD_MONITOR_CHANNEL_ID", "DISCORD_CHANNEL_ID"):
        _check_channel_id(name, found[name.lower()])
    for name, (schemes, example) in URL_SCHEMES.items():
        _check_url(name, found[name.lower()], schemes, example)
    watched = sorted({key.removesuffix("_FILE") for key in source
                      if key.startswith(WATCH_PREFIX) and len(key) > len(WATCH_PREFIX)
                      and key.removesuffix("_FILE") != WATCH_PREFIX.rstrip("_")})
    watch_ids = tuple((name, _read(source, name)) for name in watched)
    for name, value in watch_ids:
        _check_channel_id(name, value)
    return Secrets(**found, discord_watch_channel_ids=tuple((n, v) for n, v in watch_ids if v))


def _read(source: Mapping[str, str], name: str) -> str:
    """`name` from `source`, or the content of the file `name_FILE` points at."""
    value = source.get(name, "")
    file_name = source.get(f"{name}_FILE", "")
    if not value and file_name:
        try:
            value = Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise SecretsError(f"{name}_FILE: cannot read the file: {err.strerror}") from None
        except UnicodeDecodeError:
            raise SecretsError(f"{name}_FILE: the file is not UTF-8 text") from None
    try:
        # An environment of undecodable bytes reaches Python as lone surrogates, which
        # no request, log line or file could carry.
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SecretsError(f"{name}: not UTF-8 text") from None
    return value.strip()


def _check_channel_id(name: str, value: str) -> None:
    if value and not _SNOWFLAKE.fullmatch(value):
        raise SecretsError(f"{name}: expected a numeric channel id (Discord: right-click "
                           "the channel → Copy Channel ID)")


def _check_url(name: str, value: str, schemes: tuple[str, ...], example: str) -> None:
    """A redirect must be a URL with one of `schemes` and a host (the value is not shown:
    a proxy's URL may hold a password)."""
    if not value:
        return
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - reading it checks it: a port beyond 65535 is refused
    except ValueError:  # e.g. "ws://[::1/": an unclosed IPv6 bracket
        parts = None
    if parts is None or parts.scheme not in schemes or not parts.hostname \
            or any(c.isspace() for c in value):
        raise SecretsError(f"{name}: expected a URL such as {example} "
                           f"({' or '.join(s + '://' for s in schemes)}, with a host)")


def redact(text: str, secrets: Secrets) -> str:
    """`text` with every secret value in it replaced by `***` (longest first, so a secret
    holding another is hidden whole)."""
    for value in sorted(secrets.values(), key=len, reverse=True):
        text = text.replace(value, "***")
    return text


class RedactingFilter(logging.Filter):
    """Replaces every secret value in a log record's message and arguments with `***`."""

    def __init__(self, secrets: Secrets) -> None:
        super().__init__()
        self._values = sorted(secrets.values(), key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._values:
            message = record.getMessage()
            for value in self._values:
                message = message.replace(value, "***")
            record.msg, record.args = message, None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                for value in self._values:
                    record.exc_text = record.exc_text.replace(value, "***")
        return True

