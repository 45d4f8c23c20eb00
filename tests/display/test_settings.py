"""`[display]`: read through the real config loader, every error naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import ConfigError, load_config, parse_config
from hub.display.render import render
from hub.display.settings import DisplaySettings
from hub.sources.data import BusBoard
from machines.states import HealthState
from tests.display.scenes import MORNING, OSLO, morning_board

HUB_TOML = Path("/etc/divoom-hub/hub.toml")


def test_an_absent_section_means_the_defaults() -> None:
    config = parse_config({"hub": {"name": "kitchen"}}, HUB_TOML)
    assert config.display is None
    assert DisplaySettings().language == "no"


def test_display_section_is_read_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_text('[display]\nlanguage = "en"\nwalk_seconds = 300\nsoon_seconds = 720\n'
                    'bus_label = "quay"\nbus_stale_after_seconds = 240\n'
                    "weather_stale_after_seconds = 10800\nmessage_page_seconds = 4\n"
                    "message_break_seconds = 0\n", encoding="utf-8")
    assert load_config(path).display == DisplaySettings(
        language="en", walk_seconds=300.0, soon_seconds=720.0, bus_label="quay",
        bus_stale_after_seconds=240.0, weather_stale_after_seconds=10800.0,
        message_page_seconds=4.0, message_break_seconds=0.0)


def test_a_long_walk_moves_the_default_soon_threshold_along() -> None:
    settings = DisplaySettings.from_table({"walk_seconds": 600}, HUB_TOML)
    assert (settings.walk_seconds, settings.soon_seconds) == (600.0, 900.0)


@pytest.mark.parametrize(("table", "message"), [
    ({"langauge": "en"}, r"\[display\] langauge: unknown key \(known: bus_label, "),
    ({"language": "sv"}, r"\[display\] language: expected one of 'no', 'en', got 'sv'"),
    ({"bus_label": "stop"}, r"\[display\] bus_label: expected one of 'destination', 'quay'"),
    ({"walk_seconds": "4 min"}, r"\[display\] walk_seconds: expected seconds from 0 to "
                                r"86400, got '4 min'"),
    ({"walk_seconds": True}, r"\[display\] walk_seconds: expected seconds"),
    ({"walk_seconds": -1}, r"\[display\] walk_seconds: expected seconds"),
    ({"walk_seconds": 300, "soon_seconds": 200},
     r"\[display\] soon_seconds: expected at least walk_seconds \(300\), got 200"),
    ({"message_page_seconds": 0}, r"\[display\] message_page_seconds: expected seconds from 1 "),
    ({"bus_stale_after_seconds": float("nan")}, r"\[display\] bus_stale_after_seconds: expected"),
])
def test_bad_values_name_the_file_and_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{HUB_TOML}: {message}"):
        parse_config({"display": table}, HUB_TOML)


def test_view_carries_the_settings_and_the_latest_data_into_a_frame() -> None:
    settings = DisplaySettings(language="en", walk_seconds=60.0, soon_seconds=120.0,
                               bus_label="quay", bus_stale_after_seconds=30.0)
    board: BusBoard = morning_board()
    health = {"bus": HealthState.ALERTING}
    view = settings.view(MORNING, OSLO, bus=board, health=health)
    assert (view.now, view.zone, view.language, view.bus, view.weather) == (
        MORNING, OSLO, "en", board, None)
    assert (view.walk_seconds, view.soon_seconds, view.bus_label) == (60.0, 120.0, "quay")
    assert view.is_alerting and not view.is_bus_stale
    health["bus"] = HealthState.HEALTHY  # the view keeps its own copy
    assert view.is_alerting
    assert render(view).size == (64, 64)
