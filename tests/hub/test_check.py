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
