"""The health machine as the status page draws it, measured by a real browser: every
transition label can be read (no curve runs through it, none covers another or a state)
and reads as its own curve's (no other curve is as near), in the fonts Chromium uses.

CI installs Debian's `chromium` (.ci/run); without the binary this module is skipped.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from hub.web.diagram import diagram_edges, health_svg
from machines import HealthState, Snapshot
from tests.web.browser import chromium, needs_chromium

pytestmark = needs_chromium

NOW = 1_700_000_000.0

#: Measures the drawing where it is drawn: each transition label's box (the text after
#: its curve), each curve sampled every pixel, each state box; writes what is wrong
#: into #result.
MEASURE = """
try {
const svg = document.querySelector("svg.diagram");
const curves = [...svg.querySelectorAll("path.edge")].map((path) => {
  const length = path.getTotalLength();
  const points = [];
  for (let at = 0; at <= length; at += 1) points.push(path.getPointAtLength(at));
  return points;
});
const pad = 2;
const labels = [...svg.querySelectorAll("path.edge")].map((path, index) => {
  const text = path.nextElementSibling;
  const b = text.getBBox();
  return {text: text.textContent, curve: index,
          box: {x: b.x - pad, y: b.y - pad, width: b.width + 2 * pad,
                height: b.height + 2 * pad}};
});
const boxes = [...svg.querySelectorAll("g.state > rect")].map((r) => r.getBBox());
const distance = (p, b) => Math.hypot(Math.max(b.x - p.x, 0, p.x - b.x - b.width),
                                      Math.max(b.y - p.y, 0, p.y - b.y - b.height));
const nearest = (points, b) => Math.min(...points.map((p) => distance(p, b)));
const overlap = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width &&
                          a.y < b.y + b.height && b.y < a.y + a.height;
const problems = [];
const view = svg.viewBox.baseVal;
for (const label of labels) {
  const gaps = curves.map((points) => nearest(points, label.box));
  gaps.forEach((gap, index) => {
    if (gap === 0) problems.push(`a curve crosses "${label.text}"`);
    else if (index !== label.curve && gap <= gaps[label.curve]) {
      problems.push(`"${label.text}" is nearer another curve than its own`);
    }
  });
  for (const other of labels) {
    if (other !== label && overlap(label.box, other.box)) {
      problems.push(`"${label.text}" covers "${other.text}"`);
    }
  }
  for (const box of boxes) {
    if (overlap(label.box, box)) problems.push(`"${label.text}" covers a state`);
  }
  const b = label.box;
  if (b.x < 0 || b.y < 0 || b.x + b.width > view.width || b.y + b.height > view.height) {
    problems.push(`"${label.text}" leaves the picture`);
  }
}
document.getElementById("result").textContent = JSON.stringify(
  {labels: labels.map((l) => l.text), problems: [...new Set(problems)]});
} catch (error) {
  document.getElementById("result").textContent = JSON.stringify(
    {labels: [], problems: ["the measuring script failed: " + error]});
}
"""


def measure(svg: str, tmp_path: Path) -> dict[str, list[str]]:
    page = tmp_path / "diagram.html"
    page.write_text('<!doctype html><html><head><meta charset="utf-8"></head><body>'
                    f'{svg}<pre id="result"></pre><script>{MEASURE}</script></body></html>',
                    encoding="utf-8")
    dom = asyncio.run(chromium(tmp_path, "--dump-dom", page.as_uri())).decode()
    result = dom.split('<pre id="result">', 1)[1].split("</pre>", 1)[0]
    return json.loads(result.replace("&quot;", '"').replace("&amp;", "&"))


def snap(component: str, state: HealthState) -> Snapshot:
    return Snapshot(component=component, state=state, since=NOW - 600)


@pytest.mark.parametrize("machines", [
    pytest.param((), id="nothing watched"),
    pytest.param((snap("bus", HealthState.HEALTHY), snap("weather", HealthState.ALERTING),
                  snap("router", HealthState.REMINDING), snap("nas", HealthState.RECOVERED)),
                 id="one in each"),
    pytest.param(tuple(snap(f"monitor-{n}", HealthState.REMINDING) for n in range(9)),
                 id="a crowded state"),
])
def test_every_transition_label_is_clear_and_next_to_its_own_curve(machines, tmp_path):
    result = measure(health_svg(machines, NOW), tmp_path)
    assert len(result["labels"]) == len(diagram_edges())  # every transition has its label
    assert result["problems"] == []
