"""`[[monitor]] kind = "http"`: configuration and what one check reports."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from hub.config import ConfigError, load_config
from hub.sources.http import HttpCheck, check_http
from tests.fakes.target import Target


class Clock:
    """Advances by a fixed step each time it is read, so latency is known exactly."""

    def __init__(self, start: float = 1000.0, step: float = 0.25) -> None:
        self.now, self.step = start, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
def target() -> Iterator[Target]:
    with Target().running() as running:
        yield running


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def check_for(url: str, **overrides: object) -> HttpCheck:
    table = {"name": "web", "url": url, "timeout_seconds": 2, **overrides}
    return HttpCheck.from_table(table, Path("hub.toml"), 1)


def test_expected_status_is_a_success_with_latency(target, session):
    outcome = check_http(session, check_for(target.url), Clock())
    assert outcome.ok and outcome.component == "web"
    assert outcome.at == 1000.5 and outcome.latency_seconds == 0.25
    assert outcome.error_type == "" and outcome.detail == ""


def test_unexpected_status_is_a_failure_named_after_the_status(target, session):
    target.status = 503
    outcome = check_http(session, check_for(target.url), Clock())
    assert not outcome.ok
    assert outcome.error_type == "http_503"
    assert outcome.detail == "503 Service Unavailable (expected 200-399)"


def test_expect_status_accepts_single_codes_ranges_and_lists(target, session):
    target.status = 404
    assert check_http(session, check_for(target.url, expect_status=404), Clock()).ok
    assert check_http(session, check_for(target.url, expect_status=[200, "400-404"]),
                      Clock()).ok
    assert not check_http(session, check_for(target.url, expect_status="200-299"), Clock()).ok


def test_method_and_headers_are_sent(target, session):
    check = check_for(target.url, method="head", headers={"X-Probe": "divoom-hub"})
    assert check_http(session, check, Clock()).ok
    method, path, headers = target.requests[-1]
    assert (method, path, headers["X-Probe"]) == ("HEAD", "/health", "divoom-hub")


def test_a_hanging_target_is_a_timeout_not_a_hang(target, session):
    target.is_hanging = True
    outcome = check_http(session, check_for(target.url, timeout_seconds=0.2), Clock())
    assert (outcome.ok, outcome.error_type) == (False, "timeout")
    assert outcome.detail == "no answer within 0.2 s"


def test_nothing_listening_is_a_connect_failure(session):
    with socket.socket() as probe:  # a port that was free a moment ago and is closed now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outcome = check_http(session, check_for(f"http://127.0.0.1:{port}/"), Clock())
    assert (outcome.ok, outcome.error_type) == (False, "connect")
    assert outcome.detail == "connection refused"


def test_a_redirect_loop_is_its_own_error(target, session):
    outcome = check_http(session, check_for(f"{target.base}/loop"), Clock())
    assert (outcome.ok, outcome.error_type) == (False, "too_many_redirects")


@pytest.mark.parametrize(("line", "key"), [
    ("url = 'ftp://example.org'", "url"),
    ("url = 'http://x'\nevery_seconds = 0", "every_seconds"),
    ("url = 'http://x'\ntimeout_seconds = -1", "timeout_seconds"),
    ("url = 'http://x'\nmethod = 'DELETE'", "method"),
    ("url = 'http://x'\nexpect_status = '300-200'", "expect_status"),
    ("url = 'http://x'\nexpect_status = 700", "expect_status"),
    ("url = 'http://x'\nheaders = { X = 1 }", "headers"),
    ("url = 'http://x'\ncolour = 'red'", "colour"),
])
def test_bad_monitor_tables_name_the_file_and_key(tmp_path, line, key):
    path = tmp_path / "hub.toml"
    path.write_text(f"[[monitor]]\nkind = 'http'\nname = 'web'\n{line}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(path) in str(raised.value) and f"{key}:" in str(raised.value)


@pytest.mark.parametrize(("body", "expected"), [
    ("kind = 'smoke'\nname = 'x'", "kind: expected one of"),
    ("kind = 'http'\nname = 'Bus Stop'\nurl = 'http://x'", "name: expected a short lowercase"),
    ("kind = 'http'\nname = 'bus'\nurl = 'http://x'", "not used by a built-in component"),
])
def test_monitor_kind_and_name_are_checked(tmp_path, body, expected):
    path = tmp_path / "hub.toml"
    path.write_text(f"[[monitor]]\n{body}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=expected):
        load_config(path)


def test_two_monitors_cannot_share_a_name(tmp_path):
    path = tmp_path / "hub.toml"
    path.write_text("[[monitor]]\nkind = 'http'\nname = 'web'\nurl = 'http://a'\n"
                    "[[monitor]]\nkind = 'http'\nname = 'web'\nurl = 'http://b'\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=r"#2: name: 'web' is already used"):
        load_config(path)


def test_defaults_poll_every_minute_with_a_ten_second_timeout(tmp_path):
    path = tmp_path / "hub.toml"
    path.write_text("[[monitor]]\nkind = 'http'\nname = 'web'\nurl = 'https://x/'\n",
                    encoding="utf-8")
    (check,) = load_config(path).monitors
    assert (check.every_seconds, check.timeout_seconds, check.method) == (60.0, 10.0, "GET")
    assert check.expect_status == ((200, 399),)
