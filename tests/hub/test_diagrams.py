"""`divoom-hub diagrams`: generated from the running table, checked in CI."""

from __future__ import annotations

from pathlib import Path

from hub.cli import main
from machines.diagram import (
    health_markdown,
    health_mermaid,
    notification_markdown,
    notification_mermaid,
)
from machines.health import TRANSITIONS
from machines.notification import TRANSITIONS as NOTIFICATION_TRANSITIONS
from machines.notification import NotificationState
from machines.states import HealthState

REPO = Path(__file__).resolve().parents[2]


def test_checked_in_diagram_is_up_to_date():
    assert (REPO / "diagrams" / "health.md").read_text(encoding="utf-8") == health_markdown()


def test_diagram_shows_all_five_states_and_every_guard_on_its_edge():
    text = health_mermaid()
    for state in HealthState:
        assert f'state "{state.value}" as {state.name}' in text
    assert ("SUSPECT --> ALERTING: failure [threshold_met] | failure [error_rate_met] "
            "| tick [threshold_met]") in text
    assert "HEALTHY --> ALERTING: failure [threshold_met] | failure [error_rate_met]" in text
    assert "RECOVERED --> HEALTHY: tick [settled]" in text
    assert "REMINDING --> RECOVERED: success [recovery_met & error_rate_cleared]" in text
    guards = {guard for row in TRANSITIONS if "conditions" in row
              for guard in ([row["conditions"]] if isinstance(row["conditions"], str)
                            else row["conditions"])}
    assert {"error_rate_met", "error_rate_cleared"} <= guards
    legend = health_markdown()
    assert all(f"| `{guard}` |" in legend for guard in guards)


def test_highlight_marks_only_the_current_state():
    text = health_mermaid(HealthState.REMINDING)
    assert "Class REMINDING s_active" in text
    assert text.count(" s_active\n") == 1
    assert "[*] --> HEALTHY" in text


def test_check_fails_on_a_stale_file_and_writing_fixes_it(tmp_path, capsys):
    (tmp_path / "health.md").write_text("old", encoding="utf-8")
    assert main(["diagrams", "--check", "--dir", str(tmp_path)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main(["diagrams", "--dir", str(tmp_path)]) == 0
    assert main(["diagrams", "--check", "--dir", str(tmp_path)]) == 0


def test_check_fails_when_the_diagram_is_missing(tmp_path):
    assert main(["diagrams", "--check", "--dir", str(tmp_path / "none")]) == 1


def test_checked_in_notification_diagram_is_up_to_date():
    assert (REPO / "diagrams" / "notification.md").read_text(encoding="utf-8") \
        == notification_markdown()


def test_notification_diagram_shows_its_states_rows_and_guards():
    text = notification_mermaid()
    for state in NotificationState:
        assert f'state "{state.value}" as {state.name}' in text
    assert "QUIET --> OPEN_HELD: alert [is_silenced]" in text
    assert "OPEN_HELD --> OPEN_SENT: alert | tick [is_settle_due] | " \
        "tick [!is_silenced & !is_flapping]" in text
    assert "QUIET --> OPEN_FOLDED: alert [is_folding]" in text
    legend = notification_markdown()
    assert "| tick | `open_held` | not `is_silenced` and not `is_flapping` | `open_sent` " \
        "| `send_held_alert` |" in legend
    assert "| alert | `quiet`, `open_sent`, `open_held`, `open_folded` | `would_flap` " \
        "| `open_held` | `start_flapping`, `hold` |" in legend
    for row in NOTIFICATION_TRANSITIONS:
        for key in ("conditions", "unless"):
            names = row.get(key) or []
            for name in [names] if isinstance(names, str) else names:
                assert f"| `{name}` |" in legend


def test_check_covers_the_notification_diagram(tmp_path, capsys):
    assert main(["diagrams", "--dir", str(tmp_path)]) == 0
    (tmp_path / "notification.md").write_text("old", encoding="utf-8")
    assert main(["diagrams", "--check", "--dir", str(tmp_path)]) == 1
    assert "notification.md is out of date" in capsys.readouterr().err
