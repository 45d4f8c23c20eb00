"""Whatever arrives over HTTP, the status server answers below 500 and logs no error.

Two real servers with monitors and a diagnostics sink, one open (loopback, the default)
and one with an access token, serve every example on their own loop in a thread; each
example is one raw HTTP/1.1 request on a fresh connection, so paths, queries and
headers can hold bytes no HTTP client would send.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from hub.ingest.pings import HeartbeatMonitor
from hub.ingest.reports import RateLimits
from hub.notify.delivery import DeliveryStatus
from hub.sources.threshold import ThresholdMonitor
from hub.web.server import StatusServer
from machines import HealthState, Notice, Outcome
from tests.web.conftest import NOW, frame_png, published, raw_exchange, snap

TOKEN = "fuzz-token"
#: Enough for the limits never to be what refuses an example (they have their own tests).
GENEROUS = 10**9
#: Examples per test: the profile's (each is a request of a few milliseconds).
EXAMPLES = settings.default.max_examples


class ErrorRecords(logging.Handler):
    """Every record at ERROR or above, from any logger and any thread."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass(frozen=True)
class Running:
    open_port: int
    guarded_port: int  # the server that needs TOKEN
    errors: ErrorRecords


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    status = published(snap("bus", HealthState.HEALTHY),
                       snap("weather", HealthState.ALERTING, last_error_type="http_503",
                            last_error="[x](https://evil.example) ||s||"),
                       delivery=DeliveryStatus("webhook", "retrying", "503", 1, 1))
    notices: list[Notice] = []
    outcomes: list[Outcome] = []
    servers = [StatusServer(
        "127.0.0.1:0", lambda: status, frame_png=frame_png, report=outcomes.append,
        notify=notices.append, token=token, clock=lambda: NOW,
        rate_limits=RateLimits(per_service_per_minute=GENEROUS, total_per_minute=GENEROUS),
        heartbeats=[HeartbeatMonitor("nas", period_seconds=300, grace_seconds=60)],
        thresholds=[ThresholdMonitor("fridge", min_value=1, max_value=6),
                    ThresholdMonitor("sensor", max_value=3, url="http://127.0.0.1:9/x")])
        for token in ("", TOKEN)]
    errors = ErrorRecords()
    logging.getLogger().addHandler(errors)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fuzzed-servers")
    thread.start()
    try:
        for server in servers:
            asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=30)
        open_port, guarded_port = (int(s.url.rsplit(":", 1)[1]) for s in servers)
        yield Running(open_port, guarded_port, errors)
    finally:
        for server in servers:
            asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
        logging.getLogger().removeHandler(errors)


# -- what a request may hold ---------------------------------------------------------------

ROUTES = ["/", "/live", "/health", "/api/status", "/metrics", "/frame.png", "/timeline.png",
          "/ping/nas", "/ping/", "/api/metric/fridge", "/api/metric/sensor",
          "/api/metric/", "/api/notify", "/nope", "/api", "//api/notify"]
#: Text with what breaks naive handlers: surrogates, other digits, markup, controls.
nasty_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40) | \
    st.sampled_from(["²", "١٢", "１６", "8", "0", "17", "-1", "1" * 5000, "\ud800",
                     "[a](https://evil.example)", "# big", "||x||", "<@&1>", "\x00", ""])
raw_bytes = st.binary(max_size=60)


def encoded(text_or_bytes: str | bytes) -> str:
    data = (text_or_bytes if isinstance(text_or_bytes, bytes)
            else text_or_bytes.encode("utf-8", "surrogatepass"))
    return quote_from_bytes(data, safe="")


segment = st.builds(encoded, nasty_text | raw_bytes)
path = st.sampled_from(ROUTES) | st.builds(lambda route, tail: route + tail,
                                           st.sampled_from(ROUTES), segment)
query_key = st.sampled_from(["scale", "token", "v", "x"]) | segment
query_value = segment | st.sampled_from(["4", TOKEN, "1" * 500])
query = st.lists(st.tuples(st.builds(encoded, query_key) | query_key, query_value),
                 max_size=3).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs))

#: Header values: mostly what HTTP allows (any byte from space up, read as Latin-1), and
#: sometimes control bytes, but never CR or LF, which would end the header.
header_bytes = st.lists(st.integers(0x20, 0xFF), max_size=40).map(bytes) | \
    st.binary(max_size=20).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
content_type = st.sampled_from([
    b"application/json", b"application/json; charset=utf-8", b"APPLICATION/JSON",
    b"text/plain", b"application/x-www-form-urlencoded", b"multipart/form-data; boundary=x",
    b"application/json; charset=latin-1"]) | header_bytes
origin = st.sampled_from([b"http://evil.example", b"null", b"http://127.0.0.1"]) | header_bytes
authorization = st.sampled_from([f"Bearer {TOKEN}".encode(), b"Bearer wrong", b"Bearer ",
                                 b"Basic Zm9vOmJhcg=="]) \
    | header_bytes.map(lambda b: b"Bearer " + b)


def json_values() -> st.SearchStrategy[object]:
    leaves = (st.none() | st.booleans() | st.integers() | st.floats()
              | st.text(st.characters(codec=None), max_size=30))
    return st.recursive(leaves, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                        max_leaves=20)


def report_like() -> st.SearchStrategy[object]:
    return st.fixed_dictionaries(
        {"level": st.sampled_from(["info", "warning", "error", "critical", "fatal"]),
         "service": st.sampled_from(["backup", "nas", "Backup"]) | nasty_text,
         "message": nasty_text | st.text(max_size=3000)},
        optional={"details": st.dictionaries(nasty_text, json_values(), max_size=25)
                  | nasty_text | json_values()})


def as_json(document: object, ascii_only: bool) -> bytes:
    # allow_nan: NaN and Infinity are sent too, as a careless client would.
    return json.dumps(document, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


body = st.one_of(
    st.just(b""),
    st.binary(max_size=200),
    st.builds(as_json, json_values(), st.booleans()),
    st.builds(as_json, report_like(), st.booleans()),
    st.builds(as_json, report_like(), st.booleans()),
    st.builds(lambda value: b'{"value": ' + value + b"}",
              st.sampled_from([b"9" * 400, b"-" + b"9" * 5000, b"1e400", b"NaN", b"2.5",
                               b'"\\ud800"', b"[" * 3000])),
    st.integers(1, 8000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.sampled_from([b'{"level": "info", "service": "backup", "message": "\\ud800"}',
                     b'{"level": "info", "service": "backup", "message": "m", '
                     b'"details": {"\\udfff": 1}}']),
)


@dataclass(frozen=True)
class Fuzzed:
    is_guarded: bool  # sent to the server that needs TOKEN
    method: bytes
    target: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


POSTED = ["/api/notify", "/api/metric/fridge", "/ping/nas"]
#: Stands for the server's own origin, whose port is known only once it runs.
OWN_ORIGIN = b"<own>"


@st.composite
def requests(draw: st.DrawFn) -> Fuzzed:
    """Mostly requests that get past the token and the headers, so bodies are read."""
    method = draw(st.sampled_from([b"POST", b"POST", b"POST", b"GET", b"HEAD", b"PUT",
                                   b"DELETE", b"OPTIONS", b"PATCH"]))
    target = draw(st.sampled_from(POSTED) if method == b"POST" and draw(st.booleans())
                  else path)
    asked = draw(query)
    token = draw(st.sampled_from(["header", "header", "query", "none"]))
    if token == "query":
        asked = f"token={TOKEN}" + (f"&{asked}" if asked else "")
    if asked:
        target += "?" + asked
    headers: list[tuple[bytes, bytes]] = []
    if token == "header":
        headers.append((b"Authorization", f"Bearer {TOKEN}".encode()))
    elif draw(st.booleans()):
        headers.append((b"Authorization", draw(authorization)))
    if draw(st.integers(0, 3)):
        headers.append((b"Content-Type", draw(st.just(b"application/json") | content_type)))
    if not draw(st.integers(0, 3)):
        headers.append((b"Origin", draw(st.just(OWN_ORIGIN) | origin)))
    if draw(st.booleans()):
        headers.append((draw(st.sampled_from([b"Accept", b"X-Any", b"Cookie", b"Referer"])),
                        draw(header_bytes)))
    return Fuzzed(draw(st.booleans()), method, target.encode("ascii", "surrogateescape"),
                  tuple(headers), draw(body))


@st.composite
def posts(draw: st.DrawFn) -> Fuzzed:
    """Bodies for the POST endpoints, past the token and with the right Content-Type."""
    target = draw(st.sampled_from(POSTED))
    asked = draw(query)
    if asked:
        target += "?" + asked
    headers = [(b"Authorization", f"Bearer {TOKEN}".encode()),
               (b"Content-Type", draw(st.sampled_from([b"application/json",
                                                       b"application/json; charset=utf-8"])))]
    if draw(st.booleans()):
        headers.append((b"Origin", OWN_ORIGIN))
    return Fuzzed(draw(st.booleans()), b"POST", target.encode("ascii"), tuple(headers),
                  draw(body))


def send(running: Running, fuzzed: Fuzzed) -> tuple[int, bytes]:
    """One raw request on a fresh connection: (status, whole response)."""
    port = running.guarded_port if fuzzed.is_guarded else running.open_port
    head = [fuzzed.method + b" " + fuzzed.target + b" HTTP/1.1",
            f"Host: 127.0.0.1:{port}".encode(), b"Connection: close",
            f"Content-Length: {len(fuzzed.body)}".encode()]
    own = f"http://127.0.0.1:{port}".encode()
    head += [name + b": " + value.replace(OWN_ORIGIN, own) for name, value in fuzzed.headers]
    return raw_exchange(port, b"\r\n".join(head) + b"\r\n\r\n" + fuzzed.body)


def assert_refused_cleanly(running: Running, fuzzed: Fuzzed) -> int:
    before = len(running.errors.records)
    status, response = send(running, fuzzed)
    assert status < 500, response[:400]
    if status >= 400 and fuzzed.method != b"HEAD":  # an answer to HEAD has no body
        headers, _, text = response.partition(b"\r\n\r\n")
        assert text.strip(), "a refusal says why"
        if b"application/json" in headers:
            assert json.loads(text)["error"]
    assert running.errors.records[before:] == []
    return status


@seed(20240611)
@settings(max_examples=EXAMPLES, database=None)
@given(fuzzed=requests())
def test_no_request_gets_a_server_error_or_logs_an_error(running: Running, fuzzed: Fuzzed):
    assert_refused_cleanly(running, fuzzed)


@seed(20240612)
@settings(max_examples=EXAMPLES, database=None)
@given(fuzzed=posts())
def test_no_posted_body_gets_a_server_error_or_logs_an_error(running: Running,
                                                              fuzzed: Fuzzed):
    assert assert_refused_cleanly(running, fuzzed) in (202, 400, 404, 409)
