"""A local HTTP endpoint that answers what a test tells it to: a status, a redirect loop,
or nothing at all (a hang, released when the server stops)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Target:
    def __init__(self, status: int = 200) -> None:
        self.status = status  # the answer to any path but /loop; tests switch it
        self.is_hanging = False
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path, headers)
        self._release = threading.Event()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                target.requests.append((self.command, self.path, dict(self.headers)))
                if target.is_hanging:
                    target._release.wait(timeout=30)
                    return
                if self.path.startswith("/loop"):
                    self.send_response(302)
                    self.send_header("Location", "/loop")
                else:
                    self.send_response(target.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_HEAD = do_POST = _answer  # noqa: N815 - the stdlib's names

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.base}/health"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @contextmanager
    def running(self) -> Iterator[Target]:
        self._thread.start()
        try:
            yield self
        finally:
            self._release.set()
            self.server.shutdown()
            self.server.server_close()
            self._thread.join(timeout=5)
