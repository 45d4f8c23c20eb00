"""A local fake of Discord's webhook REST API, speaking the real protocol over HTTP.

It serves `POST /api/v10/webhooks/{id}/{token}` (execute; `?wait=true` answers the
message object), `GET /api/v10/webhooks/{id}/{token}` (the webhook object) and
`PATCH /api/v10/webhooks/{id}/{token}/messages/{message id}` (edit a message the webhook
posted: its embeds replaced, the message answered; an unknown or deleted message is 404
Unknown Message, code 10008) on 127.0.0.1 with an ephemeral port, and behaves like
Discord where the hub depends on it:

- bodies are validated against Discord's limits (≤ 10 embeds, ≤ 6000 characters over
  all embeds of a message, per-field limits, non-empty fields) and refused with HTTP 400
  and Discord's error JSON;
- a per-webhook bucket (default 5 requests per 2 s) and a global limit, with
  `X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket` headers, and 429 bodies
  `{"message", "retry_after", "global"}` with `X-RateLimit-Scope`, `Retry-After` and
  `Via` (a 429 without `Via` is a Cloudflare ban to Discord clients);
- a deleted webhook answers 404 (code 10015), a wrong token 401 (code 50027);
- JSON answers carry `Content-Type: application/json` exactly, as Discord does.

Faults are scripted per request (`fail_next`) or for every request (`fail_always`):
HTTP 500/502 from the proxy in front, a connection reset, a hang (no answer until the
fake stops), and "accepted, then the answer is lost" (the one case where a client
cannot know that its message went through). Every request is recorded with the loop
time it arrived at, so tests assert on exactly what arrived and when.

Time is the event loop's clock, so on a virtual-time loop the rate-limit windows are
virtual too. `ThreadedFakeDiscord` runs the same app on a real-time loop in a thread,
for tests where the client is another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import math
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_PREFIX = "/api/v10"
#: The wall-clock epoch the fake pretends its loop time 0 is (for `X-RateLimit-Reset`).
EPOCH_AT_LOOP_ZERO = 1_700_000_000.0


@dataclass(frozen=True, slots=True)
class Fault:
    """What the fake does to one request instead of (or after) serving it."""

    kind: str  # status | reset | hang | accept_then_reset | accept_then_hang | rate_limited
    status: int = 0
    retry_after: float = 0.0
    is_global: bool = False

    @classmethod
    def http(cls, status: int) -> Fault:
        """The proxy in front of Discord answers `status` (500, 502, 503 …)."""
        return cls("status", status=status)

    @classmethod
    def reset(cls) -> Fault:
        """The connection is reset before anything is answered; nothing is posted."""
        return cls("reset")

    @classmethod
    def hang(cls) -> Fault:
        """The request is read and never answered (until the fake stops); nothing posted."""
        return cls("hang")

    @classmethod
    def accept_then_reset(cls) -> Fault:
        """The message IS posted, then the connection is reset before the answer."""
        return cls("accept_then_reset")

    @classmethod
    def accept_then_hang(cls) -> Fault:
        """The message IS posted, then the answer never comes."""
        return cls("accept_then_hang")


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request as it arrived, and what the fake did with it."""

    at: float  # loop time of arrival
    method: str
    path: str
    query: dict[str, str]
    body: Any  # decoded JSON, or None
    status: int | None  # None when there was no answer (reset, hang)
    outcome: str  # posted | fetched | rate_limited | rejected | fault:<kind> | <error>


@dataclass(slots=True)
class _Window:
    limit: int
    per_seconds: float
    started_at: float = -math.inf
    used: int = 0

    def refresh(self, now: float) -> None:
        if now >= self.started_at + self.per_seconds:
            self.started_at, self.used = now, 0

    def reset_after(self, now: float) -> float:
        # Rounded up to the millisecond, as Discord does: a client that waits this long
        # arrives after the reset, never just before it.
        return math.ceil((self.started_at + self.per_seconds - now) * 1000) / 1000


@dataclass(slots=True)
class _State:
    requests: list[Recorded] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    #: Each message as it was posted, before any edit (`messages` shows them as they are).
    as_posted: list[dict[str, Any]] = field(default_factory=list)
    scripted: list[Fault] = field(default_factory=list)
    always: Fault | None = None
    deleted: bool = False
    token_revoked: bool = False
    reject_text: str | None = None
    posted: int = 0  # messages ever posted: ids stay unique when one is deleted


class FakeDiscord:
    """The fake webhook API on the running loop; `start()` it, `stop()` it."""

    def __init__(self, webhook_id: str = "1", token: str = "tok", *,
                 bucket_limit: int = 5, bucket_seconds: float = 2.0,
                 global_limit: int = 50, global_seconds: float = 1.0,
                 name: str = "hub alerts") -> None:
        self.webhook_id = webhook_id
        self.token = token
        self.name = name
        self.bucket_hash = "f4e3c2a1b0d9e8f7a6b5c4d3e2f1a0b9"
        self._bucket = _Window(bucket_limit, bucket_seconds)
        self._global = _Window(global_limit, global_seconds)
        self._state = _State()
        self._runner: web.AppRunner | None = None
        self._released: asyncio.Event | None = None
        self._changed: asyncio.Event | None = None
        self._on_record: Callable[[], None] = lambda: None
        self.port = 0

    # -- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        self._released = asyncio.Event()
        self._changed = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", API_PREFIX + "/webhooks/{id}/{token}", self._webhook)
        app.router.add_route("*", API_PREFIX + "/webhooks/{id}/{token}/messages/{message}",
                             self._message)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        # No access log: it would print the token that is part of every path.
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._released is not None:
            self._released.set()  # hung requests answer now, to nobody
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- what tests configure ---------------------------------------------------------

    @property
    def api_base(self) -> str:
        """What `DISCORD_API_BASE` is set to so the hub talks to this fake."""
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def webhook_url(self) -> str:
        """What `DISCORD_WEBHOOK_URL` is set to (the real form; the base redirects it)."""
        return f"https://discord.com/api/webhooks/{self.webhook_id}/{self.token}"

    def fail_next(self, *faults: Fault) -> None:
        """The next execute requests get these faults, one each, in order."""
        self._state.scripted.extend(faults)

    def fail_always(self, fault: Fault | None) -> None:
        """Every execute request gets `fault` (None: healthy again)."""
        self._state.always = fault

    def delete_webhook(self) -> None:
        self._state.deleted = True

    def revoke_token(self) -> None:
        self._state.token_revoked = True

    def reject_embeds_containing(self, text: str | None) -> None:
        """Refuse (HTTP 400) any message whose embeds contain `text`, as Discord refuses
        a body it considers invalid for reasons of its own."""
        self._state.reject_text = text

    def delete_message(self, message_id: str) -> None:
        """Someone deleted a posted message (by hand, in Discord): edits of it get 404."""
        self._state.messages = [m for m in self._state.messages if m["id"] != message_id]

    def use_bucket(self, requests: int) -> None:
        """Another client of the same webhook spends `requests` of the bucket now."""
        now = asyncio.get_running_loop().time()
        self._bucket.refresh(now)
        self._bucket.used += requests

    def use_global(self, requests: int) -> None:
        """Other traffic from the same host spends `requests` of the global limit now."""
        now = asyncio.get_running_loop().time()
        self._global.refresh(now)
        self._global.used += requests

    # -- what tests read --------------------------------------------------------------

    @property
    def requests(self) -> list[Recorded]:
        return list(self._state.requests)

    @property
    def executes(self) -> list[Recorded]:
        """Every execute (POST) request, whatever became of it."""
        return [r for r in self._state.requests if r.method == "POST"]

    @property
    def edits(self) -> list[Recorded]:
        """Every edit (PATCH) request, whatever became of it."""
        return [r for r in self._state.requests if r.method == "PATCH"]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The messages Discord posted in the channel, in order (with their `id`), as they
        stand now: edits applied, deleted ones gone."""
        return list(self._state.messages)

    @property
    def posted_messages(self) -> list[dict[str, Any]]:
        """Every message Discord posted, in order, as it was posted (before any edit)."""
        return list(self._state.as_posted)

    async def wait_for(self, condition: Callable[[FakeDiscord], bool],
                       timeout_seconds: float) -> None:
        """Wait (on the loop's clock) until `condition(self)` holds after some request."""
        assert self._changed is not None, "start() the fake first"
        async with asyncio.timeout(timeout_seconds):
            while not condition(self):
                self._changed.clear()
                await self._changed.wait()

    # -- the protocol -----------------------------------------------------------------

    def _record(self, request: web.Request, body: Any, status: int | None,
                outcome: str) -> None:
        self._state.requests.append(Recorded(
            at=asyncio.get_running_loop().time(), method=request.method,
            path=request.path, query=dict(request.query), body=body, status=status,
            outcome=outcome))
        if self._changed is not None:
            self._changed.set()
        self._on_record()

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        self._record(request, None, 404, "no_route")
        return _json(404, {"message": "404: Not Found", "code": 0})

    async def _webhook(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        if request.method == "GET":
            return self._get(request)
        if request.method != "POST":
            self._record(request, body, 405, "method_not_allowed")
            return _json(405, {"message": "405: Method Not Allowed", "code": 0})
        return await self._execute(request, body)

    async def _message(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body: Any = json.loads(raw) if raw else None
        if request.method != "PATCH":
            self._record(request, body, 405, "method_not_allowed")
            return _json(405, {"message": "405: Method Not Allowed", "code": 0})
        fault = self._state.scripted.pop(0) if self._state.scripted else self._state.always
        if fault is not None and fault.kind == "status":
            self._record(request, body, fault.status, "fault:status")
            return web.Response(status=fault.status, text=f"{fault.status} error",
                                content_type="text/html")
        loop_now = asyncio.get_running_loop().time()
        self._bucket.refresh(loop_now)
        if self._bucket.used >= self._bucket.limit:
            self._record(request, body, 429, "rate_limited:bucket")
            return self._too_many(self._bucket, loop_now, is_global=False)
        self._bucket.used += 1
        headers = self._bucket_headers(loop_now)
        refused = self._refuse_webhook(request, headers)
        if refused is not None:
            self._record(request, body, refused.status, "refused")
            return refused
        message = next((m for m in self._state.messages
                        if m["id"] == request.match_info["message"]), None)
        if message is None:
            self._record(request, body, 404, "unknown_message")
            return _json(404, {"message": "Unknown Message", "code": 10008}, headers)
        errors = _validate(body)
        if errors is not None:
            self._record(request, body, 400, "rejected")
            return _json(400, errors, headers)
        if "embeds" in body:
            message["embeds"] = body["embeds"]
        if "content" in body:
            message["content"] = body["content"]
        message["edited_timestamp"] = "2023-11-14T22:13:21.000000+00:00"
        self._record(request, body, 200, "edited")
        return _json(200, message, headers)

    def _get(self, request: web.Request) -> web.StreamResponse:
        refused = self._refuse_webhook(request)
        if refused is not None:
            self._record(request, None, refused.status, "refused")
            return refused
        self._record(request, None, 200, "fetched")
        return _json(200, {
            "application_id": None, "avatar": None, "channel_id": "200", "guild_id": "100",
            "id": self.webhook_id, "name": self.name, "type": 1, "token": self.token})

    async def _execute(self, request: web.Request, body: Any) -> web.StreamResponse:
        state = self._state
        fault = state.scripted.pop(0) if state.scripted else state.always
        if fault is not None and fault.kind in ("status", "reset", "hang"):
            # Faults of the path in front of Discord: nothing reached the API.
            status = fault.status if fault.kind == "status" else None
            self._record(request, body, status, f"fault:{fault.kind}")
            if fault.kind == "status":
                return web.Response(status=fault.status, text=f"{fault.status} error",
                                    content_type="text/html")
            if fault.kind == "reset":
                return await self._reset(request)
            return await self._hang()

        loop_now = asyncio.get_running_loop().time()
        self._global.refresh(loop_now)
        if self._global.used >= self._global.limit:
            self._record(request, body, 429, "rate_limited:global")
            return self._too_many(self._global, loop_now, is_global=True)
        self._bucket.refresh(loop_now)
        if self._bucket.used >= self._bucket.limit:
            self._record(request, body, 429, "rate_limited:bucket")
            return self._too_many(self._bucket, loop_now, is_global=False)
        self._global.used += 1
        self._bucket.used += 1
        headers = self._bucket_headers(loop_now)

        refused = self._refuse_webhook(request, headers)
        if refused is not None:
            self._record(request, body, refused.status, "refused")
            return refused
        errors = _validate(body)
        if errors is None and state.reject_text is not None \
                and state.reject_text in json.dumps(body.get("embeds", []), ensure_ascii=False):
            errors = {"code": 50035, "message": "Invalid Form Body", "errors": {"embeds": {
                "_errors": [{"code": "EMBED_INVALID", "message": "Invalid embed."}]}}}
        if errors is not None:
            self._record(request, body, 400, "rejected")
            return _json(400, errors, headers)

        message = self._post(body)
        if fault is not None and fault.kind == "accept_then_reset":
            self._record(request, body, None, "posted:then_reset")
            return await self._reset(request)
        if fault is not None and fault.kind == "accept_then_hang":
            self._record(request, body, None, "posted:then_hang")
            return await self._hang()
        self._record(request, body, 200 if request.query.get("wait") == "true" else 204,
                     "posted")
        if request.query.get("wait") != "true":
            return web.Response(status=204, headers=headers)
        return _json(200, message, headers)

    def _refuse_webhook(self, request: web.Request,
                        headers: dict[str, str] | None = None) -> web.Response | None:
        if request.match_info["id"] != self.webhook_id or self._state.deleted:
            return _json(404, {"message": "Unknown Webhook", "code": 10015}, headers)
        if request.match_info["token"] != self.token or self._state.token_revoked:
            return _json(401, {"message": "Invalid Webhook Token", "code": 50027}, headers)
        return None

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        self._state.posted += 1
        message = {
            "id": str(1_100_000_000_000_000_000 + self._state.posted),
            "type": 0, "channel_id": "200", "webhook_id": self.webhook_id,
            "author": {"id": self.webhook_id, "username": self.name, "bot": True,
                       "avatar": None, "discriminator": "0000"},
            "content": body.get("content", ""), "embeds": body.get("embeds", []),
            "attachments": [], "mentions": [], "mention_roles": [], "mention_everyone": False,
            "pinned": False, "tts": False, "flags": 0, "components": [],
            "timestamp": "2023-11-14T22:13:20.000000+00:00", "edited_timestamp": None,
        }
        self._state.messages.append(message)
        self._state.as_posted.append(copy.deepcopy(message))
        return message

    def _bucket_headers(self, now: float) -> dict[str, str]:
        window = self._bucket
        reset_after = window.reset_after(now)
        return {
            "X-RateLimit-Limit": str(window.limit),
            "X-RateLimit-Remaining": str(max(window.limit - window.used, 0)),
            "X-RateLimit-Reset": f"{EPOCH_AT_LOOP_ZERO + now + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.bucket_hash,
        }

    def _too_many(self, window: _Window, now: float, *, is_global: bool) -> web.Response:
        retry_after = window.reset_after(now)
        headers = {"Retry-After": str(math.ceil(retry_after)), "Via": "1.1 google",
                   "X-RateLimit-Scope": "global" if is_global else "user"}
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers.update(self._bucket_headers(now))
        return _json(429, {"message": "You are being rate limited.",
                           "retry_after": retry_after, "global": is_global}, headers)

    async def _reset(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None:  # linger 0: close with RST, not a polite FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        return web.Response(status=500)  # written to a closed transport: goes nowhere

    async def _hang(self) -> web.StreamResponse:
        assert self._released is not None
        await self._released.wait()
        return web.Response(status=500)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    # Exactly `application/json`, no charset: discord.py reads JSON only then.
    return web.Response(status=status, body=json.dumps(body).encode(),
                        headers={**(headers or {}), "Content-Type": "application/json"})


_LIMITS = {"title": 256, "description": 4096}


def _validate(body: Any) -> dict[str, Any] | None:
    """Discord's answer to an invalid execute body, or None when it is valid."""
    if not isinstance(body, dict):
        return {"code": 50109, "message": "The request body contains invalid JSON."}
    errors: dict[str, Any] = {}

    def error(path: tuple[str, ...], code: str, message: str) -> None:
        node = errors
        for part in path:
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    content = body.get("content") or ""
    if not isinstance(content, str) or len(content) > 2000:
        error(("content",), "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    embeds = body.get("embeds") or []
    if not isinstance(embeds, list) or len(embeds) > 10:
        error(("embeds",), "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        embeds = []
    total = 0
    for index, embed in enumerate(embeds):
        where = ("embeds", str(index))
        if not isinstance(embed, dict):
            error(where, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        for key, limit in _LIMITS.items():
            text = embed.get(key) or ""
            total += len(text)
            if len(text) > limit:
                error((*where, key), "BASE_TYPE_MAX_LENGTH",
                      f"Must be {limit} or fewer in length.")
        for key, sub, limit in (("footer", "text", 2048), ("author", "name", 256)):
            text = (embed.get(key) or {}).get(sub) or ""
            total += len(text)
            if len(text) > limit:
                error((*where, key, sub), "BASE_TYPE_MAX_LENGTH",
                      f"Must be {limit} or fewer in length.")
        fields = embed.get("fields") or []
        if len(fields) > 25:
            error((*where, "fields"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for number, item in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                text = item.get(key) or ""
                total += len(text)
                if not text.strip():
                    error((*where, "fields", str(number), key), "BASE_TYPE_REQUIRED",
                          "This field is required")
                elif len(text) > limit:
                    error((*where, "fields", str(number), key), "BASE_TYPE_MAX_LENGTH",
                          f"Must be {limit} or fewer in length.")
    if total > 6000:
        error(("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    if not content and not embeds and not errors:
        return {"code": 50006, "message": "Cannot send an empty message"}
    if errors:
        return {"code": 50035, "message": "Invalid Form Body", "errors": errors}
    return None


class ThreadedFakeDiscord:
    """The fake on a real-time loop in its own thread, for clients in other processes."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-discord",
                                        daemon=True)
        self._changed = threading.Condition()
        self._records = 0

    @contextlib.contextmanager
    def running(self) -> Iterator[ThreadedFakeDiscord]:
        self._thread.start()
        try:
            self.call(self.fake.start)
            self.fake._on_record = self._notify
            yield self
        finally:
            self.call(self.fake.stop)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    def call(self, function: Callable[[], Any]) -> Any:
        """Run `function` (plain or async) on the fake's loop and return its result."""
        async def run() -> Any:
            result = function()
            return await result if asyncio.iscoroutine(result) else result
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    def wait_until(self, condition: Callable[[FakeDiscord], bool],
                   timeout_seconds: float) -> bool:
        """Block until `condition(fake)` holds after some request; False on timeout."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            with self._changed:
                seen = self._records
            # Evaluated on the fake's loop, never while holding the condition's lock.
            if self.call(lambda: condition(self.fake)):
                return True
            with self._changed:
                if not self._changed.wait_for(lambda seen=seen: self._records != seen,
                                              timeout=deadline - time.monotonic()):
                    return bool(self.call(lambda: condition(self.fake)))

    def _notify(self) -> None:
        with self._changed:
            self._records += 1
            self._changed.notify_all()
