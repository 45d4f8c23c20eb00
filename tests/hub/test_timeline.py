"""The 24-hour timeline: what the recorder remembers, and the picture drawn from it."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from hub.status.history import MAX_CHANGES, ComponentHistory, StateChange, StateHistory
from hub.status.recorder import StatusRecorder
from hub.status.timeline import (
    BACKGROUND,
    BAND_COLOURS,
    NO_DATA,
    TICK,
    layout,
    mark_steps,
    span_label,
    time_marks,
    timeline_png,
)
from machines import HealthState, Snapshot

HEALTHY, SUSPECT, ALERTING, REMINDING, RECOVERED = (
    HealthState.HEALTHY, HealthState.SUSPECT, HealthState.ALERTING, HealthState.REMINDING,
    HealthState.RECOVERED)
UTC = ZoneInfo("UTC")
NOW = 1_699_999_200.0  # 2023-11-14 22:00:00 UTC, a full hour
START = NOW - 86400.0
HOUR = 3600.0


def history(component: str, *changes: tuple[float, HealthState]) -> ComponentHistory:
    return ComponentHistory(component, tuple(StateChange(at, state) for at, state in changes))


def picture(histories: tuple[ComponentHistory, ...], zone: ZoneInfo | None = UTC,
            width: int = 960) -> Image.Image:
    png = timeline_png(histories, NOW, zone, width=width)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as image:
        return image.convert("RGB")


def row_middle(index: int) -> int:
    return 30 + index * 26 + 10  # header 30 px, rows 20 px high with 6 px between


# -- the layout ----------------------------------------------------------------------------

def test_time_runs_linearly_from_24_hours_ago_at_the_bands_left_edge_to_now_at_the_right():
    place = layout((history("bus", (START - HOUR, HEALTHY)),), NOW, width=960)
    assert (place.left, place.right) == (120, 944)  # names take 120 px, 16 px margin
    assert place.x_of(START) == 120
    assert place.x_of(NOW) == 944
    assert place.x_of(START + 12 * HOUR) == 532
    with pytest.raises(ValueError, match="width: at least 320 px, got 200"):
        layout((), NOW, width=200)


# -- the bands -----------------------------------------------------------------------------

KNOWN = (
    history("bus", (START - HOUR, HEALTHY)),
    history("weather", (START - HOUR, HEALTHY), (START + 6 * HOUR, SUSPECT),
            (START + 6.5 * HOUR, ALERTING), (START + 9 * HOUR, REMINDING),
            (START + 12 * HOUR, RECOVERED), (START + 13 * HOUR, HEALTHY)),
    history("nas", (START + 18 * HOUR, HEALTHY)),
)


@pytest.mark.parametrize(("row", "first_x", "last_x", "colour"), [
    (0, 120, 943, BAND_COLOURS[HEALTHY]),
    # 1 h is 824 / 24 = 34.33 px: 6 h → x 326, 6.5 h → 343, 9 h → 429, 12 h → 532, 13 h → 566
    (1, 120, 325, BAND_COLOURS[HEALTHY]),
    (1, 326, 342, BAND_COLOURS[SUSPECT]),
    (1, 343, 428, BAND_COLOURS[ALERTING]),
    (1, 429, 531, BAND_COLOURS[REMINDING]),
    (1, 532, 565, BAND_COLOURS[RECOVERED]),
    (1, 566, 943, BAND_COLOURS[HEALTHY]),
    # nothing known before its first state (18 h → x 738)
    (2, 120, 737, NO_DATA),
    (2, 738, 943, BAND_COLOURS[HEALTHY]),
])
def test_each_state_is_a_band_of_its_colour_from_its_start_to_the_next_change(
        row, first_x, last_x, colour):
    image = picture(KNOWN)
    y = row_middle(row)
    for x in (first_x, (first_x + last_x) // 2, last_x):
        for dy in (-10, 0, 9):  # the whole height of the row
            assert image.getpixel((x, y + dy)) == colour, (x, y + dy)
    assert image.getpixel((last_x + 1, y)) != colour
    assert image.getpixel((first_x - 1, y)) != colour


def test_bands_stop_at_now_and_the_gap_between_rows_is_not_a_band():
    image = picture(KNOWN)
    assert image.getpixel((945, row_middle(0))) == BACKGROUND  # (944 is the mark of now)
    assert image.getpixel((500, row_middle(0) + 12)) not in BAND_COLOURS.values()


def test_an_incident_shorter_than_a_pixel_still_shows_as_one():
    blip = history("pixoo", (START - HOUR, HEALTHY), (START + 3 * HOUR, ALERTING),
                   (START + 3 * HOUR + 5, HEALTHY))
    image = picture((blip,))
    x = int(120 + 3 * 824 / 24)  # 223
    assert image.getpixel((x, row_middle(0))) == BAND_COLOURS[ALERTING]
    assert image.getpixel((x - 1, row_middle(0))) == BAND_COLOURS[HEALTHY]
    assert image.getpixel((x + 1, row_middle(0))) == BAND_COLOURS[HEALTHY]


def test_a_component_that_flapped_all_afternoon_is_drawn_as_failing_there_and_fits_its_row():
    flaps = [(START - HOUR, HEALTHY)]
    for minute in range(120):  # 10 s failing in every minute for 2 h, from 2 h to 4 h
        at = START + 2 * HOUR + minute * 60
        flaps += [(at, ALERTING), (at + 10, HEALTHY)]
    flapping = history("feeder", *flaps)
    image = picture((flapping, history("bus", (START - HOUR, HEALTHY))))
    y = row_middle(0)
    # 2 h → x 188.67, 4 h → 257.33: every pixel column there held a failure
    assert {image.getpixel((x, y)) for x in range(189, 257)} == {BAND_COLOURS[ALERTING]}
    assert {image.getpixel((x, y)) for x in range(258, 944)} == {BAND_COLOURS[HEALTHY]}
    assert {image.getpixel((x, y)) for x in range(120, 188)} == {BAND_COLOURS[HEALTHY]}
    # the next row is untouched and the picture is as tall as for two quiet components
    assert {image.getpixel((x, row_middle(1))) for x in range(120, 944)} == \
        {BAND_COLOURS[HEALTHY]}
    quiet = picture((history("a", (START, HEALTHY)), history("b", (START, HEALTHY))))
    assert image.size == quiet.size


def test_a_long_name_is_cut_before_the_bands():
    image = picture((history("a-component-with-a-very-long-name-indeed", (START, HEALTHY)),))
    y0 = row_middle(0) - 10
    # names start at x 8 and may take 104 px (LABEL_WIDTH - 16)
    column = {image.getpixel((x, y)) for x in range(113, 120) for y in range(y0, y0 + 20)}
    assert column == {BACKGROUND}
    label = {image.getpixel((x, y)) for x in range(8, 100) for y in range(y0, y0 + 20)}
    assert len(label) > 1  # some text is there


def test_an_empty_history_is_a_picture_with_no_band_at_all():
    image = picture(())
    place = layout((), NOW)
    assert image.size == (960, place.height)
    rows = {image.getpixel((x, y)) for x in range(120, 944) for y in range(30, 50)}
    assert not rows & (set(BAND_COLOURS.values()) | {NO_DATA})


# -- a history shorter than a day -----------------------------------------------------------

MINUTE = 60.0


def test_a_history_shorter_than_a_day_is_drawn_from_where_it_begins():
    young = (history("bus", (NOW - 10 * MINUTE, HEALTHY), (NOW - 4 * MINUTE, ALERTING)),
             history("weather", (NOW - 6 * MINUTE, HEALTHY)))
    place = layout(young, NOW)
    assert (place.start, place.now) == (NOW - 10 * MINUTE, NOW)  # the earliest row decides
    image = picture(young)
    y = row_middle(0)
    # 10 min over 824 px: the alert began 6 min in, at x = 120 + 0.6 × 824 = 614.4
    assert {image.getpixel((x, y)) for x in range(120, 614)} == {BAND_COLOURS[HEALTHY]}
    assert {image.getpixel((x, y)) for x in range(615, 944)} == {BAND_COLOURS[ALERTING]}
    # weather came 4 min in (x 449.6): grey only before that
    assert {image.getpixel((x, row_middle(1))) for x in range(120, 449)} == {NO_DATA}
    assert {image.getpixel((x, row_middle(1))) for x in range(451, 944)} == \
        {BAND_COLOURS[HEALTHY]}


def test_a_history_of_a_few_seconds_is_drawn_over_ten_minutes():
    fresh = (history("bus", (NOW - 30, HEALTHY)),)
    place = layout(fresh, NOW)
    assert place.start == NOW - 10 * MINUTE
    image = picture(fresh)
    # 30 s of 600 s: the last 41 px are healthy, the rest is not known
    assert image.getpixel((900, row_middle(0))) == NO_DATA
    assert image.getpixel((905, row_middle(0))) == BAND_COLOURS[HEALTHY]
    assert layout((), NOW).start == NOW - 10 * MINUTE  # nothing at all recorded yet


def test_a_short_span_has_a_labelled_mark_on_every_minute():
    young = (history("bus", (NOW - 10 * MINUTE, HEALTHY)),)
    image = picture(young)
    axis_top = 30 + 26 - 6 + 4
    marks = time_marks(NOW - 10 * MINUTE, NOW, UTC, label_minutes=1, mark_minutes=1)
    assert [m.at for m in marks] == [NOW - k * MINUTE for k in range(9, -1, -1)]
    assert [m.label for m in marks[:3]] == ["21:51", "21:52", "21:53"]
    for k in range(1, 10):
        x = int(120 + k * 824 / 10)
        assert image.getpixel((x, axis_top + 6)) == TICK, k  # a labelled mark is 8 px
        assert image.getpixel((x + 20, axis_top + 2)) == BACKGROUND, k


def test_a_span_of_a_few_hours_has_marks_every_few_minutes():
    place = layout((history("bus", (NOW - 3 * HOUR, HEALTHY)),), NOW)
    assert place.start == NOW - 3 * HOUR
    assert mark_steps(place) == (10, 5)  # 10 min is 45.8 px: labels just far enough apart
    assert mark_steps(layout(KNOWN, NOW)) == (120, 60)  # a day: every other hour, as ever


@pytest.mark.parametrize(("span", "label"), [
    (10 * MINUTE, "10 min"), (10 * MINUTE + 20, "10 min"), (3 * HOUR + 25 * MINUTE,
                                                            "3 h 25 min"),
    (24 * HOUR, "24 h"), (30 * HOUR, "24 h")])
def test_the_span_is_said_to_the_minute(span, label):
    assert span_label(NOW - span, NOW) == label


# -- the hour marks --------------------------------------------------------------------------

def test_hour_marks_fall_on_every_full_hour_and_are_labelled_every_other_hour():
    image = picture(KNOWN)
    axis_top = 30 + 3 * 26 - 6 + 4
    marks = time_marks(START, NOW, UTC, label_minutes=120)
    assert [m.at for m in marks] == [START + k * HOUR for k in range(1, 25)]
    assert [m.label for m in marks[:5]] == ["", "14 Nov", "", "02:00", ""]
    assert marks[-1].label == "22:00"
    for k in range(1, 24):
        x = int(120 + k * 824 / 24)
        assert image.getpixel((x, axis_top + 2)) == TICK, k
        assert image.getpixel((x + 17, axis_top + 2)) == BACKGROUND, k


def test_hour_marks_follow_the_zone_half_hour_offsets_and_daylight_saving():
    kolkata = time_marks(START, NOW, ZoneInfo("Asia/Kolkata"))
    assert len(kolkata) == 24
    assert all(m.at % HOUR == 1800 for m in kolkata)  # UTC+5:30: local hours at :30 UTC
    assert kolkata[0].label == "04:00"  # 22:30 UTC
    # Oslo springs forward at 01:00 UTC on 31 March 2024: 02:00 local never happens.
    spring = 1_711_886_400.0  # 2024-03-31 12:00 UTC
    oslo = time_marks(spring - 86400, spring, ZoneInfo("Europe/Oslo"))
    labels = [m.label for m in oslo]
    assert len(oslo) == 24
    assert "01:00" in labels and "03:00" in labels and "02:00" not in labels
    assert labels[-1] == "14:00"


def test_the_picture_is_drawn_in_the_hubs_zone():
    utc = picture(KNOWN, UTC)
    kolkata = picture(KNOWN, ZoneInfo("Asia/Kolkata"))
    axis_top = 30 + 3 * 26 - 6 + 4
    x_full_utc_hour = int(120 + 5 * 824 / 24)
    x_half_hour = int(120 + 5.5 * 824 / 24)
    assert utc.getpixel((x_full_utc_hour, axis_top + 2)) == TICK
    assert kolkata.getpixel((x_full_utc_hour, axis_top + 2)) == BACKGROUND
    assert kolkata.getpixel((x_half_hour, axis_top + 2)) == TICK


# -- what the recorder remembers -------------------------------------------------------------

def snapshot(component: str, state: HealthState, since: float) -> Snapshot:
    return Snapshot(component=component, state=state, since=since)


def test_the_recorder_keeps_each_change_at_the_instant_the_machine_entered_it():
    recorder = StatusRecorder("shelf-pi", NOW - 100)
    recorder.publish(NOW - 100, [snapshot("weather", HEALTHY, NOW - 100),
                                 snapshot("bus", HEALTHY, NOW - 100)], None, 0)
    recorder.publish(NOW - 99, [snapshot("weather", HEALTHY, NOW - 100),
                                snapshot("bus", HEALTHY, NOW - 100)], None, 0)
    recorder.publish(NOW - 50, [snapshot("weather", SUSPECT, NOW - 50.4),
                                snapshot("bus", HEALTHY, NOW - 100)], None, 0)
    status = recorder.publish(NOW, [snapshot("weather", ALERTING, NOW - 20.7),
                                    snapshot("bus", HEALTHY, NOW - 100)], None, 0)
    assert status.history == (
        history("bus", (NOW - 100, HEALTHY)),
        history("weather", (NOW - 100, HEALTHY), (NOW - 50.4, SUSPECT),
                (NOW - 20.7, ALERTING)),
    )


def test_history_older_than_a_day_is_forgotten_except_the_state_the_day_began_in():
    states = StateHistory()
    states.record("nas", START - 5 * HOUR, HEALTHY)
    states.record("nas", START - 4 * HOUR, ALERTING)
    states.record("nas", START - 2 * HOUR, RECOVERED)
    states.record("nas", START + HOUR, HEALTHY)
    states.observe([], NOW)
    assert states.freeze() == (history("nas", (START - 2 * HOUR, RECOVERED),
                                       (START + HOUR, HEALTHY)),)


def test_a_flapping_component_keeps_a_bounded_history_newest_kept():
    states = StateHistory()
    for i in range(MAX_CHANGES + 500):
        states.record("feeder", START + i, ALERTING if i % 2 else HEALTHY)
    [feeder] = states.freeze()
    assert len(feeder.changes) == MAX_CHANGES
    assert feeder.changes[-1] == StateChange(START + MAX_CHANGES + 499, ALERTING)


def test_a_restart_can_seed_the_history_with_journaled_changes_before_publishing():
    recorder = StatusRecorder("shelf-pi", NOW)
    for at, state in ((NOW - 5 * HOUR, ALERTING), (NOW - 4 * HOUR, RECOVERED),
                      (NOW - 3 * HOUR, HEALTHY)):
        recorder.history.record("weather", at, state)
    # the restored machine is healthy since 3 h ago: nothing new to record
    status = recorder.publish(NOW, [snapshot("weather", HEALTHY, NOW - 3 * HOUR)], None, 0)
    assert status.history == (history("weather", (NOW - 5 * HOUR, ALERTING),
                                      (NOW - 4 * HOUR, RECOVERED), (NOW - 3 * HOUR, HEALTHY)),)


def test_a_state_entered_earlier_than_the_last_change_is_placed_after_it():
    states = StateHistory()
    states.record("bus", NOW, SUSPECT)
    states.record("bus", NOW - 10, HEALTHY)  # a restored machine's older `since`
    assert states.freeze() == (history("bus", (NOW, SUSPECT), (NOW, HEALTHY)),)


def test_journaled_transitions_seed_the_history_with_the_state_the_day_began_in(tmp_path):
    from hub.storage.journal import Transition

    transitions = [Transition("weather", HEALTHY, SUSPECT, START + HOUR),
                   Transition("weather", SUSPECT, ALERTING, START + 2 * HOUR),
                   Transition("bus", ALERTING, RECOVERED, START + 3 * HOUR),
                   Transition("weather", ALERTING, RECOVERED, START + 4 * HOUR)]
    recorder = StatusRecorder("shelf-pi", NOW)
    recorder.history.seed(transitions, since=START)
    status = recorder.publish(NOW, [snapshot("bus", RECOVERED, START + 3 * HOUR),
                                    snapshot("weather", HEALTHY, NOW - 60)], None, 0)
    assert status.history == (
        history("bus", (START, ALERTING), (START + 3 * HOUR, RECOVERED)),
        history("weather", (START, HEALTHY), (START + HOUR, SUSPECT),
                (START + 2 * HOUR, ALERTING), (START + 4 * HOUR, RECOVERED),
                (NOW - 60, HEALTHY)),
    )


def test_without_a_configured_zone_the_marks_follow_the_systems_zone(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        marks = time_marks(START, NOW, None)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert len(marks) == 24
    assert all(m.at % HOUR == 1800 for m in marks)
    assert picture(KNOWN, zone=None).size == picture(KNOWN).size
