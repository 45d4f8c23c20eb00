"""A local fake of Discord for bots: the REST routes a bot uses and the gateway websocket.

The real discord.py client talks to it over HTTP and a plain `ws://` websocket on
127.0.0.1 (ephemeral port), speaking Discord's real protocol:

* REST under `/api/v10`: `GET /users/@me`, `GET /oauth2/applications/@me`,
  `GET /gateway` and `/gateway/bot`, `GET /channels/{id}`, `GET /guilds/{id}` and
  `GET /guilds/{id}/members/{user id}` (the bot's own member only),
  `POST /channels/{id}/messages`, `PATCH /channels/{id}/messages/{message id}` (edit the
  bot's own message: 404 Unknown Message, code 10008, for one that does not exist or was
  deleted with `delete_message`), `PUT /applications/{id}/commands` (command sync),
  `POST /interactions/{id}/{token}/callback` and the interaction's follow-up
  `POST /webhooks/{application id}/{token}`. Every request needs `Authorization: Bot
  <token>` (401 otherwise, as Discord answers), except the two interaction routes, which
  the interaction's token in the path authorises. JSON goes out with `Content-Type`
  exactly `application/json` — discord.py reads nothing else as JSON — and a 429
  carries `Via` (without it discord.py takes the 429 for a Cloudflare ban).
* Files come as Discord takes them: `multipart/form-data` with a `payload_json` part (the
  JSON body) and one `files[n]` part per file, each with a filename; `attachments` in the
  JSON may name them (`{"id": n, "filename": …}`, `id` = the `n` of `files[n]`). The
  fake records each file's bytes (`Recorded.files`), refuses a file over 10 MiB with 413,
  and answers with the message's `attachments` and its embeds' `attachment://name` urls
  turned into CDN urls, as Discord does. It is stricter than Discord in one way: an embed
  url `attachment://name` that names no attached file is refused with 400 (Discord would
  post the message with a broken image), so a test sees the mistake.
* Attaching files needs the Attach Files permission: with `attach_files_allowed = False`
  a post or an interaction answer carrying files gets 403 Missing Permissions (50013),
  and the bot's role no longer lists Attach Files.
* Permissions as Discord stores them: roles with permission bits (@everyone: View Channel;
  the bot's managed role: what the invite link grants, `BOT_ROLE_PERMISSIONS`) and each
  channel's `permission_overwrites` (`overwrites`, by channel id; the display channel
  allows the bot's role Read Message History). Overwrites are only what channel reads
  return: the fake enforces no permission but Attach Files.
* An interaction is answered once (a second callback: 400, "already acknowledged"); a
  follow-up needs a callback first and a token the fake issued (404 otherwise).
* Gateway at `/gateway`: HELLO (op 10) → the client's heartbeats get ACKs (op 11) →
  IDENTIFY (op 2; a wrong token closes with 4004, a privileged intent the application
  lacks closes with 4014) → READY → GUILD_CREATE; RESUME (op 6) gets RESUMED, or
  INVALID_SESSION (op 9) when the test made the session unresumable. The test injects
  MESSAGE_CREATE and INTERACTION_CREATE, and can drop the websocket.
* Like Discord, a person's MESSAGE_CREATE in a guild carries their `member` object with
  their role ids (GUILD_CREATE lists those roles, so discord.py can resolve them), the
  text is empty unless the session asked for the Message Content intent, and every
  message the bot posts comes back to it as a MESSAGE_CREATE of its own. A reply
  (`message_reference`) to a message that does not exist is refused with 400 unless it
  says `fail_if_not_exists: false`; content over 2000 characters is refused with 400.

Everything received is recorded; `wait_until(predicate)` waits for a condition with a
timeout (never for time to pass). `message_replies` holds faults to answer the next
message posts with (503, 429, 403, 404, a reset connection).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web

API = "/api/v10"
#: Discord's flag bits for the Message Content intent on an application (granted, or
#: granted below 100 servers without verification) and in IDENTIFY's `intents`.
FLAG_GATEWAY_MESSAGE_CONTENT = 1 << 18
FLAG_GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19
INTENT_MESSAGE_CONTENT = 1 << 15
#: How long a test waits for what it expects at most: generous, as a loaded CI machine may
#: be slow, and a passing test never waits this long.
WAIT_SECONDS = 30.0
MAX_CONTENT_CHARS = 2000
#: Discord's upload limit for a server without boosts (also `attachment_size_limit`).
MAX_FILE_BYTES = 10 * 1024 * 1024
CDN = "https://cdn.discordapp.com/attachments"
_FILE_FIELD = re.compile(r"files\[(\d+)\]")
#: Permission bits (Discord's `permissions` integers).
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
#: What the invite link of docs/discord-bot.md grants the bot's role (52224).
BOT_ROLE_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES
#: Overwrite targets, as in a channel's `permission_overwrites[].type`.
OVERWRITE_ROLE = 0
OVERWRITE_MEMBER = 1


@dataclass(frozen=True)
class Reply:
    """A canned answer to the next message post: a status, a body, extra headers."""

    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False  # close the connection without answering
    via: bool = True  # Discord's own 429s carry `Via`; Cloudflare's ban does not

    @classmethod
    def rate_limited(cls, retry_after: float, is_global: bool = False) -> Reply:
        return cls(429, {"message": "You are being rate limited.", "retry_after": retry_after,
                         "global": is_global},
                   {"Retry-After": str(int(retry_after)), "X-RateLimit-Scope": "user",
                    **({"X-RateLimit-Global": "true"} if is_global else {})})

    @classmethod
    def connection_reset(cls) -> Reply:
        return cls(0, reset=True)


@dataclass(frozen=True)
class AttachedFile:
    """One `files[n]` part of a multipart request, as received."""

    index: int
    filename: str
    content_type: str
    data: bytes


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    authorization: str
    body: Any  # the JSON body; of a multipart request, its `payload_json`
    status: int = 0  # what the fake answered (0 while the request is being handled)
    files: list[AttachedFile] = field(default_factory=list)

    def file(self, filename: str) -> bytes:
        """The bytes of the attached file of that name (KeyError if none)."""
        names = _attached_names(_message_of(self.path, self.body), self.files)
        return next(f.data for f in self.files if names[f.index] == filename)


@dataclass
class _Interaction:
    id: str
    channel_id: str
    response_type: int | None = None  # the callback's type, once answered


@dataclass
class _Connection:
    ws: web.WebSocketResponse
    seq: int = 0
    session_id: str = ""
    intents: int = 0
    identified: asyncio.Event = field(default_factory=asyncio.Event)


def _snowflakes() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: str(1_200_000_000_000_000_000 + next(counter))


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


class FakeDiscord:
    """Discord for one bot in one guild with three text channels (monitoring, display,
    general) the bot can see, one it cannot, and two roles besides @everyone."""

    def __init__(self, *, token: str = "fake.bot-token.Zz9", message_content_granted: bool = True,
                 advertise_message_content: bool | None = None,
                 heartbeat_interval_ms: int = 41250) -> None:
        self.token = token
        self.message_content_granted = message_content_granted
        # What the application's flags claim, which can disagree with what the gateway
        # enforces (a toggle flipped off while the hub was starting).
        self.advertise_message_content = message_content_granted \
            if advertise_message_content is None else advertise_message_content
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self._next_id = _snowflakes()
        self.application_id = self._next_id()
        self.bot_user = {"id": self.application_id, "username": "hub-bot", "discriminator": "0",
                         "global_name": None, "avatar": None, "bot": True, "flags": 0}
        self.guild_id = self._next_id()
        self.monitor_channel_id = self._next_id()
        self.other_channel_id = self._next_id()
        self.display_channel_id = self._next_id()
        self.hidden_channel_id = self._next_id()  # exists, but the bot may not see it
        self.family_role_id = self._next_id()
        self.guest_role_id = self._next_id()
        self.bot_role_id = self._next_id()  # the managed role Discord gives an invited bot
        #: Each channel's `permission_overwrites`, by channel id.
        self.overwrites: dict[str, list[dict[str, Any]]] = {
            self.display_channel_id: [overwrite(self.bot_role_id, allow=READ_MESSAGE_HISTORY)]}
        self._messages: dict[str, str] = {}  # id -> channel id, of every message posted
        self._bot_messages: dict[str, dict[str, Any]] = {}  # id -> the bot's message, as now
        self.message_replies: list[Reply] = []
        self.attach_files_allowed = True  # the bot's Attach Files permission
        self.requests: list[Recorded] = []
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.heartbeats = 0
        self.commands: list[dict[str, Any]] = []
        self._interactions: dict[str, _Interaction] = {}  # by token
        self.resumable = True
        self._sessions: set[str] = set()
        self._session_intents: dict[str, int] = {}  # a resumed session keeps its intents
        self._connections: list[_Connection] = []
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle ---------------------------------------------------------------

    async def __aenter__(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # the bound port is only known after start
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for conn in list(self._connections):
            await conn.ws.close(code=1001)
        assert self._runner is not None
        await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # --- what the tests look at -----------------------------------------------------

    def posts_to(self, channel_id: str) -> list[dict[str, Any]]:
        """Bodies of the messages accepted in a channel, in order."""
        return [r.body for r in self.requests
                if r.method == "POST" and r.path == f"{API}/channels/{channel_id}/messages"
                and r.status == 200]

    def embeds_in(self, channel_id: str) -> list[dict[str, Any]]:
        return [e for body in self.posts_to(channel_id) for e in body.get("embeds", [])]

    def message_posts(self, channel_id: str) -> list[Recorded]:
        """The accepted message posts in a channel, in order, with their files."""
        return [r for r in self.requests
                if r.method == "POST" and r.path == f"{API}/channels/{channel_id}/messages"
                and r.status == 200]

    def edits_in(self, channel_id: str) -> list[Recorded]:
        """The edits (PATCH) of messages in a channel, in order, whatever became of them."""
        prefix = f"{API}/channels/{channel_id}/messages/"
        return [r for r in self.requests if r.method == "PATCH" and r.path.startswith(prefix)]

    def bot_message_ids(self, channel_id: str) -> list[str]:
        """Ids of the messages the bot posted in a channel (and not deleted), in order."""
        return [mid for mid, m in self._bot_messages.items() if m["channel_id"] == channel_id]

    def message(self, message_id: str) -> dict[str, Any]:
        """The bot's message as it stands now (edits applied)."""
        return self._bot_messages[message_id]

    def delete_message(self, message_id: str) -> None:
        """Someone deleted the message by hand: edits of it get 404 Unknown Message."""
        self._messages.pop(message_id, None)
        self._bot_messages.pop(message_id, None)

    def interaction_callbacks(self) -> list[dict[str, Any]]:
        """Bodies of the interaction responses Discord accepted, in order."""
        return [r.body for r in self.interaction_requests() if "/interactions/" in r.path]

    def followups(self) -> list[dict[str, Any]]:
        """Bodies of the accepted interaction follow-ups (after a deferred response)."""
        return [r.body for r in self.interaction_requests() if "/webhooks/" in r.path]

    def interaction_requests(self) -> list[Recorded]:
        """Accepted interaction callbacks and follow-ups, in order, with their files."""
        return [r for r in self.requests
                if r.method == "POST" and r.status == 200
                and (r.path.startswith(f"{API}/interactions/")
                     or r.path.startswith(f"{API}/webhooks/{self.application_id}/"))]

    def requests_to(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == API + path]

    async def wait_until(self, predicate: Callable[[], bool],
                         within_seconds: float = WAIT_SECONDS) -> None:
        """Wait (on events, not on time) until `predicate()` holds; fail after the bound."""
        async with asyncio.timeout(within_seconds):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    def _note(self) -> None:
        self._changed.set()

    # --- what the tests do --------------------------------------------------------------

    async def user_message(self, channel_id: str, content: str, user_id: str = "4242",
                           username: str = "owner", bot: bool = False,
                           role_ids: Sequence[str] = (), nick: str | None = None,
                           deleted: bool = False,
                           embeds: Sequence[dict[str, Any]] = ()) -> str:
        """A person posts `content` in a channel: MESSAGE_CREATE to the connected bot.

        `deleted`: the person deletes it at once, before the bot can answer it. `embeds`:
        what bots and webhooks often post instead of (or besides) text."""
        conn = await self._live_connection()
        message_id = self._next_id()
        if not deleted:
            self._messages[message_id] = channel_id
        author = {"id": user_id, "username": username, "discriminator": "0",
                  "global_name": username, "avatar": None, **({"bot": True} if bot else {})}
        await self._dispatch(conn, "MESSAGE_CREATE", self._message_create(
            conn, message_id, channel_id, author, content, list(role_ids), nick,
            embeds=list(embeds)))
        return message_id

    def _message_create(self, conn: _Connection, message_id: str, channel_id: str,
                        author: dict[str, Any], content: str, role_ids: list[str],
                        nick: str | None = None, embeds: list[Any] | None = None,
                        reference: dict[str, Any] | None = None,
                        attachments: list[Any] | None = None) -> dict[str, Any]:
        # Without the Message Content intent Discord blanks the text (and embeds) of
        # messages that neither mention the bot nor are its own.
        readable = bool(conn.intents & INTENT_MESSAGE_CONTENT) \
            or author["id"] == self.bot_user["id"]
        return {
            "id": message_id, "channel_id": channel_id, "guild_id": self.guild_id,
            "author": author,
            "member": {"roles": role_ids, "nick": nick, "joined_at": _now_iso(),
                       "deaf": False, "mute": False, "flags": 0},
            "content": content if readable else "", "timestamp": _now_iso(),
            "edited_timestamp": None, "tts": False, "mention_everyone": False,
            "mentions": [], "mention_roles": [],
            "attachments": (attachments or []) if readable else [],
            "embeds": (embeds or []) if readable else [], "pinned": False,
            "type": 19 if reference else 0, "flags": 0,
            **({"message_reference": reference} if reference else {}),
        }

    async def slash_command(self, name: str, channel_id: str, user_id: str = "4242",
                            username: str = "owner", options: Mapping[str, str] | None = None,
                            role_ids: Sequence[str] = ()) -> str:
        """A person runs `/name` in a channel: INTERACTION_CREATE; returns its id.

        `options` are its string options as the person filled them in."""
        conn = await self._live_connection()
        # A person can only run a command the application has registered (at its start).
        await self.wait_until(lambda: any(c["name"] == name for c in self.commands))
        interaction_id = self._next_id()
        command = next(c for c in self.commands if c["name"] == name)
        token = f"interaction-token-{interaction_id}"
        self._interactions[token] = _Interaction(interaction_id, channel_id)
        await self._dispatch(conn, "INTERACTION_CREATE", {
            "id": interaction_id, "application_id": self.application_id, "type": 2,
            "data": {"id": command["id"], "name": name, "type": 1,
                     **({"options": [{"name": key, "type": 3, "value": value}
                                     for key, value in options.items()]} if options else {})},
            "guild_id": self.guild_id, "channel_id": channel_id,
            "channel": self._channel(channel_id),
            "member": {"user": {"id": user_id, "username": username, "discriminator": "0",
                                "global_name": username, "avatar": None},
                       "roles": list(role_ids), "joined_at": _now_iso(), "deaf": False,
                       "mute": False, "flags": 0, "permissions": "2147483647"},
            "token": token, "version": 1,
            "app_permissions": "2147483647", "locale": "en-US", "guild_locale": "en-US",
            "entitlements": [], "authorizing_integration_owners": {"0": self.guild_id},
            "context": 0, "attachment_size_limit": 10 * 1024 * 1024,
        })
        return interaction_id

    async def drop_connection(self, resumable: bool = True) -> None:
        """The gateway connection breaks (close 4000, which clients reconnect after).

        With `resumable=False` the session is forgotten, so the client's RESUME gets
        INVALID_SESSION and it has to IDENTIFY afresh (a new READY).
        """
        conn = await self._live_connection()
        if not resumable:
            self._sessions.discard(conn.session_id)
        await conn.ws.close(code=4000, message=b"unknown error")

    async def _live_connection(self) -> _Connection:
        await self.wait_until(lambda: any(c.identified.is_set() and not c.ws.closed
                                          for c in self._connections))
        return next(c for c in reversed(self._connections)
                    if c.identified.is_set() and not c.ws.closed)

    # --- gateway ----------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = _Connection(ws)
        self._connections.append(conn)
        await ws.send_str(json.dumps({"op": 10, "d": {
            "heartbeat_interval": self.heartbeat_interval_ms}, "s": None, "t": None}))
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                await self._on_op(conn, json.loads(msg.data))
        finally:
            self._connections.remove(conn)
            self._note()
        return ws

    async def _on_op(self, conn: _Connection, payload: dict[str, Any]) -> None:
        op, data = payload.get("op"), payload.get("d")
        if op == 1:
            self.heartbeats += 1
            await conn.ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
        elif op == 2:
            await self._identify(conn, data)
        elif op == 6:
            await self._resume(conn, data)
        self._note()

    async def _identify(self, conn: _Connection, data: dict[str, Any]) -> None:
        self.identifies.append(data)
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        intents = int(data.get("intents", 0))
        if intents & INTENT_MESSAGE_CONTENT and not self.message_content_granted:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        conn.intents = intents
        conn.session_id = f"session-{self._next_id()}"
        self._sessions.add(conn.session_id)
        self._session_intents[conn.session_id] = intents
        await self._dispatch(conn, "READY", {
            "v": 10, "user": self.bot_user, "guilds": [{"id": self.guild_id,
                                                        "unavailable": True}],
            "session_id": conn.session_id, "resume_gateway_url": self.gateway_url,
            "application": {"id": self.application_id, "flags": self._application_flags()},
            "private_channels": [], "relationships": [], "user_settings": {},
        })
        await self._dispatch(conn, "GUILD_CREATE", self._guild())
        conn.identified.set()

    async def _resume(self, conn: _Connection, data: dict[str, Any]) -> None:
        self.resumes.append(data)
        session = str(data.get("session_id"))
        if data.get("token") != self.token or session not in self._sessions \
                or not self.resumable:
            await conn.ws.send_str(json.dumps({"op": 9, "d": False, "s": None, "t": None}))
            return
        conn.session_id = session
        conn.intents = self._session_intents.get(session, 0)
        await self._dispatch(conn, "RESUMED", {})
        conn.identified.set()

    async def _dispatch(self, conn: _Connection, event: str, data: dict[str, Any]) -> None:
        conn.seq += 1
        await conn.ws.send_str(json.dumps({"op": 0, "t": event, "s": conn.seq, "d": data}))

    def _application_flags(self) -> int:
        return FLAG_GATEWAY_MESSAGE_CONTENT_LIMITED if self.advertise_message_content else 0

    @property
    def _visible_channels(self) -> tuple[str, ...]:
        return (self.monitor_channel_id, self.other_channel_id, self.display_channel_id)

    def _channel(self, channel_id: str) -> dict[str, Any]:
        names = {self.monitor_channel_id: "hub-monitoring", self.other_channel_id: "general",
                 self.display_channel_id: "kitchen-display",
                 self.hidden_channel_id: "staff-only"}
        return {"id": channel_id, "type": 0, "guild_id": self.guild_id,
                "name": names.get(channel_id, "channel"), "position": 0,
                "permission_overwrites": list(self.overwrites.get(channel_id, [])),
                "nsfw": False, "parent_id": None,
                "topic": None, "last_message_id": None, "rate_limit_per_user": 0, "flags": 0}

    def _guild(self) -> dict[str, Any]:
        return {
            "id": self.guild_id, "name": "Home", "icon": None, "owner_id": "4242",
            "unavailable": False, "large": False, "member_count": 2, "joined_at": _now_iso(),
            "roles": [_role(self.guild_id, "@everyone", 0, VIEW_CHANNEL),
                      _role(self.family_role_id, "family", 1),
                      _role(self.guest_role_id, "guests", 2),
                      _role(self.bot_role_id, "hub-bot", 3, self._bot_role_permissions(),
                            managed=True)],
            "channels": [self._channel(c) for c in self._visible_channels],
            "members": [self._bot_member()],
            "emojis": [], "stickers": [], "features": [], "voice_states": [], "presences": [],
            "threads": [], "stage_instances": [], "guild_scheduled_events": [],
            "premium_tier": 0, "preferred_locale": "en-US", "system_channel_flags": 0,
            "verification_level": 0, "default_message_notifications": 0,
            "explicit_content_filter": 0, "mfa_level": 0, "nsfw_level": 0, "afk_timeout": 300,
        }

    def _bot_role_permissions(self) -> int:
        return BOT_ROLE_PERMISSIONS if self.attach_files_allowed \
            else BOT_ROLE_PERMISSIONS & ~ATTACH_FILES

    def _bot_member(self) -> dict[str, Any]:
        return {"user": self.bot_user, "roles": [self.bot_role_id], "joined_at": _now_iso(),
                "deaf": False, "mute": False, "flags": 0}

    def _rest_guild(self) -> dict[str, Any]:
        """`GET /guilds/{id}`: the guild without what only the gateway sends."""
        gateway_only = ("channels", "members", "voice_states", "presences", "threads",
                        "stage_instances", "guild_scheduled_events", "joined_at", "large",
                        "member_count", "unavailable")
        return {k: v for k, v in self._guild().items() if k not in gateway_only}

    # --- REST -----------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        body: Any = None
        files: list[AttachedFile] = []
        refused: web.Response | None = None
        if request.content_type == "multipart/form-data":
            body, files, refused = await _read_multipart(request)
        elif request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw and request.content_type == "application/json" \
                else raw.decode(errors="replace")
        record = Recorded(request.method, request.path, dict(request.query),
                          request.headers.get("Authorization", ""), body, files=files)
        self.requests.append(record)
        response = refused or await self._answer(request, record)
        record.status = response.status
        self._note()
        return response

    async def _answer(self, request: web.Request, record: Recorded) -> web.StreamResponse:
        route = request.path[len(API):]
        body = record.body
        # Interaction callbacks and follow-ups are authorised by the interaction's token
        # in the path, not by the bot token (Discord: "does not require authentication").
        if record.authorization != f"Bot {self.token}" \
                and not route.startswith(("/interactions/", "/webhooks/")):
            return _json(401, {"message": "401: Unauthorized", "code": 0})
        parts = route.strip("/").split("/")
        if request.method == "POST" and (parts[0] in ("channels", "interactions", "webhooks")):
            message = _message_of(request.path, body)
            if not isinstance(message, dict):
                return _form_error({"_errors": [{"code": "DICT_TYPE_CONVERT",
                                                 "message": "Only dictionaries may be used."}]})
            refused = _attachment_refusal(message, record.files)
            if refused is not None:
                return refused
            if record.files and not self.attach_files_allowed:
                return _json(403, {"message": "Missing Permissions", "code": 50013})
        if request.method == "GET" and route == "/users/@me":
            return _json(200, self.bot_user)
        if request.method == "GET" and route == "/oauth2/applications/@me":
            return _json(200, self._application())
        if request.method == "GET" and route in ("/gateway", "/gateway/bot"):
            return _json(200, {"url": self.gateway_url, "shards": 1, "session_start_limit": {
                "total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}})
        if request.method == "GET" and parts[0] == "channels" and len(parts) == 2:
            return self._get_channel(parts[1])
        if request.method == "GET" and parts[:2] == ["guilds", self.guild_id]:
            if len(parts) == 2:
                return _json(200, self._rest_guild())
            if parts[2:] == ["members", self.bot_user["id"]]:
                return _json(200, self._bot_member())
            if parts[2:3] == ["members"] and len(parts) == 4:
                return _json(404, {"message": "Unknown Member", "code": 10007})
        if request.method == "POST" and parts[0] == "channels" and parts[2:] == ["messages"]:
            return await self._post_message(request, parts[1], body, record.files)
        if request.method == "PATCH" and parts[0] == "channels" and len(parts) == 4 \
                and parts[2] == "messages":
            return self._edit_message(parts[1], parts[3], body)
        if request.method == "PUT" and parts[0] == "applications" and parts[2:] == ["commands"]:
            return self._sync_commands(body)
        if request.method == "POST" and parts[0] == "interactions" and parts[3:] == ["callback"]:
            return self._interaction_callback(parts[1], parts[2], body, record.files)
        if request.method == "POST" and parts[0] == "webhooks" and len(parts) == 3:
            return self._followup(parts[1], parts[2], body, record.files)
        return _json(404, {"message": "404: Not Found", "code": 0})

    def _application(self) -> dict[str, Any]:
        return {"id": self.application_id, "name": "hub-bot", "icon": None,
                "description": "", "rpc_origins": [], "bot_public": False,
                "bot_require_code_grant": False, "bot": self.bot_user,
                "owner": {"id": "4242", "username": "owner", "discriminator": "0",
                          "avatar": None, "global_name": "owner"},
                "summary": "", "verify_key": "0" * 64, "team": None,
                "flags": self._application_flags(), "interactions_endpoint_url": None,
                "redirect_uris": [], "approximate_guild_count": 1}

    def _get_channel(self, channel_id: str) -> web.Response:
        if channel_id in self._visible_channels:
            return _json(200, self._channel(channel_id))
        if channel_id == self.hidden_channel_id:
            return _json(403, {"message": "Missing Access", "code": 50001})
        return _json(404, {"message": "Unknown Channel", "code": 10003})

    async def _post_message(self, request: web.Request, channel_id: str, body: Any,
                            files: list[AttachedFile]) -> web.StreamResponse:
        if self.message_replies:
            reply = self.message_replies.pop(0)
            if reply.reset:
                assert request.transport is not None
                request.transport.abort()
                return web.Response(status=500)  # never reaches the client
            headers = {**reply.headers, **({"Via": "1.1 google"} if reply.via else {})}
            return _json(reply.status, reply.body or {"message": "error", "code": 0}, headers)
        if channel_id not in self._visible_channels:
            return self._get_channel(channel_id) if channel_id == self.hidden_channel_id \
                else _json(404, {"message": "Unknown Channel", "code": 10003})
        assert isinstance(body, dict)
        refused = self._refusal(channel_id, body)
        if refused is not None:
            return _form_error(refused)
        reference = body.get("message_reference")
        if reference is not None \
                and self._messages.get(str(reference.get("message_id"))) != channel_id:
            reference = None  # fail_if_not_exists false: posted as a plain message
        message_id = self._next_id()
        self._messages[message_id] = channel_id
        attachments, embeds = self._uploaded(channel_id, body, files)
        message = {
            "id": message_id, "channel_id": channel_id, "guild_id": self.guild_id,
            "author": self.bot_user, "content": body.get("content", ""),
            "timestamp": _now_iso(), "edited_timestamp": None, "tts": False,
            "mention_everyone": False, "mentions": [], "mention_roles": [],
            "attachments": attachments, "embeds": embeds, "pinned": False,
            "type": 19 if reference else 0, "flags": 0,
            **({"message_reference": {**reference, "type": 0}} if reference else {}),
        }
        self._bot_messages[message_id] = message
        # Discord tells every session of the bot about its own message, as it does for
        # anyone's: a bot that answered itself would loop here.
        for conn in [c for c in self._connections
                     if c.identified.is_set() and not c.ws.closed]:
            await self._dispatch(conn, "MESSAGE_CREATE", self._message_create(
                conn, message_id, channel_id, self.bot_user, message["content"], [],
                embeds=message["embeds"], reference=message.get("message_reference"),
                attachments=message["attachments"]))
        return _json(200, message, {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "4",
                                    "X-RateLimit-Reset-After": "1.0",
                                    "X-RateLimit-Bucket": "fake-channel-messages"})

    def _edit_message(self, channel_id: str, message_id: str, body: Any) -> web.Response:
        message = self._bot_messages.get(message_id)
        if message is None or message["channel_id"] != channel_id:
            return _json(404, {"message": "Unknown Message", "code": 10008})
        assert isinstance(body, dict)
        for key in ("content", "embeds"):
            if key in body:
                message[key] = body[key] if body[key] is not None else message[key]
        message["edited_timestamp"] = _now_iso()
        return _json(200, message)

    def _refusal(self, channel_id: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Discord's form errors for a message it would refuse, or None."""
        content = body.get("content") or ""
        if len(content) > MAX_CONTENT_CHARS:
            return {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH",
                                             "message": "Must be 2000 or fewer in length."}]}}
        reference = body.get("message_reference")
        if reference is not None:
            known = self._messages.get(str(reference.get("message_id"))) == channel_id
            if not known and reference.get("fail_if_not_exists", True):
                return {"message_reference": {"_errors": [{
                    "code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                    "message": "Unknown message"}]}}
        return None

    def _sync_commands(self, body: Any) -> web.Response:
        assert isinstance(body, list)
        self.commands = [{**c, "id": self._next_id(), "application_id": self.application_id,
                          "version": self._next_id(), "type": c.get("type", 1)} for c in body]
        return _json(200, self.commands)

    def _interaction_callback(self, interaction_id: str, token: str, body: Any,
                              files: list[AttachedFile]) -> web.Response:
        interaction = self._interactions.get(token)
        if interaction is None or interaction.id != interaction_id:
            return _json(404, {"message": "Unknown interaction", "code": 10062})
        if interaction.response_type is not None:
            return _json(400, {"message": "Interaction has already been acknowledged.",
                               "code": 40060})
        response_type = int(body.get("type", 4))
        interaction.response_type = response_type
        data = body.get("data") or {}
        ephemeral = bool(int(data.get("flags", 0) or 0) & 64)
        message = self._bot_message(interaction.channel_id, data, files, message_type=20)
        return _json(200, {
            "interaction": {"id": interaction_id, "type": 2,
                            "response_message_id": message["id"],
                            "response_message_loading": response_type == 5,
                            "response_message_ephemeral": ephemeral},
            "resource": {"type": response_type, "message": message},
        })

    def _followup(self, application_id: str, token: str, body: Any,
                  files: list[AttachedFile]) -> web.Response:
        interaction = self._interactions.get(token)
        if application_id != self.application_id or interaction is None \
                or interaction.response_type is None:
            return _json(404, {"message": "Unknown Webhook", "code": 10015})
        message = self._bot_message(interaction.channel_id, body, files, message_type=20)
        return _json(200, {**message, "webhook_id": self.application_id,
                           "application_id": self.application_id})

    def _bot_message(self, channel_id: str, data: dict[str, Any], files: list[AttachedFile],
                     message_type: int) -> dict[str, Any]:
        """The message the bot's post became, as Discord answers it."""
        message_id = self._next_id()
        attachments, embeds = self._uploaded(channel_id, data, files)
        return {"id": message_id, "channel_id": channel_id, "author": self.bot_user,
                "content": data.get("content", ""), "timestamp": _now_iso(),
                "edited_timestamp": None, "tts": False, "mention_everyone": False,
                "mentions": [], "mention_roles": [], "attachments": attachments,
                "embeds": embeds, "pinned": False, "type": message_type,
                "flags": data.get("flags", 0)}

    def _uploaded(self, channel_id: str, message: dict[str, Any], files: list[AttachedFile]
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The message's attachment objects, and its embeds with `attachment://` urls
        pointing at them on the CDN, as Discord stores them."""
        names = _attached_names(message, files)
        attachments = []
        urls = {}
        for attached in files:
            attachment_id = self._next_id()
            name = names[attached.index]
            url = f"{CDN}/{channel_id}/{attachment_id}/{name}"
            urls[f"attachment://{name}"] = url
            attachments.append({"id": attachment_id, "filename": name,
                                "size": len(attached.data), "url": url, "proxy_url": url,
                                "content_type": attached.content_type})
        embeds = []
        for embed in message.get("embeds") or []:
            embed = dict(embed)
            for key in _EMBED_URL_KEYS:
                part = embed.get(key)
                if isinstance(part, dict):
                    url_key = "url" if key in ("image", "thumbnail") else "icon_url"
                    if part.get(url_key) in urls:
                        embed[key] = {**part, url_key: urls[part[url_key]],
                                      "proxy_url": urls[part[url_key]]}
            embeds.append(embed)
        return attachments, embeds


#: Where an embed may point at an attached file (`attachment://name`).
_EMBED_URL_KEYS = ("image", "thumbnail", "author", "footer")


def _message_of(path: str, body: Any) -> Any:
    """The message in a request body: an interaction callback wraps it in `data`."""
    if "/interactions/" in path:
        return body.get("data") or {} if isinstance(body, dict) else body
    return body


async def _read_multipart(request: web.Request
                          ) -> tuple[Any, list[AttachedFile], web.Response | None]:
    """`payload_json` and the `files[n]` parts, or Discord's refusal of the form."""
    payload: Any = None
    files: list[AttachedFile] = []
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            return None, files, _form_error({"_errors": [{
                "code": "MULTIPART_NESTED", "message": "Nested multipart is not supported."}]})
        name = part.name or ""
        numbered = _FILE_FIELD.fullmatch(name)
        if name == "payload_json":
            try:
                payload = json.loads(await part.text())
            except ValueError:
                return None, files, _json(400, {"message": "400: Bad Request", "code": 50109})
        elif numbered is not None and part.filename:
            data = bytes(await part.read(decode=False))
            if len(data) > MAX_FILE_BYTES:
                return payload, files, _json(413, {"message": "Request entity too large",
                                                   "code": 40005})
            files.append(AttachedFile(int(numbered.group(1)), part.filename,
                                      part.headers.get("Content-Type", ""), data))
        else:
            return payload, files, _form_error({name or "_": {"_errors": [{
                "code": "MULTIPART_UNKNOWN_FIELD",
                "message": "Expected payload_json or files[n] with a filename."}]}})
    if payload is None:
        return None, files, _json(400, {"message": "Cannot send an empty message",
                                        "code": 50006})
    return payload, files, None


def _attached_names(message: Any, files: list[AttachedFile]) -> dict[int, str]:
    """Each uploaded file's name: its `attachments` entry's filename, else the part's."""
    names = {f.index: f.filename for f in files}
    if isinstance(message, dict):
        for entry in message.get("attachments") or []:
            if isinstance(entry, dict) and entry.get("filename") \
                    and str(entry.get("id")).isdigit() and int(entry["id"]) in names:
                names[int(entry["id"])] = str(entry["filename"])
    return names


def _attachment_refusal(message: dict[str, Any], files: list[AttachedFile]
                        ) -> web.Response | None:
    """Discord's 400 for `attachments` naming no upload; ours for a dangling
    `attachment://` url in an embed (see the module docstring)."""
    uploaded = {f.index for f in files}
    for i, entry in enumerate(message.get("attachments") or []):
        entry_id = str(entry.get("id")) if isinstance(entry, dict) else ""
        if not entry_id.isdigit() or int(entry_id) not in uploaded:
            return _form_error({"attachments": {str(i): {"_errors": [{
                "code": "ATTACHMENT_NOT_FOUND",
                "message": f"Attachment {entry_id or '?'} was not uploaded."}]}}})
    names = set(_attached_names(message, files).values())
    for i, embed in enumerate(message.get("embeds") or []):
        for key in _EMBED_URL_KEYS:
            part = embed.get(key) if isinstance(embed, dict) else None
            url = part.get("url") or part.get("icon_url") if isinstance(part, dict) else None
            if isinstance(url, str) and url.startswith("attachment://") \
                    and url.removeprefix("attachment://") not in names:
                return _form_error({"embeds": {str(i): {key: {"_errors": [{
                    "code": "ATTACHMENT_REFERENCE_UNKNOWN",
                    "message": f"{url} names no attached file "
                               f"(attached: {sorted(names) or 'none'})."}]}}}})
    return None


def _form_error(errors: dict[str, Any]) -> web.Response:
    return _json(400, {"message": "Invalid Form Body", "code": 50035, "errors": errors})


def _role(role_id: str, name: str, position: int, permissions: int = 0, *,
          managed: bool = False) -> dict[str, Any]:
    return {"id": role_id, "name": name, "permissions": str(permissions),
            "position": position, "color": 0, "hoist": False, "managed": managed,
            "mentionable": False, "flags": 0}


def overwrite(target_id: str, *, allow: int = 0, deny: int = 0,
              target_type: int = OVERWRITE_ROLE) -> dict[str, Any]:
    """One entry of a channel's `permission_overwrites`, as Discord sends it."""
    return {"id": target_id, "type": target_type, "allow": str(allow), "deny": str(deny)}


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    # Exactly `application/json`, no charset: discord.py parses nothing else as JSON.
    return web.Response(status=status, body=json.dumps(body).encode(),
                        headers={"Content-Type": "application/json", **(headers or {})})
