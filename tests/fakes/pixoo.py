"""A fake Pixoo 64: a real HTTP server on 127.0.0.1 speaking the device's JSON API.

It behaves like the device where it matters to the hub:

* `Draw/SendHttpGif` frames are decoded into 64×64 RGB images and recorded with their
  `PicID`; a frame is shown only if the GIF id was reset since power-on and its `PicID`
  is above the last one shown, otherwise it is acknowledged with `error_code 0` and
  dropped (as the real one drops it);
* after `lockup_after` frames without `Draw/ResetHttpGifId` it locks up: every `Draw/*`
  command hangs until `power_cycle()`, while `Channel/*` still answers (the wedge);
* `Channel/GetAllConf`, `Channel/SetBrightness`, `Draw/GetHttpGifId`,
  `Draw/ResetHttpGifId` as the device answers them.

The test can switch it `offline()` (connections refused) and back `online()`, make
every request `hang()`, answer `error_code != 0` (`fail_with`), answer non-JSON
(`garbage`), or serve at `/divoom_api` instead of `/post` (`api_path`). Hung requests
are released (the connection closed unanswered) by `power_cycle()`, `release()` and
`close()`. Waits are on a condition with a timeout, never sleeps.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

FRAME_BYTES = 64 * 64 * 3
#: What the device shows after power-on.
DEFAULT_BRIGHTNESS = 100
WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Frame:
    pic_id: int
    image: Image.Image


class _Server(ThreadingHTTPServer):
    # Handler threads are joined on close (after hung requests are released), so no
    # thread outlives the test.
    daemon_threads = False
    block_on_close = True


class FakePixoo:
    def __init__(self, *, lockup_after: int = 300, api_path: str = "/post") -> None:
        self.lockup_after = lockup_after
        self.api_path = api_path
        self._state = threading.Condition()
        self._release = threading.Event()
        # What the device did (read under no lock once the client call has returned).
        self.frames: list[Frame] = []
        self.dropped: list[int] = []  # PicIDs acknowledged but not shown
        self.commands: list[str] = []
        self.brightness = DEFAULT_BRIGHTNESS
        self.brightness_log: list[int] = []
        self.resets = 0
        self.power_cycles = 0
        self.hung = 0  # requests currently held open
        self.not_found: list[str] = []  # paths asked that the device does not serve
        # The device's own state.
        self.pushes_since_reset = 0
        self.is_locked = False
        self._was_reset = False
        self._last_pic_id = 0
        # What the test asked for.
        self.is_hanging = False
        self.error_code: Any = 0
        self.is_garbage = False
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self._serve()

    # -- addresses ------------------------------------------------------------------

    @property
    def address(self) -> str:
        """`host:port`, as a user writes `[pixoo] address`."""
        return f"127.0.0.1:{self.port}"

    # -- the test's controls --------------------------------------------------------

    def offline(self) -> None:
        """Stop listening: connections are refused until `online()`."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None and thread is not None:
            self._release.set()
            server.shutdown()
            server.server_close()
            thread.join(timeout=WAIT_SECONDS)
            self._release.clear()

    def online(self) -> None:
        if self._server is None:
            self._serve()

    def power_cycle(self) -> None:
        """Unplug and replug: unlocked, brightness and GIF id forgotten, hangs released."""
        with self._state:
            self.power_cycles += 1
            self.is_locked = False
            self.pushes_since_reset = 0
            self._was_reset = False
            self._last_pic_id = 0
            self.brightness = DEFAULT_BRIGHTNESS
        self.release()

    def hang(self) -> None:
        """Accept every request and never answer it (until released)."""
        self.is_hanging = True

    def release(self) -> None:
        """Close every held request unanswered; new ones are answered again."""
        self.is_hanging = False
        self._release.set()
        with self._state:
            self._state.wait_for(lambda: self.hung == 0, timeout=WAIT_SECONDS)
        self._release.clear()

    def fail_with(self, code: Any) -> None:
        """Answer every command with this `error_code` (0 = behave again)."""
        self.error_code = code

    def garbage(self, is_garbage: bool = True) -> None:
        """Answer 200 with an HTML body instead of JSON."""
        self.is_garbage = is_garbage

    def wait_for(self, predicate: Callable[[FakePixoo], bool]) -> bool:
        with self._state:
            return self._state.wait_for(lambda: predicate(self), timeout=WAIT_SECONDS)

    def close(self) -> None:
        self.offline()

    def __enter__(self) -> FakePixoo:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the device -----------------------------------------------------------------

    def _serve(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.path != fake.api_path:
                    with fake._state:
                        fake.not_found.append(self.path)
                    self._answer(404, b"Not Found", "text/plain")
                    return
                reply = fake._handle(body)
                if reply is None:  # hung, then released: close without an answer
                    self.close_connection = True
                    return
                status, payload, content_type = reply
                self._answer(status, payload, content_type)

            def _answer(self, status: int, payload: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                return

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="fake-pixoo", daemon=True)
        self._thread.start()

    def _hold(self) -> None:
        with self._state:
            self.hung += 1
            self._state.notify_all()
        self._release.wait(timeout=60)  # the test's timeout fires first
        with self._state:
            self.hung -= 1
            self._state.notify_all()

    def _handle(self, body: bytes) -> tuple[int, bytes, str] | None:
        try:
            request = json.loads(body)
            command = request["Command"]
        except (ValueError, KeyError, TypeError):
            return self._json({"error_code": "Request data illegal json"})
        with self._state:
            self.commands.append(command)
            self._state.notify_all()
            is_locked_out = self.is_locked and command.startswith("Draw/")
        if self.is_hanging or is_locked_out:
            self._hold()
            return None
        if self.is_garbage:
            return 200, b"<html><body>busy</body></html>", "text/html"
        if self.error_code != 0:
            return self._json({"error_code": self.error_code})
        with self._state:
            reply = self._command(command, request)
            self._state.notify_all()
        return self._json(reply)

    def _command(self, command: str, request: dict[str, Any]) -> dict[str, Any]:
        if command == "Channel/GetAllConf":
            return {"error_code": 0, "Brightness": self.brightness, "RotationFlag": 0,
                    "ClockTime": 60, "GalleryTime": 60, "SingleGalleyTime": 5,
                    "PowerOnChannelId": 1, "LightSwitch": 1, "Time24Flag": 1}
        if command == "Channel/SetBrightness":
            level = request.get("Brightness")
            if not isinstance(level, int) or not 0 <= level <= 100:
                return {"error_code": 1}
            self.brightness = level
            self.brightness_log.append(level)
            return {"error_code": 0}
        if command == "Draw/ResetHttpGifId":
            self.resets += 1
            self.pushes_since_reset = 0
            self._was_reset = True
            self._last_pic_id = 0
            return {"error_code": 0}
        if command == "Draw/GetHttpGifId":
            return {"error_code": 0, "PicId": self._last_pic_id}
        if command == "Draw/SendHttpGif":
            return self._frame(request)
        return {"error_code": "Request data illegal json"}

    def _frame(self, request: dict[str, Any]) -> dict[str, Any]:
        if (request.get("PicNum"), request.get("PicWidth"), request.get("PicOffset"),
                request.get("PicSpeed")) != (1, 64, 0, 1000):
            return {"error_code": 1}
        pic_id = request.get("PicID")
        try:
            data = base64.b64decode(request.get("PicData", ""), validate=True)
        except (binascii.Error, ValueError):
            return {"error_code": 1}
        if not isinstance(pic_id, int) or len(data) != FRAME_BYTES:
            return {"error_code": 1}
        self.pushes_since_reset += 1
        if self.pushes_since_reset >= self.lockup_after:
            self.is_locked = True  # this frame is the last one it takes
        if not self._was_reset or pic_id <= self._last_pic_id:
            self.dropped.append(pic_id)
            return {"error_code": 0}
        self._last_pic_id = pic_id
        self.frames.append(Frame(pic_id, Image.frombytes("RGB", (64, 64), data)))
        return {"error_code": 0}

    @staticmethod
    def _json(reply: dict[str, Any]) -> tuple[int, bytes, str]:
        return 200, json.dumps(reply).encode(), "application/json"


@contextmanager
def fake_pixoo(**kwargs: Any) -> Iterator[FakePixoo]:
    fake = FakePixoo(**kwargs)
    try:
        yield fake
    finally:
        fake.close()
