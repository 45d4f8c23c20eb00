"""Display messages: text posted in the display channel, shown on the dashboard.

`parse_post` turns what someone wrote into a `Post` or a `Clear` (pure); `MessageBoard`
holds the current message and keeps it in `<state_dir>/display-message.json`, so a
restart shows it again. Who may post is decided by `MessageSettings.allows` from the
`[messages]` section; nothing here ever reaches the monitoring side.

What people write in the display channel:

    Dinner at six!            shown until cleared (or for `expire_minutes`, if set)
    [30m] Back in half an hour   shown for 30 minutes (s, m, h and d are understood)
    clear                     removes the message
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.display.view import DisplayMessage
from hub.settings_table import Table

log = logging.getLogger(__name__)

#: More than four pages of five lines never fit the display; a longer post is cut.
MAX_TEXT_CHARS = 240
_EXPIRY = re.compile(r"^\[\s*(\d{1,5})\s*([smhd])\s*\]\s*", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
CLEAR_WORDS = ("clear", "tøm", "fjern")


@dataclass(frozen=True, slots=True)
class MessageSettings:
    """`[messages]`: who may post to the display, and for how long a post shows."""

    allowed_users: frozenset[int] = frozenset()
    allowed_roles: frozenset[int] = frozenset()
    expire_minutes: float = 0.0  # 0 = until cleared

    def allows(self, user_id: int, role_ids: Iterable[int]) -> bool:
        """Only listed users, or members holding a listed role; nobody when both are empty."""
        return user_id in self.allowed_users or not self.allowed_roles.isdisjoint(role_ids)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], path: Path | str) -> MessageSettings:
        reader = Table(path, "[messages]", table)
        reader.only_keys({"allowed_users", "allowed_roles", "expire_minutes"})

        def ids(key: str) -> frozenset[int]:
            value = table.get(key, [])
            # Discord ids are 64-bit snowflakes: TOML integers hold them, strings too.
            if not isinstance(value, list) or not all(
                    (isinstance(v, int) and not isinstance(v, bool) and v > 0)
                    or (isinstance(v, str) and v.isascii() and v.isdigit()) for v in value):
                raise reader.expected(key, "a list of Discord ids (right-click → Copy ID)",
                                      value)
            return frozenset(int(v) for v in value)

        expire = table.get("expire_minutes", 0)
        if isinstance(expire, bool) or not isinstance(expire, int | float) \
                or not 0 <= expire <= 525_600:
            raise reader.expected("expire_minutes", "minutes from 0 (never) to 525600", expire)
        return cls(allowed_users=ids("allowed_users"), allowed_roles=ids("allowed_roles"),
                   expire_minutes=float(expire))


@dataclass(frozen=True, slots=True)
class Post:
    message: DisplayMessage


@dataclass(frozen=True, slots=True)
class Clear:
    pass


def parse_post(text: str, author: str, at: float,
               settings: MessageSettings) -> Post | Clear | None:
    """What a display-channel message asks for; None when there is nothing to show."""
    stripped = text.strip()
    if stripped.lower() in CLEAR_WORDS:
        return Clear()
    expires_at = at + settings.expire_minutes * 60 if settings.expire_minutes else None
    match = _EXPIRY.match(stripped)
    if match:
        expires_at = at + int(match[1]) * _UNIT_SECONDS[match[2].lower()]
        stripped = stripped[match.end():]
    body = " ".join(stripped.split())[:MAX_TEXT_CHARS]
    if not body:
        return None
    return Post(DisplayMessage(text=body, author=author[:32], posted_at=at,
                               expires_at=expires_at))


class MessageBoard:
    """The current display message, kept on disk so that it survives a restart.

    Used from the daemon's loop only (the bot's handlers and the render tick share it).
    """

    def __init__(self, state_dir: Path) -> None:
        self._path = state_dir / "display-message.json"
        self._current = self._load()

    @property
    def path(self) -> Path:
        return self._path

    def current(self, now: float) -> DisplayMessage | None:
        message = self._current
        return message if message is not None and message.is_shown_at(now) else None

    def apply(self, request: Post | Clear) -> None:
        self._current = request.message if isinstance(request, Post) else None
        self._save()

    def _load(self) -> DisplayMessage | None:
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            log.warning("ignoring the saved display message in %s: %s", self._path, err)
            return None
        if raw is None:
            return None
        try:
            expires = raw.get("expires_at")
            return DisplayMessage(text=str(raw["text"]), author=str(raw["author"]),
                                  posted_at=float(raw["posted_at"]),
                                  expires_at=float(expires) if expires is not None else None)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            log.warning("ignoring the saved display message in %s: %r", self._path, err)
            return None

    def _save(self) -> None:
        message = self._current
        data = None if message is None else {
            "text": message.text, "author": message.author, "posted_at": message.posted_at,
            "expires_at": message.expires_at}
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self._path.parent, prefix=".display-message.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, ensure_ascii=False)
            os.replace(temp, self._path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


class DisplayChannel:
    """The display channel's rules: only this channel, only allowed people, and a short
    answer for the poster. Monitoring commands are never looked at here."""

    def __init__(self, channel_id: int, board: MessageBoard, settings: MessageSettings) -> None:
        self.channel_id = channel_id
        self._board = board
        self._settings = settings

    def on_message(self, channel_id: int, user_id: int, role_ids: Iterable[int], author: str,
                   text: str, at: float) -> str | None:
        """Apply a post; returns the answer for the poster, or None to stay silent."""
        if channel_id != self.channel_id:
            return None
        if not self._settings.allows(user_id, role_ids):
            log.info("display message from user %d refused: not in [messages] allowed_users "
                     "or allowed_roles", user_id)
            return ("🚫 Only people listed in the hub's [messages] allowed_users or "
                    "allowed_roles can post to the display.")
        request = parse_post(text, author, at, self._settings)
        if request is None:
            return None
        self._board.apply(request)
        if isinstance(request, Clear):
            return "🧹 Cleared from the display."
        return "✅ On the display" + (" until cleared." if request.message.expires_at is None
                                      else f" for {_duration(request.message.expires_at - at)}.")


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return f"{seconds:.0f} s"
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes / 60:.1f} h".replace(".0 h", " h")
