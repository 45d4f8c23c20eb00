"""`divoom-hub preview`: what the Pixoo would show now, drawn into a PNG and sent nowhere.

The sources are the real protocol fakes (Entur, MET); the machines' states and the
display message come from the state folder, as the daemon leaves them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image

from hub.cli import main
from hub.config import load_config
from hub.dashboard import Dashboard
from hub.display.messages import MessageBoard, Post
from hub.display.pages import PageKind
from hub.display.screens import render_page
from hub.display.settings import DisplaySettings
from hub.display.view import DisplayMessage
from hub.frame_now import frame_now
from hub.storage.journal import Journal
from machines import Snapshot
from machines.states import HealthState
from tests.fakes.entur import Call, FakeEntur
from tests.fakes.met import FakeMet, compact_document


def write_config(tmp_path: Path, entur: FakeEntur, met: FakeMet, pages: str = "") -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(f"""
[hub]
state_dir = "state"
timezone = "Europe/Oslo"
[bus]
endpoint = "{entur.url}"
client_name = "divoomhub-tests"
quays = ["NSR:Quay:7184"]
labels = ["A"]
[weather]
endpoint = "{met.url}"
lat = 59.91
lon = 10.75
user_agent = "divoom-hub-tests hub@example.com"
{pages}""", encoding="utf-8")
    return path


@pytest.fixture
def sources():
    now = time.time()
    entur = FakeEntur(now)
    entur.add_quay("NSR:Quay:7184", "Storo", [Call("31", "Tonsenhagen", 5),
                                              Call("37", "Helsfyr", 12)])
    met = FakeMet(now, compact_document(now - now % 3600, [4.0, 5.0]))
    with entur.running(), met.running():
        yield entur, met


def test_the_frame_is_the_page_whose_turn_it_is_with_the_saved_state(tmp_path, sources):
    entur, met = sources
    config = load_config(write_config(tmp_path, entur, met, """
[[page]]
show = "alerts"
seconds = 10
[[page]]
show = "bus"
seconds = 10
"""))
    state = config.hub.state_dir
    state.mkdir()
    now = time.time()
    snapshots = (Snapshot("weather", HealthState.ALERTING, since=now - 600),
                 Snapshot("bus", HealthState.HEALTHY, since=now - 9000))
    with Journal(state / "outbox.sqlite") as journal:
        journal.write(now, snapshots)
    MessageBoard(state).apply(Post(DisplayMessage("Hei", "Åse", posted_at=now)))

    frame = frame_now(config, clock=lambda: now)

    assert frame.page == "alerts"  # the weather incident the daemon saved is open
    expected = Dashboard(DisplaySettings(), config.hub.zone(), machines=lambda: snapshots,
                         messages=MessageBoard(state))
    assert frame.image.tobytes() == render_page(PageKind.ALERTS,
                                                expected.view(now)).tobytes()
    # Without the incident the alerts page has nothing to show: the buses are polled.
    with Journal(state / "outbox.sqlite") as journal:
        journal.write(now, (Snapshot("weather", HealthState.HEALTHY, since=now),))
    frame = frame_now(config, clock=lambda: now)
    assert frame.page == "bus"
    assert len(entur.requests) == 2 and met.requests  # each preview polls the buses once


def test_the_cli_writes_the_asked_page_eight_times_as_large(tmp_path, sources, capsys):
    entur, met = sources
    path = write_config(tmp_path, entur, met)
    out = tmp_path / "clock.png"
    assert main(["preview", "-c", str(path), "--page", "clock", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}: the clock page, 512x512"
    with Image.open(out) as image:
        assert image.size == (512, 512)
        small = image.convert("RGB").resize((64, 64), Image.Resampling.NEAREST)
    # The picture is the frame, pixel for pixel: each LED is an 8×8 square.
    with Image.open(out) as image:
        assert image.convert("RGB").resize((64, 64), Image.Resampling.BOX).tobytes() \
            == small.tobytes()
    assert small.getbbox() is not None


def test_without_pages_the_preview_is_the_dashboard(tmp_path, sources, capsys):
    entur, met = sources
    out = tmp_path / "now.png"
    path = write_config(tmp_path, entur, met)
    assert main(["preview", "-c", str(path), "--out", str(out), "--scale", "1"]) == 0
    assert "the dashboard page, 64x64" in capsys.readouterr().out
    assert not (tmp_path / "state").exists()  # a preview leaves no state behind


def test_an_unknown_page_lists_the_names_there_are(tmp_path, sources, capsys):
    entur, met = sources
    path = write_config(tmp_path, entur, met, "[[page]]\nshow = 'clock'\nseconds = 5\n"
                                              "name = 'night'\n")
    assert main(["preview", "-c", str(path), "--page", "weather"]) == 2
    assert capsys.readouterr().err.strip() == (
        "divoom-hub preview: --page: no page is named 'weather' (there are: night, "
        "dashboard, clock, bus, alerts, message)")


def test_a_bad_page_table_is_a_config_error(tmp_path, sources, capsys):
    entur, met = sources
    path = write_config(tmp_path, entur, met, "[[page]]\nshow = 'clock'\nseconds = 'x'\n")
    assert main(["preview", "-c", str(path)]) == 2
    assert f"{path}: [[page]] #1: seconds: expected seconds from 2" in capsys.readouterr().err


def test_a_folder_that_cannot_be_written_is_said(tmp_path, sources, capsys):
    entur, met = sources
    path = write_config(tmp_path, entur, met)
    out = tmp_path / "missing" / "frame.png"
    assert main(["preview", "-c", str(path), "--out", str(out)]) == 1
    assert f"{out}: cannot write" in capsys.readouterr().err


def test_a_damaged_state_file_is_a_warning_and_the_frame_is_still_drawn(tmp_path, sources,
                                                                       capsys):
    entur, met = sources
    path = write_config(tmp_path, entur, met)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "outbox.sqlite").write_bytes(b"not a database at all" * 100)
    out = tmp_path / "now.png"
    assert main(["preview", "-c", str(path), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"divoom-hub preview: warning: {tmp_path / 'state' / 'outbox.sqlite'}"
                          ": cannot read the saved states")
    assert out.exists()
