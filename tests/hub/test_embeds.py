"""Embeds are pure and always within Discord's limits, whatever the error text says."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.formatting import duration, sanitize
from hub.ingest.reports import (
    DETAIL_LABEL_MAX,
    DETAIL_VALUE_MAX,
    DETAILS_MAX,
    MESSAGE_MAX,
    REPORT_TEXT_MAX,
    diagnostic_notice,
    parse_report,
)
from hub.notify.alerting import Severity
from hub.notify.embeds import (
    DESCRIPTION_MAX,
    EMBED_TOTAL_MAX,
    EMBEDS_PER_MESSAGE,
    FIELD_VALUE_MAX,
    FIELDS_MAX,
    NO_MENTIONS,
    TITLE_MAX,
    code_block,
    embed_for,
    embed_length,
    fit_embed,
    incident_embed,
    message_payload,
    pack_messages,
)
from hub.sources.threshold import ThresholdMonitor
from machines import HealthState, HeldReason, Notice, NoticeKind


def alert(**overrides) -> Notice:
    values = dict(kind=NoticeKind.ALERT, component="weather", at=1_700_000_000.0,
                  state=HealthState.ALERTING, failures=3, failing_for_seconds=125.0,
                  error_type="http_503", error_detail="503 Service Unavailable",
                  first_failure_at=1_699_999_875.0, last_success_at=1_699_999_800.0,
                  next_reminder_at=1_700_000_900.0)
    values.update(overrides)
    return Notice(**values)


def test_alert_embed_matches_the_expected_json():
    assert embed_for(alert(), "shelf-pi") == {
        "title": "🔴 weather is failing",
        "description": "Failing for 2 min 5 s.",
        "color": 0xFF0000,
        "fields": [
            {"name": "Component", "value": "weather", "inline": True},
            {"name": "Error type", "value": "http_503", "inline": True},
            {"name": "Failures", "value": "3", "inline": True},
            {"name": "Failing for", "value": "2 min 5 s", "inline": True},
            {"name": "Last success", "value": "<t:1699999800:f>", "inline": True},
            {"name": "Next reminder", "value": "<t:1700000900:f>", "inline": True},
            {"name": "Latest error", "value": "```\n503 Service Unavailable\n```",
             "inline": False},
        ],
        "footer": {"text": "shelf-pi"},
        "timestamp": "2023-11-14T22:13:20+00:00",
    }


def test_each_kind_has_its_colour_and_says_what_happened():
    reminder = embed_for(alert(kind=NoticeKind.REMINDER, reminder=2,
                               state=HealthState.REMINDING), "hub")
    recovery = embed_for(alert(kind=NoticeKind.RECOVERY, downtime_seconds=3725.0,
                               state=HealthState.RECOVERED, next_reminder_at=None), "hub")
    assert reminder["color"] == 0xFFA500 and reminder["description"].startswith("Reminder 2:")
    assert {"name": "Reminder", "value": "2", "inline": True} in reminder["fields"]
    assert recovery["color"] == 0x00FF00 and recovery["title"] == "🟢 weather recovered"
    assert {"name": "Downtime", "value": "1 h 2 min", "inline": True} in recovery["fields"]
    started = embed_for(Notice(kind=NoticeKind.STARTED, component="hub", at=0,
                               details=(("components", "bus, weather"),)), "hub")
    assert started["color"] == 0x3498DB
    assert started["fields"] == [{"name": "components", "value": "bus, weather", "inline": True}]


def test_an_incidents_notices_show_its_id_a_late_alert_its_silence_a_recovery_who_acked():
    late = embed_for(alert(incident="weather#4", silenced=HeldReason.MUTE,
                           silenced_since=1_699_999_900.0), "hub")
    assert late["fields"][1] == {"name": "Incident", "value": "weather#4", "inline": True}
    assert late["description"] == "Failing for 2 min 5 s. Held by a mute since <t:1699999900:f>."
    recovery = embed_for(alert(kind=NoticeKind.RECOVERY, downtime_seconds=60.0,
                               incident="weather#4", acked_by="@everyone [x](http://e.vil)",
                               ack_reason="on it"), "hub")
    acked = next(f for f in recovery["fields"] if f["name"] == "Acked by")
    assert acked["value"] == "@everyone [x]\\(http://e.vil): on it"  # no masked link
    assert message_payload([recovery])["allowed_mentions"] == NO_MENTIONS


def test_untrusted_error_text_cannot_break_out_or_ping():
    nasty = "@everyone ```\n**boom**\u202e\x00" + "x" * 5000
    embed = embed_for(alert(error_detail=nasty), "hub")
    latest = next(f for f in embed["fields"] if f["name"] == "Latest error")["value"]
    assert latest.startswith("```\n") and latest.endswith("\n```")
    assert latest.count("```") == 2  # the fence inside the text was neutralised
    assert "\u202e" not in latest and "\x00" not in latest
    assert len(latest) <= FIELD_VALUE_MAX
    assert message_payload([embed])["allowed_mentions"] == NO_MENTIONS


long_text = st.text(min_size=0, max_size=3000)


@settings(max_examples=150, deadline=None)
@given(title=long_text, description=st.text(max_size=6000),
       fields=st.lists(st.tuples(long_text, long_text), max_size=40), footer=long_text)
def test_any_embed_is_fitted_within_every_limit(title, description, fields, footer):
    fitted = fit_embed({"title": title, "description": description, "footer": {"text": footer},
                        "fields": [{"name": n, "value": v, "inline": False} for n, v in fields]})
    assert len(fitted["title"]) <= TITLE_MAX
    assert len(fitted["fields"]) <= FIELDS_MAX
    assert all(len(f["name"]) <= 256 and 0 < len(f["value"]) <= FIELD_VALUE_MAX
               for f in fitted["fields"])
    assert len(fitted.get("description") or "") <= 4096
    assert embed_length(fitted) <= EMBED_TOTAL_MAX


def test_packing_keeps_order_and_respects_message_limits():
    embeds = [fit_embed({"title": f"n{i}", "description": "d" * 1500, "fields": []})
              for i in range(25)]
    messages = pack_messages(embeds, lambda e: e)
    assert [e["title"] for m in messages for e in m] == [f"n{i}" for i in range(25)]
    assert all(len(m) <= EMBEDS_PER_MESSAGE for m in messages)
    assert all(sum(embed_length(e) for e in m) <= EMBED_TOTAL_MAX for m in messages)
    assert len(messages) == 9  # 3 embeds of 1502 characters fit in 6000, 4 do not


def test_small_embeds_pack_ten_to_a_message():
    embeds = [embed_for(alert(component=f"c{i}"), "hub") for i in range(23)]
    assert [len(m) for m in pack_messages(embeds, lambda e: e)] == [10, 10, 3]


def test_payload_is_json_serialisable_and_content_is_truncated():
    payload = message_payload([embed_for(alert(), "hub")], content="x" * 3000)
    assert len(payload["content"]) == 2000
    json.dumps(payload)


def test_durations_read_naturally():
    assert [duration(s) for s in (0, 45, 125, 600, 3600, 3725, 90000, 172800)] == [
        "0 s", "45 s", "2 min 5 s", "10 min", "1 h", "1 h 2 min", "1 d 1 h", "2 d"]


def test_code_block_of_empty_text_says_so():
    assert code_block("   ") == "```\n(no detail)\n```"


# -- what is cut when a notice is too long -------------------------------------------------

def diagnostic(message: str, details: tuple[tuple[str, str], ...] = ()) -> Notice:
    return Notice(kind=NoticeKind.DIAGNOSTIC, component="backup", at=1_700_000_000.0,
                  error_type="error", error_detail=message, details=details)


def test_a_long_report_keeps_its_message_then_its_fields_in_order():
    # 15 KB as an older hub stored it: twelve full fields after a full message.
    labels = [f"label {i:02d} " + "l" * 55 for i in range(12)]
    notice = diagnostic("M" * 2000, tuple((label, f"{i:02d}" + "v" * 1022)
                                          for i, label in enumerate(labels)))
    embed = embed_for(notice, "shelf-pi")
    assert embed["description"] == "M" * 2000
    assert embed["footer"] == {"text": "shelf-pi · reported by backup"}
    shown = embed["fields"]
    assert [f["name"] for f in shown] == labels[:len(shown)]
    assert [f["value"] for f in shown[:3]] == [f"{i:02d}" + "v" * 1022 for i in range(3)]
    assert shown[-1]["value"].startswith("03vvv") and shown[-1]["value"].endswith("…")
    assert embed_length(embed) == EMBED_TOTAL_MAX


def test_a_cut_description_closes_the_code_block_it_opened():
    fitted = fit_embed({"title": "t", "description": "m" * 100 + "\n```\n" + "x" * 9000 + "\n```",
                        "fields": []})
    assert len(fitted["description"]) == DESCRIPTION_MAX
    assert fitted["description"].endswith("x…\n```")
    assert fitted["description"].count("```") == 2


def test_a_field_too_long_for_what_is_left_is_cut_and_the_rest_left_out():
    fields = [{"name": "a", "value": "x" * 1000, "inline": False},
              {"name": "b", "value": code_block("y" * 2000), "inline": False},
              {"name": "c", "value": "z", "inline": False}]
    fitted = fit_embed({"title": "t", "description": "d" * 4096, "fields": fields})
    assert [f["name"] for f in fitted["fields"]] == ["a", "b"]
    cut = fitted["fields"][1]["value"]
    assert cut.startswith("```\nyyy") and cut.endswith("…\n```")  # still a code block
    assert embed_length(fitted) == EMBED_TOTAL_MAX


def plain_text(max_size: int) -> st.SearchStrategy[str]:
    """Words of letters, digits, punctuation and emoji with single spaces, up to
    `max_size` (often exactly): text that `sanitize` leaves as it is, nothing to defuse."""
    word = st.text(st.characters(categories=["L", "N", "Pd", "Po", "So"],
                                 exclude_characters="#|"), min_size=1, max_size=6)

    def repeated(words: list[str], size: int) -> str:
        text = " ".join(words)
        return (" ".join([text] * (size // len(text) + 1))[:size].strip()) or "x"

    return st.builds(repeated, st.lists(word, min_size=1, max_size=6),
                     st.integers(1, max_size) | st.just(max_size))


@st.composite
def reports(draw: st.DrawFn) -> dict[str, object]:
    """Reports within every documented limit of POST /api/notify."""
    message = draw(plain_text(MESSAGE_MAX))
    left = REPORT_TEXT_MAX - len(message)
    report: dict[str, object] = {"level": "error", "service": "backup", "message": message}
    if left >= 1 and draw(st.booleans()):
        report["details"] = draw(plain_text(left))
    elif left >= 2:
        details = {}
        for _ in range(draw(st.integers(0, DETAILS_MAX))):
            label = draw(plain_text(min(DETAIL_LABEL_MAX, left - 1)))
            value = draw(plain_text(min(DETAIL_VALUE_MAX, left - len(label))))
            if label in details or len(label) + len(value) > left:
                break
            details[label] = value
            left -= len(label) + len(value)
            if left < 2:
                break
        report["details"] = details
    return report


@settings(max_examples=settings.default.max_examples // 2)  # big texts: slow to draw
@given(report=reports())
def test_a_report_within_the_documented_limits_is_posted_whole(report):
    diagnostic_report = parse_report(report)
    embed = embed_for(diagnostic_notice(diagnostic_report, 1_700_000_000.0), "shelf-pi")
    assert embed["description"].startswith(report["message"])
    details = report.get("details")
    if isinstance(details, str):
        assert embed["description"] == f"{report['message']}\n```\n{details}\n```"
    else:
        assert [(f["name"], f["value"]) for f in embed["fields"]] == list((details or {}).items())
    assert embed["footer"] == {"text": "shelf-pi · reported by backup"}
    assert embed_length(embed) <= EMBED_TOTAL_MAX


# -- markdown in untrusted text ------------------------------------------------------------

@pytest.mark.parametrize(("text", "shown"), [
    ("[click me](https://evil.example)", r"[click me]\(https://evil.example)"),
    ("see [docs](<https://evil.example>) now", r"see [docs]\(<https://evil.example>) now"),
    ("# big\n## bigger\n  ### biggest\n-# small",
     "\\# big\n\\## bigger\n  \\### biggest\n\\-# small"),
    ("#hashtag and C# stay", "#hashtag and C# stay"),
    ("||hidden||", r"|\|hidden|\|"),
    ("a | b ||| c", r"a | b |\|| c"),
    (r"\||x\||", r"\||x\||"),  # escaped by the text itself already
    (r"\\||x\\||", r"\\|\|x\\|\|"),  # a backslash of its own cannot undo the escape
    ("[a]\u200b(https://evil.example)", r"[a]\(https://evil.example)"),
    ("@everyone <@&123>", "@everyone <@&123>"),  # mentions: allowed_mentions pings nobody
])
def test_markdown_in_untrusted_text_is_defused_and_stays_readable(text, shown):
    assert sanitize(text, markdown=True) == shown
    assert sanitize(shown, markdown=True) == shown  # twice changes nothing
    assert sanitize(text) == text.replace("\u200b", "")  # without markdown=True: as it was


def test_a_report_cannot_disguise_links_shout_or_hide_text():
    notice = diagnostic("# Action needed\n[Log in here](https://evil.example) ||secret||",
                        (("[x](https://evil.example)", "## ||y||"),))
    embed = embed_for(notice, "shelf-pi")
    assert embed["description"] == ("\\# Action needed\n[Log in here]\\(https://evil.example) "
                                    "|\\|secret|\\|")
    assert embed["fields"] == [{"name": "[x]\\(https://evil.example)", "value": "\\## |\\|y|\\|",
                                "inline": True}]


def test_a_traceback_under_the_message_is_shown_verbatim_in_its_code_block():
    trace = "Traceback:\n  [x](https://evil.example) ||y||\n# not a heading"
    embed = embed_for(diagnostic("it failed", (("", trace),)), "shelf-pi")
    assert embed["description"] == f"it failed\n```\n{trace}\n```"


@settings(deadline=None)
@given(st.text(max_size=300))
def test_defusing_is_idempotent_and_never_leaves_a_link_heading_or_spoiler(text):
    shown = sanitize(text, markdown=True)
    assert sanitize(shown, markdown=True) == shown
    assert "](" not in shown
    # No two pipes in a row that Discord reads as pipes (an escape pair is one unit).
    assert not any(len(run) > 1 for run in re.findall(r"\\.|(\|+)", shown, re.DOTALL))
    assert re.search(r"(?m)^[ \t]*(#{1,3}|-#)[ \t]", shown) is None


# -- embeds that carry the facts (docs/alerting-rules.md) -----------------------------

def _fields(embed: dict) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed["fields"]}


def test_an_error_rate_alert_says_how_many_checks_failed_in_the_window():
    notice = Notice(NoticeKind.ALERT, "pixoo", 660.0, state=HealthState.ALERTING, failures=1,
                    error_type="timeout", error_detail="no answer", window_failed=7,
                    window_outcomes=12, window_seconds=900.0)
    embed = embed_for(notice, "hub")
    assert embed["description"].startswith("7 of 12 checks failed in 15 min.")
    assert _fields(embed)["Error rate"] == "7 of 12 checks failed in 15 min"


def test_a_threshold_alert_has_metric_current_and_threshold_fields():
    monitor = ThresholdMonitor(name="cpu-temp", max_value=80.0)
    outcome = monitor.judge(81.5, 10.0)
    notice = Notice(NoticeKind.ALERT, "cpu-temp", 10.0, state=HealthState.ALERTING,
                    failures=3, error_type=outcome.error_type, error_detail=outcome.detail)
    fields = _fields(embed_for(notice, "hub"))
    assert (fields["Metric"], fields["Current"], fields["Threshold"]) == (
        "cpu-temp", "81.5", "max 80")
    below = ThresholdMonitor(name="disk-free", min_value=5.0).judge(2, 10.0)
    fields = _fields(embed_for(Notice(NoticeKind.REMINDER, "disk-free", 10.0, reminder=1,
                                      error_type=below.error_type,
                                      error_detail=below.detail), "hub"))
    assert (fields["Current"], fields["Threshold"]) == ("2", "min 5")
    plain = _fields(embed_for(Notice(NoticeKind.ALERT, "bus", 1.0, error_type="timeout",
                                     error_detail="2 > 1"), "hub"))
    assert "Metric" not in plain


def test_a_silent_heartbeat_is_offline_with_its_last_seen_time():
    notice = Notice(NoticeKind.ALERT, "backup", 90000.0, state=HealthState.ALERTING,
                    failures=1, error_type="stale", error_detail="no outcome for 90000 s",
                    last_success_at=1000.0)
    embed = embed_for(notice, "hub")
    assert embed["title"] == "🔴 backup is offline"
    assert _fields(embed)["Last seen"] == "<t:1000:f>"
    assert "Last success" not in _fields(embed)
    reminder = embed_for(Notice(NoticeKind.REMINDER, "backup", 9e4, reminder=1,
                                error_type="stale"), "hub")
    assert reminder["title"] == "🟠 backup is still offline"
    assert _fields(reminder)["Last seen"] == "never (since start)"


def test_the_severity_is_a_field_and_colours_an_alert():
    critical = embed_for(alert(incident="weather#2"), "shelf-pi", Severity.CRITICAL)
    names = [f["name"] for f in critical["fields"]]
    assert names[:4] == ["Component", "Incident", "Severity", "Error type"]
    assert critical["fields"][2]["value"] == "🚨 critical"
    assert critical["color"] == 0x8B0000
    assert embed_for(alert(), "shelf-pi", Severity.INFO)["color"] == 0x3498DB
    recovery = embed_for(alert(kind=NoticeKind.RECOVERY, downtime_seconds=60.0), "shelf-pi",
                         Severity.CRITICAL)
    assert "Severity" not in [f["name"] for f in recovery["fields"]]  # green says it all


def test_the_incident_message_follows_reminders_acks_and_the_recovery():
    first = alert(incident="weather#2")
    reminded = incident_embed(first, alert(kind=NoticeKind.REMINDER, reminder=3,
                                           at=1_700_003_600.0, failing_for_seconds=3725.0,
                                           incident="weather#2", acked_by="kari"),
                              "shelf-pi")
    assert reminded["title"] == "🔴 weather is failing"
    assert reminded["color"] == 0xFF0000
    assert reminded["description"] == "Failing for 1 h 2 min; 3 reminders sent."
    assert {"name": "Acked by", "value": "kari", "inline": False} in reminded["fields"]
    assert reminded["timestamp"] == embed_for(first, "shelf-pi")["timestamp"]
    recovered = incident_embed(first, alert(kind=NoticeKind.RECOVERY, at=1_700_007_200.0,
                                            downtime_seconds=7325.0, incident="weather#2"),
                               "shelf-pi")
    assert recovered["title"] == "🟢 weather recovered"
    assert recovered["color"] == 0x00FF00
    assert recovered["description"] == ("Failing since <t:1700000000:f>; back after "
                                        "2 h 2 min of downtime.")


def test_a_parents_embeds_list_the_children_folded_into_its_incident():
    failing = embed_for(alert(component="router", folded=("bus", "weather", "pixoo")), "pi")
    assert failing["description"] == \
        "Failing for 2 min 5 s. bus, weather and pixoo are failing with it."
    one = embed_for(alert(kind=NoticeKind.REMINDER, reminder=1, folded=("bus",)), "pi")
    assert one["description"].endswith(" bus is failing with it.")
    back = embed_for(alert(kind=NoticeKind.RECOVERY, downtime_seconds=60,
                           folded=("bus", "weather")), "pi")
    assert back["description"] == "Back after 1 min of downtime. bus and weather came back " \
                                  "with it."


def test_flapping_and_settled_embeds_say_so():
    flapping = embed_for(alert(kind=NoticeKind.FLAPPING), "pi")
    assert (flapping["title"], flapping["description"]) == (
        "🟠 weather is flapping", "Failing again and again: no more alerts until it settles.")
    settled = embed_for(alert(kind=NoticeKind.SETTLED, state=HealthState.RECOVERED), "pi")
    assert (settled["title"], settled["description"]) == (
        "🔵 weather settled", "Settled after flapping: recovered.")
    failing = embed_for(alert(kind=NoticeKind.SETTLED, state=HealthState.REMINDING), "pi")
    assert failing["description"] == "Settled after flapping: still failing (reminding)."
