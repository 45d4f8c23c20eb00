"""Latency percentiles, uptime and failures by type per component (hub/status/stats.py),
on explicit times: bounded memory, the windows, and where the numbers are shown."""

from __future__ import annotations

from html import escape

from hub.notify.status_embed import status_embed
from hub.status.recorder import StatusRecorder
from hub.status.stats import ComponentStats
from hub.web.page import PageView, render_page
from machines import HealthState, Outcome, Snapshot

DAY = 86400.0


def test_percentiles_are_the_upper_edge_of_their_bin_never_below_the_value():
    stats = ComponentStats()
    for i in range(100):  # 10 ms … 1 s, one each
        stats.observe(Outcome.success("bus", 1000.0 + i, latency_seconds=0.01 * (i + 1)))
    (bus,) = stats.freeze(1100.0)
    p50, p95, p99 = bus.latency_seconds
    assert 0.50 <= p50 < 0.50 * 1.0906
    assert 0.95 <= p95 < 0.95 * 1.0906
    assert 0.99 <= p99 < 0.99 * 1.0906
    assert bus.latency_count == 100


def test_latency_counts_the_last_hour_only_and_memory_stays_bounded():
    stats = ComponentStats()
    at = 0.0
    for _ in range(3 * 3600):  # three hours at one outcome a second
        at += 1.0
        stats.observe(Outcome.success("pixoo", at, latency_seconds=5.0 if at < 7000 else 0.05))
    (pixoo,) = stats.freeze(at)
    assert pixoo.latency_seconds is not None and pixoo.latency_seconds[2] < 0.06
    # The current minute and the 59 before it: the hour is exact to a minute.
    assert 3540 < pixoo.latency_count <= 3600
    assert len(stats._latency["pixoo"]) <= 60  # one bucket a minute
    assert len(stats._uptime["pixoo"]) <= 1008  # 7 days of 10 minutes


def test_uptime_over_24_hours_and_7_days_and_failures_by_type():
    stats = ComponentStats()
    # Six days ago: a bad day (all failing); today: all fine.
    for i in range(144):
        stats.observe(Outcome.failure("nas", DAY + i * 600.0, "timeout"))
    for i in range(144):
        stats.observe(Outcome.success("nas", 6 * DAY + i * 600.0))
    stats.observe(Outcome.failure("nas", 7 * DAY - 1, "http_503"))
    (nas,) = stats.freeze(7 * DAY - 1)
    assert nas.uptime_24h_percent == 100.0 * 144 / 145
    assert nas.uptime_7d_percent == 100.0 * 144 / 289
    assert nas.failures_by_type == (("http_503", 1), ("timeout", 144))
    (later,) = stats.freeze(9 * DAY)  # the bad day left the 7-day window
    assert later.uptime_7d_percent == 100.0 * 144 / 145
    assert later.uptime_24h_percent is None  # nothing in the last day
    assert later.latency_seconds is None


def test_the_status_reply_and_the_page_show_the_numbers():
    recorder = StatusRecorder("shelf-pi", 0.0)
    for i in range(10):
        recorder.outcome(Outcome.success("bus", 1000.0 + i, latency_seconds=0.2))
    recorder.outcome(Outcome.failure("bus", 1011.0, "timeout", latency_seconds=10.0))
    status = recorder.publish(1012.0, [Snapshot("bus", HealthState.HEALTHY, 0.0)], None, 0)
    words = status.stats_of("bus").words()
    assert words.startswith("p50 ")
    assert "up 90.9 % (24 h), 90.9 % (7 d)" in words
    assert words.endswith("failures: timeout 1")
    (field,) = status_embed(status)["fields"]
    assert field["value"].endswith(words)
    page = render_page(status, PageView("healthy", (), None, 1012.0))
    assert escape(words) in page
