"""What the status page says, read off the HTML the real server sends."""

from __future__ import annotations

from html.parser import HTMLParser

from hub.web.server import StatusServer
from machines import HealthState
from tests.web.conftest import NOW, call, published, snap


class Details(HTMLParser):
    """The detail cell of each component's row: [(class, text)] of its spans."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[tuple[str, str]]] = {}
        self._component: str | None = None
        self._is_detail = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "tr" and values.get("data-component"):
            self._component = values["data-component"]
            self.rows[self._component or ""] = []
        elif tag == "td":
            self._is_detail = values.get("class") == "detail"
        elif tag == "span" and self._is_detail and self._component is not None:
            self.rows[self._component].append((values.get("class") or "", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._is_detail = False
        elif tag == "tr":
            self._component = None

    def handle_data(self, data: str) -> None:
        if self._is_detail and self._component is not None and self.rows[self._component]:
            cls, text = self.rows[self._component][-1]
            self.rows[self._component][-1] = (cls, text + data)


def details(page: str) -> dict[str, list[tuple[str, str]]]:
    parser = Details()
    parser.feed(page)
    return parser.rows


def page_of(*machines) -> str:
    status = published(*machines)
    reply = call(StatusServer("127.0.0.1:0", lambda: status, clock=lambda: NOW), "GET", "/")
    assert reply.status == 200
    return reply.text


def test_after_a_recovery_the_last_error_reads_as_resolved_not_as_a_failure():
    page = page_of(
        snap("nas", HealthState.RECOVERED, since=NOW - 60, last_error_type="timeout",
             last_error="no answer in 5 s"),
        snap("weather", HealthState.ALERTING, failures=4, last_error_type="http_503",
             last_error="503 Service Unavailable"),
        snap("router", HealthState.SUSPECT, failures=1, last_error_type="connect"))
    rows = details(page)
    assert ("resolved", "last error (before recovery): timeout: no answer in 5 s") \
        in rows["nas"]
    assert not [text for cls, text in rows["nas"] if cls == "error" and text]
    # an open incident, and a failure not yet alerted, keep the error in red
    assert ("error", "http_503: 503 Service Unavailable") in rows["weather"]
    assert ("error", "connect") in rows["router"]
    assert ".resolved { color: #495057; }" in page  # the page's neutral grey, not red


def test_a_healthy_component_shows_no_old_error():
    page = page_of(snap("bus", HealthState.HEALTHY, last_error_type="timeout",
                        last_error="no answer in 5 s"))
    assert [text for _, text in details(page)["bus"] if text] == []
