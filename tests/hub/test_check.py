"""`divoom-hub check`: one line per thing checked, exit code 1 when any failed."""

from __future__ import annotations

from hub.cli import main
from tests.fakes.target import Target


def write_config(tmp_path, *urls: str):
    path = tmp_path / "hub.toml"
    monitors = "".join(
        f"[[monitor]]\nkind = 'http'\nname = 'site{i}'\nurl = '{url}'\ntimeout_seconds = 1\n"
        for i, url in enumerate(urls))
    path.write_text(f"[hub]\nstate_dir = 'state'\n{monitors}", encoding="utf-8")
    return path


def test_reachable_monitors_pass(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DISCORD_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
    with Target().running() as target:
        code = main(["check", "-c", str(write_config(tmp_path, target.url))])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[0].split()[:2] == ["config", "ok"] and "1 monitors" in lines[0]
    assert lines[-1].split()[:3] == ["site0", "ok", "answered"]


def test_a_failing_monitor_fails_the_check_and_says_why(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DISCORD_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
    with Target().running() as up, Target().running() as down:
        down.status = 500
        code = main(["check", "-c", str(write_config(tmp_path, up.url, down.url))])
    out = capsys.readouterr().out
    assert code == 1
    assert "site0        ok" in out
    assert "site1        FAIL  http_500: 500 Internal Server Error (expected 200-399)" in out


def test_a_bad_config_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "hub.toml"
    path.write_text("[hub]\nnmae = 'typo'\n", encoding="utf-8")
    assert main(["check", "-c", str(path)]) == 2
    assert "[hub] nmae: unknown key" in capsys.readouterr().err


def test_dashboard_sources_are_polled_once_and_the_pixoo_pinged(tmp_path, capsys, monkeypatch):
    import time

    from tests.fakes.entur import Call, FakeEntur
    from tests.fakes.met import FakeMet, compact_document
    from tests.fakes.pixoo import FakePixoo

    monkeypatch.delenv("DISCORD_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
    now = time.time()
    entur = FakeEntur(now)
    entur.add_quay("NSR:Quay:7184", "Storo", [Call("31", "Tonsenhagen", 5)])
    met = FakeMet(now, compact_document(now - now % 3600, [4.0, 5.0]))
    with entur.running(), met.running(), FakePixoo() as pixoo:
        path = tmp_path / "hub.toml"
        path.write_text(f"""
[bus]
endpoint = "{entur.url}"
client_name = "divoomhub-tests"
quays = ["NSR:Quay:7184", "NSR:Quay:404"]
labels = ["A", "B"]
[weather]
endpoint = "{met.url}"
lat = 59.91
lon = 10.75
user_agent = "divoom-hub-tests hub@example.com"
[pixoo]
address = "{pixoo.address}"
timeout_seconds = 1
""", encoding="utf-8")
        code = main(["check", "-c", str(path)])
        pinged = list(pixoo.commands)
    out = capsys.readouterr().out
    assert code == 1  # one quay is unknown: the check says which
    assert "bus, weather, pixoo" in out.splitlines()[0]
    assert "bus          FAIL  quay: quay B (NSR:Quay:404)" in out
    assert "weather      ok    answered" in out
    assert "pixoo        ok    answered" in out
    assert pinged == ["Channel/GetAllConf"]  # a ping, and nothing drawn
