"""`[[maintenance]]`: read from hub.toml with errors naming file and key, and recurring in
the hub's timezone at the same local time across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.config import ConfigError, load_config
from hub.maintenance import MaintenanceWindow, occurrences
from machines.silences import ALL, parse_duration

OSLO = ZoneInfo("Europe/Oslo")
NEW_YORK = ZoneInfo("America/New_York")


def at(text: str, zone: ZoneInfo = OSLO) -> float:
    """Epoch seconds of a local time written `YYYY-MM-DD HH:MM` in `zone`."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=zone).timestamp()


def local(seconds: float, zone: ZoneInfo = OSLO) -> str:
    return datetime.fromtimestamp(seconds, UTC).astimezone(zone).strftime("%a %Y-%m-%d %H:%M")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- occurrences ----------------------------------------------------------------------

def test_a_nightly_window_starts_at_the_same_local_time_across_both_dst_changes():
    nightly = MaintenanceWindow(frozenset({"bus"}), start_minute=60, duration_seconds=7200)
    # Oslo: clocks go forward on Sun 2025-03-30 02:00, back on Sun 2025-10-26 03:00
    spring = nightly.occurrences(at("2025-03-29 00:00"), at("2025-03-31 12:00"), OSLO)
    assert [local(w.start) for w in spring] == [
        "Sat 2025-03-29 01:00", "Sun 2025-03-30 01:00", "Mon 2025-03-31 01:00"]
    assert [local(w.end) for w in spring] == [
        "Sat 2025-03-29 03:00", "Sun 2025-03-30 04:00", "Mon 2025-03-31 03:00"]
    assert all(w.end - w.start == 7200 for w in spring)  # real time: DST never stretches it
    autumn = nightly.occurrences(at("2025-10-25 00:00"), at("2025-10-27 12:00"), OSLO)
    assert [local(w.start) for w in autumn] == [
        "Sat 2025-10-25 01:00", "Sun 2025-10-26 01:00", "Mon 2025-10-27 01:00"]
    assert autumn[1].start - autumn[0].start == 86400
    assert autumn[2].start - autumn[1].start == 86400 + 3600  # the day that lasted 25 h


def test_a_start_the_clocks_skip_begins_once_they_moved_on_and_a_repeated_one_the_first_time():
    window = MaintenanceWindow(frozenset({ALL}), start_minute=2 * 60 + 30, duration_seconds=600,
                               days=frozenset({6}))  # Sundays 02:30
    skipped = window.occurrences(at("2025-03-30 00:00"), at("2025-03-30 12:00"), OSLO)
    assert [local(w.start) for w in skipped] == ["Sun 2025-03-30 03:30"]
    repeated = window.occurrences(at("2025-10-26 00:00"), at("2025-10-26 12:00"), OSLO)
    assert len(repeated) == 1
    assert repeated[0].start == datetime(2025, 10, 26, 0, 30, tzinfo=UTC).timestamp()  # CEST


def test_only_the_chosen_days_and_every_occurrence_overlapping_the_span():
    weekend = MaintenanceWindow(frozenset({"bus"}), start_minute=23 * 60, days=frozenset({5, 6}),
                                duration_seconds=4 * 3600, reason="backups")
    # from Sunday 01:00 (inside Saturday's window) to the next Saturday noon
    found = weekend.occurrences(at("2025-06-01 01:00"), at("2025-06-07 12:00"), OSLO)
    assert [local(w.start) for w in found] == ["Sat 2025-05-31 23:00", "Sun 2025-06-01 23:00"]
    assert {(w.components, w.reason) for w in found} == {(frozenset({"bus"}), "backups")}


def test_occurrences_of_several_windows_come_in_time_order():
    early = MaintenanceWindow(frozenset({"bus"}), start_minute=60, duration_seconds=60)
    late = MaintenanceWindow(frozenset({"weather"}), start_minute=30, duration_seconds=60)
    found = occurrences([early, late], at("2025-01-01 00:00", NEW_YORK),
                        at("2025-01-02 23:00", NEW_YORK), NEW_YORK)
    assert [local(w.start, NEW_YORK)[-5:] for w in found] == ["00:30", "01:00", "00:30", "01:00"]


@given(start_minute=st.integers(0, 24 * 60 - 1),
       duration=st.integers(60, 7 * 86400),
       day=st.integers(0, 800),
       zone=st.sampled_from([OSLO, NEW_YORK, ZoneInfo("Australia/Lord_Howe"), UTC]))
def test_every_occurrence_starts_at_its_local_time_unless_the_clocks_skipped_it(
        start_minute, duration, day, zone):
    window = MaintenanceWindow(frozenset({ALL}), start_minute, float(duration))
    since = datetime(2024, 1, 1, tzinfo=UTC).timestamp() + day * 86400
    found = window.occurrences(since, since + 3 * 86400, zone)
    assert found, "a daily window occurs within three days"
    for occurrence in found:
        assert occurrence.end - occurrence.start == duration
        assert occurrence.end > since and occurrence.start <= since + 3 * 86400
        start = datetime.fromtimestamp(occurrence.start, UTC).astimezone(zone)
        wanted = start_minute
        shown = start.hour * 60 + start.minute
        # the same local time, or later by the skipped hour (or half hour on Lord Howe)
        assert shown == wanted or 0 < (shown - wanted) % (24 * 60) <= 60
    starts = [w.start for w in found]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)


# -- durations ------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "seconds"), [
    ("30m", 1800), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("90s", 90), (" 2H ", 7200)])
def test_durations_read_as_operators_write_them(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "2", "1.5h", "-1h", "30 m", "2h1d", "m30"])
def test_a_duration_that_is_not_one_is_refused(text):
    with pytest.raises(ValueError, match="expected a duration such as 30m, 2h, 1d or 1h30m"):
        parse_duration(text)


# -- hub.toml -------------------------------------------------------------------------

def test_maintenance_tables_and_the_kill_switch_are_read(tmp_path):
    config = load_config(write(tmp_path, """
[hub]
notifications = false
timezone = "Europe/Oslo"

[[maintenance]]
components = ["bus", "weather"]
days = ["sat", "Sun"]
start = "02:00"
duration = "1h30m"
reason = "router updates"

[[maintenance]]
components = "*"
start = "4:05"
duration = "10m"
"""))
    assert config.hub.notifications is False
    assert config.maintenance == (
        MaintenanceWindow(frozenset({"bus", "weather"}), 120, 5400, frozenset({5, 6}),
                          "router updates"),
        MaintenanceWindow(frozenset({"*"}), 245, 600))


def test_without_them_notifications_are_on_and_nothing_recurs(tmp_path):
    config = load_config(write(tmp_path, "[hub]\n"))
    assert config.hub.notifications is True and config.maintenance == ()


GOOD = 'components = ["bus"]\nstart = "02:00"\nduration = "2h"\n'


@pytest.mark.parametrize(("text", "message"), [
    ("[hub]\nnotifications = 0\n", "[hub] notifications: expected true or false, got 0"),
    ("[hub]\nnotifications = 'off'\n",
     "[hub] notifications: expected true or false, got 'off'"),
    ("maintenance = 3\n", "maintenance: expected [[maintenance]] tables, got 3"),
    ("[[maintenance]]\n" + GOOD + "reson = 'x'\n",
     "[[maintenance]] #1: reson: unknown key (known: components, days, duration, reason, "
     "start)"),
    ('[[maintenance]]\nstart = "02:00"\nduration = "2h"\n',
     '[[maintenance]] #1: components: expected a list of component names, or "*" for every '
     "component, got None"),
    ('[[maintenance]]\ncomponents = []\nstart = "02:00"\nduration = "2h"\n',
     "components: expected a list of component names"),
    ('[[maintenance]]\ncomponents = "bus"\nstart = "02:00"\nduration = "2h"\n',
     "components: expected a list of component names"),
    ('[[maintenance]]\ncomponents = ["buss"]\nstart = "02:00"\nduration = "2h"\n',
     "[[maintenance]] #1: components: no component is named 'buss' (known: bus, weather, "
     "pixoo, discord, hub)"),
    ("[[maintenance]]\n" + GOOD + 'days = ["saturday"]\n',
     "[[maintenance]] #1: days: expected a list of days from mon, tue, wed, thu, fri, sat, "
     "sun, got ['saturday']"),
    ("[[maintenance]]\n" + GOOD + "days = []\n", "days: expected a list of days"),
    ('[[maintenance]]\ncomponents = ["bus"]\nstart = "24:00"\nduration = "2h"\n',
     "[[maintenance]] #1: start: expected a local time \"HH:MM\" from \"00:00\" to "
     "\"23:59\", got '24:00'"),
    ('[[maintenance]]\ncomponents = ["bus"]\nstart = "2am"\nduration = "2h"\n',
     "start: expected a local time"),
    ('[[maintenance]]\ncomponents = ["bus"]\nstart = 2\nduration = "2h"\n',
     "start: expected a local time"),
    ('[[maintenance]]\ncomponents = ["bus"]\nstart = "02:00"\nduration = "8d"\n',
     "[[maintenance]] #1: duration: expected a duration such as 30m, 2h or 1d, at most 7d, "
     "got '8d'"),
    ('[[maintenance]]\ncomponents = ["bus"]\nstart = "02:00"\nduration = 7200\n',
     "duration: expected a duration such as 30m"),
    ('[[maintenance]]\ncomponents = ["bus"]\nstart = "02:00"\nduration = "0m"\n',
     "duration: expected a duration such as 30m"),
    ('[[maintenance]]\ncomponents = ["bus"]\nstart = "02:00"\n',
     "duration: expected a duration such as 30m, 2h or 1d, at most 7d, got None"),
])
def test_a_bad_maintenance_table_or_kill_switch_names_file_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_replay_lets_a_window_name_a_component_of_the_history(tmp_path):
    path = write(tmp_path, '[[maintenance]]\ncomponents = ["my api"]\nstart = "02:00"\n'
                           'duration = "2h"\n')
    assert load_config(path, history={"my api"}).maintenance[0].components \
        == frozenset({"my api"})
    with pytest.raises(ConfigError, match="or a component of the history"):
        load_config(path, history={"bus"})
