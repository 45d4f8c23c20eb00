"""The console transport's one line per notice."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from hub.notify.console import console_line
from machines import HealthState, Notice, NoticeKind

UTC = ZoneInfo("UTC")


def test_alert_line_says_component_duration_failures_and_error_on_one_line():
    notice = Notice(kind=NoticeKind.ALERT, component="weather", at=3600 * 14 + 65,
                    state=HealthState.ALERTING, failures=3, failing_for_seconds=8,
                    error_type="http_503", error_detail="503 from MET\nretry later")
    assert console_line(notice, UTC) == (
        "14:01:05  ALERT     weather    failing for 8 s, 3 failures: "
        "http_503 (503 from MET retry later)")


def test_recovery_and_lifecycle_lines():
    recovery = Notice(kind=NoticeKind.RECOVERY, component="bus", at=0,
                      downtime_seconds=3725, failures=9)
    started = Notice(kind=NoticeKind.STARTED, component="divoom-hub", at=0,
                     details=(("mode", "demo"), ("components", "bus")))
    assert console_line(recovery, UTC).endswith("bus        recovered after 1 h 2 min of downtime")
    assert console_line(started, UTC) == \
        "00:00:00  STARTED   divoom-hub mode: demo, components: bus"


def test_flapping_settled_and_folded_children_lines():
    flapping = Notice(kind=NoticeKind.FLAPPING, component="pixoo", at=0,
                      state=HealthState.ALERTING)
    settled = Notice(kind=NoticeKind.SETTLED, component="pixoo", at=0,
                     state=HealthState.RECOVERED)
    reminder = Notice(kind=NoticeKind.REMINDER, component="router", at=0, reminder=1,
                      failing_for_seconds=900, error_type="timeout",
                      folded=("bus", "weather", "pixoo"))
    back = Notice(kind=NoticeKind.RECOVERY, component="router", at=0, downtime_seconds=60,
                  folded=("bus",))
    assert console_line(flapping, UTC).endswith(
        "FLAPPING  pixoo      failing again and again: quiet until it settles")
    assert console_line(settled, UTC).endswith("settled after flapping: recovered")
    assert console_line(reminder, UTC).endswith(
        "still failing after 15 min: timeout; bus, weather and pixoo are failing with it.")
    assert console_line(back, UTC).endswith("of downtime; bus came back with it.")
