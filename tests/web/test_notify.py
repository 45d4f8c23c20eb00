"""Diagnostics from other apps: `POST /api/notify`, its limits, the helper, the command,
and what the notice looks like in Discord and on the console."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hub.app import DaemonInfo, run_daemon
from hub.cli import main
from hub.client import NotifyError, notify
from hub.config import load_config
from hub.ingest.reports import Level, RateLimits
from hub.notify.console import console_line
from hub.notify.delivery import DeliveryStatus
from hub.notify.embeds import NO_MENTIONS, embed_for, message_payload
from hub.notify.outbox import Outbox
from hub.secrets import Secrets
from hub.web.server import StatusServer
from machines import Notice, NoticeKind
from tests.web.conftest import NOW, Reply, published, request, serving

LISTEN = "127.0.0.1:0"


class Clock:
    """The server's injected clock: a test moves it, nothing sleeps."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def server_with(sink: list[Notice], clock: Callable[[], float] = lambda: NOW,
                **kwargs: Any) -> StatusServer:
    return StatusServer(LISTEN, lambda: published(), notify=sink.append, clock=clock,
                        **kwargs)


def post_all(server: StatusServer, bodies: list[Any], between: Callable[[int], None] | None
             = None, **kwargs: Any) -> list[Reply]:
    """POST each body (JSON, or raw bytes) in order, as `application/json` unless `headers`
    say otherwise; `between(i)` runs before the i-th."""
    headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}

    async def scenario(session: aiohttp.ClientSession, base: str) -> list[Reply]:
        replies = []
        for i, body in enumerate(bodies):
            if between is not None:
                between(i)
            if isinstance(body, bytes):
                replies.append(await request(session, "POST", base + "/api/notify",
                                             data=body, headers=headers, **kwargs))
            else:
                replies.append(await request(session, "POST", base + "/api/notify",
                                             json=body, headers=headers, **kwargs))
        return replies

    return serving(server, scenario)


def report(service: str = "backup", level: str = "warning", **extra: Any) -> dict[str, Any]:
    return {"level": level, "service": service, "message": "disk 91% full", **extra}


def metric_samples(server: StatusServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async def scenario(session: aiohttp.ClientSession, base: str) -> str:
        return (await request(session, "GET", base + "/metrics")).text

    text = serving(server, scenario)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


# -- the endpoint ------------------------------------------------------------------------

def test_a_report_is_accepted_with_202_and_reaches_the_sink_as_a_diagnostic_notice():
    sink: list[Notice] = []
    [reply] = post_all(server_with(sink), [report(details={"free": "12 GB", "disks": 3,
                                                           "degraded": True})])
    assert reply.status == 202
    assert reply.json() == {"accepted": True, "kind": "diagnostic", "service": "backup",
                            "level": "warning"}
    assert sink == [Notice(kind=NoticeKind.DIAGNOSTIC, component="backup", at=NOW,
                           error_type="warning", error_detail="disk 91% full",
                           details=(("free", "12 GB"), ("disks", "3"),
                                    ("degraded", "true")))]


def test_text_details_travel_as_one_unlabelled_pair_and_survive_the_outbox_round_trip():
    sink: list[Notice] = []
    trace = "Traceback (most recent call last):\n  File \"x.py\", line 1\nOSError: full"
    [reply] = post_all(server_with(sink), [report(level="error", details=trace)])
    assert reply.status == 202
    [notice] = sink
    assert notice.details == (("", trace),)
    assert Notice.from_dict(notice.to_dict()) == notice


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", 'expected a JSON object such as {"level": "warning", "service": "backup", '
                  '"message": "disk 91% full"}: Expecting value: line 1 column 1 (char 0)'),
    (b"\xff", 'expected a JSON object such as {"level": "warning", "service": "backup", '
              '"message": "disk 91% full"}: \'utf-8\' codec can\'t decode byte 0xff in '
              "position 0: invalid start byte"),
    (["info"], "expected a JSON object with level, service and message, got an array"),
    ({"service": "backup", "message": "m"}, "level: missing (expected level, service and "
                                            "message)"),
    (report(level="fatal"), "level: expected one of info, warning, error, critical, got "
                            "'fatal'"),
    (report(level=3), "level: expected a string, got a number"),
    ({"level": "info", "message": "m"}, "service: missing (expected level, service and "
                                        "message)"),
    (report(service=None), "service: expected a string, got null"),
    (report(service="<@everyone>"), "service: expected letters, digits, spaces and . _ : / - "
                                    "(starting with a letter or digit), got '<@everyone>'"),
    (report(service="s" * 65), "service: at most 64 characters, got 65"),
    ({"level": "info", "service": "backup"}, "message: missing (expected level, service and "
                                             "message)"),
    (report(message="   "), "message: must not be empty"),
    (report(message="m" * 2001), "message: at most 2000 characters, got 2001"),
    (report(details=[1, 2]), "details: expected an object of label → value or a string, got "
                             "an array"),
    (report(details={"nested": {"a": 1}}), "details.nested: expected text, a number or a "
                                           "boolean, got an object"),
    (report(details={" ": "x"}), "details: a label must have 1 to 64 characters, got ' '"),
    (report(details={str(i): i for i in range(21)}), "details: at most 20 entries, got 21"),
    (report(details="t" * 3488), "message and details: at most 3500 characters together "
                                 "(what one Discord message can show), got 3501"),
    (report(details={"log": "x" * 1000, "more": "y" * 1000, "and": "z" * 1000, "so": "w" * 490}),
     "message and details: at most 3500 characters together (what one Discord message can "
     "show), got 3515"),
    (b"[" * 7000 + b"]" * 7000, 'expected a JSON object such as {"level": "warning", "service": '
                                '"backup", "message": "disk 91% full"}: nested deeper than 64 '
                                "levels"),
    (b'{"level": "info", "service": "backup", "message": "\\ud800"}',
     'expected a JSON object such as {"level": "warning", "service": "backup", "message": '
     '"disk 91% full"}: a string holds a lone surrogate (such as \\ud800): it is not text'),
    (b'{"level": "info", "service": "backup", "message": "m", "details": {"\\udfff": 1}}',
     'expected a JSON object such as {"level": "warning", "service": "backup", "message": '
     '"disk 91% full"}: a string holds a lone surrogate (such as \\ud800): it is not text'),
    (b'{"level": "info", "service": "backup", "message": "m", "details": {"n": ' + b"9" * 400
     + b"}}", 'expected a JSON object such as {"level": "warning", "service": "backup", '
              '"message": "disk 91% full"}: a number with 400 digits is out of range'),
    (report(colour="red"), "unknown field 'colour' (expected level, service, message and "
                           "optionally details)"),
])
def test_a_malformed_report_is_400_naming_the_field_and_queues_nothing(body, message):
    sink: list[Notice] = []
    server = server_with(sink)
    [reply] = post_all(server, [body])
    assert reply.status == 400
    assert reply.json() == {"error": message}
    assert sink == []
    samples = metric_samples(server)
    assert samples[("divoom_hub_diagnostics_refused_total", (("reason", "invalid"),))] == 1


def test_a_refused_report_spends_no_rate_limit_token():
    sink: list[Notice] = []
    surrogate = b'{"level": "info", "service": "backup", "message": "\\ud800"}'
    nested = b"[" * 7000 + b"]" * 7000
    bodies: list[Any] = [surrogate] * 6 + [nested] * 6 + [report()] * 6
    replies = post_all(server_with(sink), bodies)
    # 5 a minute for a service: the five after the refusals all pass, the sixth does not
    assert [r.status for r in replies] == [400] * 12 + [202] * 5 + [429]
    assert len(sink) == 5


def test_a_report_at_the_limits_in_four_byte_characters_is_accepted_and_one_more_is_not():
    sink: list[Notice] = []
    at_limit = report(message="😀" * 2000, details="ø" * 1500)
    over = report(message="😀" * 2000, details="ø" * 1501)
    bodies = [json.dumps(r, ensure_ascii=False).encode() for r in (at_limit, over)]
    assert len(bodies[0]) < 16 * 1024
    accepted, refused = post_all(server_with(sink), bodies)
    assert accepted.status == 202
    assert (refused.status, refused.json()) == (400, {
        "error": "message and details: at most 3500 characters together (what one Discord "
                 "message can show), got 3501"})
    [notice] = sink
    assert embed_for(notice, "shelf-pi")["description"] == ("😀" * 2000 + "\n```\n"
                                                            + "ø" * 1500 + "\n```")


def test_an_oversized_report_is_413_and_queues_nothing():
    sink: list[Notice] = []
    [reply] = post_all(server_with(sink), [report(details="x" * 20000)])
    assert reply.status == 413
    assert sink == []


def test_a_server_without_a_sink_says_it_takes_no_diagnostics():
    server = StatusServer(LISTEN, lambda: published(), clock=lambda: NOW)
    [reply] = post_all(server, [report()])
    assert reply.status == 503
    assert reply.json() == {"error": "this server takes no diagnostics (nothing to send "
                                     "them to)"}


# -- from a web page ------------------------------------------------------------------------

def test_a_web_page_cannot_post_a_report_even_as_plain_text():
    sink: list[Notice] = []
    server = server_with(sink)
    body = json.dumps(report()).encode()
    replies = [
        # what a page's fetch() may send anywhere without the browser asking first
        *post_all(server, [body], headers={"Content-Type": "text/plain",
                                           "Origin": "http://evil.example"}),
        *post_all(server, [report()], headers={"Origin": "http://evil.example"}),
        *post_all(server, [body], headers={"Content-Type": "text/plain"}),
        *post_all(server, [body], headers={"Content-Type": "application/x-www-form-urlencoded"}),
    ]
    assert [r.status for r in replies] == [403, 403, 415, 415]
    assert replies[0].json() == {"error": "refusing a cross-origin POST: Origin "
                                          "'http://evil.example' is not this server (a web "
                                          "page may not post here; scripts send no Origin "
                                          "header)"}
    assert replies[2].json() == {"error": "expected Content-Type: application/json, got "
                                          "'text/plain'"}
    assert sink == []


def test_a_report_with_a_charset_or_from_the_page_itself_is_accepted():
    sink: list[Notice] = []

    async def scenario(session: aiohttp.ClientSession, base: str) -> list[Reply]:
        body = json.dumps(report()).encode()
        return [
            await request(session, "POST", base + "/api/notify", data=body,
                          headers={"Content-Type": "application/json; charset=utf-8"}),
            await request(session, "POST", base + "/api/notify", data=body,
                          headers={"Content-Type": "application/json", "Origin": base}),
        ]

    assert [r.status for r in serving(server_with(sink), scenario)] == [202, 202]
    assert len(sink) == 2


# -- while delivery is stopped ---------------------------------------------------------------

STOPPED = DeliveryStatus("webhook", "stopped", "webhook deleted (404)", 3, 1)
STOPPED_WARNING = ("delivery via webhook is stopped (webhook deleted (404)): the report is "
                   "kept and will be sent once delivery works again")


def test_a_report_while_delivery_is_stopped_is_kept_and_the_answer_says_so():
    sink: list[Notice] = []
    server = StatusServer(LISTEN, lambda: published(delivery=STOPPED), notify=sink.append,
                          clock=lambda: NOW)
    [reply] = post_all(server, [report()])
    assert reply.status == 202
    assert reply.json() == {"accepted": True, "kind": "diagnostic", "service": "backup",
                            "level": "warning", "warning": STOPPED_WARNING}
    assert len(sink) == 1


def test_a_report_while_delivery_retries_has_no_warning():
    sink: list[Notice] = []
    retrying = DeliveryStatus("webhook", "retrying", "503 (attempt 2)", 3, 1)
    server = StatusServer(LISTEN, lambda: published(delivery=retrying), notify=sink.append,
                          clock=lambda: NOW)
    [reply] = post_all(server, [report()])
    assert reply.status == 202 and "warning" not in reply.json()


# -- rate limits -------------------------------------------------------------------------

def test_a_service_over_its_limit_gets_429_with_retry_after_and_nothing_is_queued():
    sink: list[Notice] = []
    clock = Clock()
    server = server_with(sink, clock)
    replies = post_all(server, [report()] * 6 + [report(service="nas")])
    assert [r.status for r in replies] == [202] * 5 + [429, 202]
    refused = replies[5]
    # 5 a minute: one token comes back every 12 s
    assert refused.headers["Retry-After"] == "12"
    assert refused.json() == {"error": "too many diagnostics (5 a minute for backup): nothing "
                                       "was queued; try again in 12 s",
                              "retry_after_seconds": 12}
    assert [n.component for n in sink] == ["backup"] * 5 + ["nas"]
    samples = metric_samples(server)
    assert samples[("divoom_hub_diagnostics_refused_total", (("reason", "rate_limited"),))] == 1
    assert samples[("divoom_hub_diagnostics_refused_total", (("reason", "invalid"),))] == 0


def test_a_refused_service_is_accepted_again_once_its_retry_after_has_passed():
    sink: list[Notice] = []
    clock = Clock()
    times = {6: NOW + 11.0, 7: NOW + 12.0, 8: NOW + 12.0}

    def advance(i: int) -> None:
        clock.now = times.get(i, clock.now)

    replies = post_all(server_with(sink, clock), [report()] * 9, between=advance)
    assert [r.status for r in replies] == [202] * 5 + [429, 429, 202, 429]
    assert replies[6].headers["Retry-After"] == "1"  # 11 s of the 12 have passed
    assert [n.at for n in sink] == [NOW] * 5 + [NOW + 12.0]


def test_the_total_limit_holds_across_services_and_case_does_not_make_a_new_service():
    sink: list[Notice] = []
    clock = Clock()
    limits = RateLimits(per_service_per_minute=2, total_per_minute=4)
    server = server_with(sink, clock, rate_limits=limits)
    bodies = [report("a"), report("A"), report("a"), report("b"), report("c"), report("d"),
              report("e")]
    replies = post_all(server, bodies)
    assert [r.status for r in replies] == [202, 202, 429, 202, 202, 429, 429]
    assert replies[2].json()["error"].startswith("too many diagnostics (2 a minute for a)")
    assert replies[5].json()["error"] == ("too many diagnostics (4 a minute in all): nothing "
                                          "was queued; try again in 15 s")
    assert replies[5].headers["Retry-After"] == "15"
    assert [n.component for n in sink] == ["a", "A", "b", "c"]


# -- access ------------------------------------------------------------------------------

def test_with_a_token_a_report_needs_it_even_from_loopback():
    sink: list[Notice] = []
    server = server_with(sink, token="s3cret-token")
    [without] = post_all(server, [report()])
    assert without.status == 401
    assert sink == []
    [with_token] = post_all(server, [report()],
                            headers={"Authorization": "Bearer s3cret-token"})
    assert with_token.status == 202
    assert len(sink) == 1


# -- the helper and the command ----------------------------------------------------------

def in_thread_beside(server: StatusServer, blocking: Callable[[str], Any]) -> Any:
    """Run blocking client code (urllib) in a worker thread while `server` serves."""

    async def main_task() -> Any:
        async with server:
            return await asyncio.get_running_loop().run_in_executor(None, blocking,
                                                                    server.url)

    return asyncio.run(main_task())


def test_the_helper_sends_a_report_that_reaches_the_sink():
    sink: list[Notice] = []
    answer = in_thread_beside(server_with(sink), lambda url: notify(
        "critical", "backup", "disk full", {"free": "0 B"}, url=url, timeout=5))
    assert answer == {"accepted": True, "kind": "diagnostic", "service": "backup",
                      "level": "critical"}
    assert sink == [Notice(kind=NoticeKind.DIAGNOSTIC, component="backup", at=NOW,
                           error_type="critical", error_detail="disk full",
                           details=(("free", "0 B"),))]


def test_the_helper_raises_a_clear_error_for_a_refusal_a_rate_limit_and_a_wrong_token():
    sink: list[Notice] = []

    def attempts(url: str) -> list[NotifyError]:
        errors = []
        for call in (lambda: notify("fatal", "backup", "m", url=url),
                     lambda: notify("info", "backup", "m", url=url, token="wrong"),
                     *[lambda: notify("info", "backup", "m", url=url, token="tok")] * 6):
            try:
                call()
            except NotifyError as err:
                errors.append(err)
        return errors

    bad_level, wrong_token, limited = in_thread_beside(server_with(sink, token="tok"),
                                                       attempts)
    assert wrong_token.status == 401
    assert str(wrong_token).startswith("the hub refused the diagnostic (HTTP 401): an access "
                                       "token is required")
    assert bad_level.status == 401  # no token at all: refused before it is read
    assert (limited.status, limited.retry_after_seconds) == (429, 12.0)
    assert str(limited) == ("the hub refused the diagnostic (HTTP 429): too many diagnostics "
                            "(5 a minute for backup): nothing was queued; try again in 12 s")
    assert len(sink) == 5


def test_the_helper_names_the_field_a_400_is_about():
    sink: list[Notice] = []

    def attempt(url: str) -> NotifyError:
        with pytest.raises(NotifyError) as caught:
            notify("fatal", "backup", "m", url=url)
        return caught.value

    error = in_thread_beside(server_with(sink), attempt)
    assert error.status == 400
    assert str(error) == ("the hub refused the diagnostic (HTTP 400): level: expected one of "
                          "info, warning, error, critical, got 'fatal'")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_helper_says_when_the_hub_cannot_be_reached():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(NotifyError, match=f"^cannot reach the hub at {url}: ") as caught:
        notify("info", "backup", "m", url=url, timeout=5)
    assert caught.value.status is None


def test_the_notify_command_sends_with_the_token_from_the_environment(monkeypatch, tmp_path,
                                                                     capsys):
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("HUB_HTTP_TOKEN", "tok")
    sink: list[Notice] = []
    code = in_thread_beside(server_with(sink, token="tok"), lambda url: main(
        ["notify", "error", "backup", "it broke", "-d", "free=2 GB", "-d", "path=/srv",
         "--url", url]))
    assert code == 0
    assert capsys.readouterr().out == "sent: error from backup\n"
    assert sink == [Notice(kind=NoticeKind.DIAGNOSTIC, component="backup", at=NOW,
                           error_type="error", error_detail="it broke",
                           details=(("free", "2 GB"), ("path", "/srv")))]


def test_the_helper_and_the_command_show_that_delivery_is_stopped(monkeypatch, tmp_path,
                                                                   capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUB_HTTP_TOKEN", raising=False)
    sink: list[Notice] = []

    def both(url: str) -> tuple[dict[str, Any], int]:
        return notify("error", "backup", "it broke", url=url), main(
            ["notify", "error", "backup", "it broke", "--url", url])

    server = StatusServer(LISTEN, lambda: published(delivery=STOPPED), notify=sink.append,
                          clock=lambda: NOW)
    answer, code = in_thread_beside(server, both)
    assert answer["warning"] == STOPPED_WARNING
    assert code == 0
    assert capsys.readouterr() == ("sent: error from backup\n",
                                   f"divoom-hub notify: warning: {STOPPED_WARNING}\n")
    assert len(sink) == 2


def test_the_helper_sends_text_as_utf8_so_a_report_at_the_limits_fits():
    sink: list[Notice] = []
    answer = in_thread_beside(server_with(sink), lambda url: notify(
        "info", "backup", "😀" * 2000, "æ" * 1500, url=url))
    assert answer["accepted"] is True
    assert sink[0].error_detail == "😀" * 2000


def test_the_notify_command_fails_clearly(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUB_HTTP_TOKEN", raising=False)
    assert main(["notify", "info", "backup", "m", "-d", "no-equals-sign"]) == 2
    assert capsys.readouterr().err == ("divoom-hub notify: --detail: expected LABEL=VALUE, "
                                       "got 'no-equals-sign'\n")
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["notify", "info", "backup", "m", "--url", url]) == 1
    assert capsys.readouterr().err.startswith(f"divoom-hub notify: cannot reach the hub at "
                                              f"{url}: ")
    with pytest.raises(SystemExit) as caught:
        main(["notify", "fatal", "backup", "m"])
    assert caught.value.code == 2
    assert "invalid choice: 'fatal'" in capsys.readouterr().err


def test_the_notify_command_offers_exactly_the_levels_the_hub_accepts(capsys):
    with pytest.raises(SystemExit):
        main(["notify", "--help"])
    assert "{" + ",".join(level.value for level in Level) + "}" in capsys.readouterr().out


# -- how it looks ----------------------------------------------------------------------------

def diagnostic(level: str, message: str = "disk 91% full", service: str = "backup",
               details: tuple[tuple[str, str], ...] = ()) -> Notice:
    return Notice(kind=NoticeKind.DIAGNOSTIC, component=service, at=NOW, error_type=level,
                  error_detail=message, details=details)


@pytest.mark.parametrize(("level", "mark", "colour"), [
    ("info", "🔵", 0x3498DB),
    ("warning", "🟠", 0xFFA500),
    ("error", "🔴", 0xFF0000),
    ("critical", "🚨", 0x8B0000),
])
def test_the_embed_is_coloured_by_level_and_titled_with_the_service(level, mark, colour):
    embed = embed_for(diagnostic(level, details=(("free", "12 GB"),)), "shelf-pi")
    assert embed == {
        "title": f"{mark} backup: {level}",
        "description": "disk 91% full",
        "color": colour,
        "fields": [{"name": "free", "value": "12 GB", "inline": True}],
        "footer": {"text": "shelf-pi · reported by backup"},
        "timestamp": "2023-11-14T22:13:20+00:00",
    }


def test_the_embed_shows_untrusted_text_sanitized_truncated_and_pinging_nobody():
    message = "@everyone \u202eevil\x00 " + "m" * 5000
    embed = embed_for(diagnostic("error", message=message,
                                 details=(("who\x07", "<@&123>\x1b[31m"),)), "shelf-pi")
    assert embed["description"].startswith("@everyone evil mmm")
    assert len(embed["description"]) == 4096 and embed["description"].endswith("…")
    assert embed["fields"][0] == {"name": "who", "value": "<@&123>[31m", "inline": True}
    assert message_payload([embed])["allowed_mentions"] == NO_MENTIONS


def test_a_traceback_follows_the_message_in_a_code_block_it_cannot_break_out_of():
    trace = "```\nbreak out\n```" + "\n" * 3 + "x" * 5000
    embed = embed_for(diagnostic("error", message="it failed", details=(("", trace),)),
                      "shelf-pi")
    description = embed["description"]
    assert description.startswith("it failed\n```\n`ˋ`\nbreak out")
    assert description.endswith("x…\n```") and len(description) == 4096
    assert description.count("```") == 2  # the text cannot close the block early
    assert embed["fields"] == []


def test_an_unknown_stored_level_is_shown_as_info():
    assert embed_for(diagnostic("verbose"), "shelf-pi")["color"] == 0x3498DB


@pytest.mark.parametrize(("details", "line"), [
    ((), "22:13:20  DIAGNOSTIC backup     WARNING: disk 91% full"),
    ((("free", "12 GB"), ("mount", "/srv")),
     "22:13:20  DIAGNOSTIC backup     WARNING: disk 91% full (free: 12 GB, mount: /srv)"),
    ((("", "Traceback\n  line 1\nOSError"),),
     "22:13:20  DIAGNOSTIC backup     WARNING: disk 91% full (Traceback line 1 OSError)"),
])
def test_the_console_line_says_level_message_and_details_on_one_line(details, line):
    assert console_line(diagnostic("warning", details=details), ZoneInfo("UTC")) == line


# -- in the daemon ---------------------------------------------------------------------------

def test_the_daemon_puts_a_report_through_its_outbox_to_the_console(tmp_path):
    config_path = tmp_path / "hub.toml"
    config_path.write_text('[hub]\nname = "test-hub"\nstate_dir = "state"\n'
                           'http_listen = "127.0.0.1:0"\n', encoding="utf-8")
    config = load_config(config_path)
    lines: list[str] = []
    written = asyncio.Event()

    def write(line: str) -> None:  # on the daemon's loop
        lines.append(line)
        written.set()

    async def wait_for(text: str) -> str:
        async with asyncio.timeout(10):
            while not any(text in line for line in lines):
                written.clear()
                await written.wait()
        return next(line for line in lines if text in line)

    async def scenario() -> tuple[int, Reply, str]:
        stop = asyncio.Event()
        ready: asyncio.Future[DaemonInfo] = asyncio.get_running_loop().create_future()
        daemon = asyncio.create_task(run_daemon(config, Secrets(), write, stop,
                                                on_ready=ready.set_result))
        try:
            info = await asyncio.wait_for(ready, 10)
            assert info.status_url is not None
            async with aiohttp.ClientSession() as session:
                reply = await request(session, "POST", info.status_url + "/api/notify",
                                      json=report(level="critical", message="disk full"))
            line = await wait_for("DIAGNOSTIC")
        finally:
            stop.set()
        return await asyncio.wait_for(daemon, 10), reply, line

    code, reply, line = asyncio.run(scenario())
    assert code == 0
    assert reply.status == 202
    assert line.endswith("DIAGNOSTIC backup     CRITICAL: disk full")
    with Outbox(tmp_path / "state" / "outbox.sqlite") as outbox:
        assert outbox.depth() == 0
