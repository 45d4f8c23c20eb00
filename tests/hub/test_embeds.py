"""Embeds are pure and always within Discord's limits, whatever the error text says."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.notify.embeds import (
    EMBED_TOTAL_MAX,
    EMBEDS_PER_MESSAGE,
    FIELD_VALUE_MAX,
    FIELDS_MAX,
    NO_MENTIONS,
    TITLE_MAX,
    code_block,
    duration,
    embed_for,
    embed_length,
    fit_embed,
    message_payload,
    pack_messages,
)
from machines import HealthState, Notice, NoticeKind


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
