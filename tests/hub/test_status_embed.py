"""The `status` reply shows every machine, failing ones first, and the hub's own health."""

from __future__ import annotations

from hub.notify.delivery import DeliveryStatus
from hub.notify.embeds import EMBED_TOTAL_MAX, embed_length
from hub.notify.status_embed import machine_line, status_embed
from hub.status.model import HubStatus
from machines import HealthState, Snapshot

NOW = 1_700_000_000.0


def snap(component: str, state: HealthState, **extra) -> Snapshot:
    return Snapshot(component=component, state=state, since=NOW - 600, **extra)


def test_failing_machines_come_first_with_error_and_next_reminder():
    status = HubStatus(
        hub_name="shelf", at=NOW, started_at=NOW - 7200,
        machines=(snap("bus", HealthState.HEALTHY, last_success_at=NOW - 30),
                  snap("weather", HealthState.REMINDING, failures=7,
                       first_failure_at=NOW - 900, last_success_at=NOW - 960,
                       last_error_type="http_503", last_error="Service Unavailable",
                       next_reminder_at=NOW + 1200, reminders_sent=1)),
        delivery=DeliveryStatus("webhook", "idle", "", sent=4, failed_attempts=0),
        outbox_depth=0, discord_latency_seconds=0.042)
    embed = status_embed(status)
    assert embed["title"] == "📋 shelf: 1 of 2 components failing"
    assert embed["color"] == 0xFF0000
    assert embed["description"] == ("up 2 h · outbox 0 queued · Discord latency 42 ms · "
                                    "delivery via webhook: idle")
    assert [f["name"] for f in embed["fields"]] == ["weather", "bus"]
    assert embed["fields"][0]["value"] == (
        "🔴 reminding for 10 min · 7 failures · last success <t:1699999040:f> · "
        "`http_503: Service Unavailable` · next reminder <t:1700001200:f>")
    assert embed["fields"][1]["value"] == "🟢 healthy for 10 min"


def test_all_healthy_is_green():
    embed = status_embed(HubStatus("hub", NOW, NOW, (snap("bus", HealthState.HEALTHY),),
                                   None, 0))
    assert embed["color"] == 0x00FF00 and embed["title"].endswith("all 1 components healthy")


def test_untrusted_error_text_cannot_break_the_code_span():
    line = machine_line(snap("x", HealthState.ALERTING, failures=3, last_error_type="bad_json",
                             last_error="`boom`\n@everyone"), NOW)
    assert line.count("`") == 2 and "\n" not in line


def test_hundreds_of_components_still_fit():
    machines = tuple(snap(f"sensor-{i:03d}", HealthState.ALERTING, failures=3,
                          last_error_type="timeout", last_error="x" * 300) for i in range(300))
    embed = status_embed(HubStatus("hub", NOW, NOW, machines, None, 12))
    assert len(embed["fields"]) == 25 and "275 more components" in embed["footer"]["text"]
    assert embed_length(embed) <= EMBED_TOTAL_MAX
