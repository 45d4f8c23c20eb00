"""docs/alerting-rules.md: every `replay` command it quotes prints what it says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.cli import main

REPO = Path(__file__).resolve().parents[1]
GUIDE = (REPO / "docs" / "alerting-rules.md").read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```sh\n\.venv/bin/divoom-hub (replay [^\n]+)\n```\n\n```json\n(.+?)\n```",
                      GUIDE, flags=re.DOTALL)


def test_the_guide_has_a_section_and_examples_for_every_rule():
    # the error rate, the defaults, flapping twice (settling working and failing), and
    # dependencies
    assert len(EXAMPLES) == 5
    for heading in ("## Error rate", "## Slow answers", "## Defaults per component",
                    "## Flapping", "## Dependencies"):
        assert heading in GUIDE


@pytest.mark.parametrize(("command", "quoted"), EXAMPLES)
def test_each_quoted_replay_prints_what_the_guide_says(capsys, command, quoted):
    args = [str(REPO / arg) if arg.startswith("docs/") else arg for arg in command.split()]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert (out.splitlines(), err) == (quoted.splitlines(), "")
