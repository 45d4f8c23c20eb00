"""The health machine drawn for the status page: inline SVG from the table that runs (pure).

Laid out from `machines.health.STATES` / `TRANSITIONS`: states in a row in table order,
forward transitions arc above, backward ones below (higher for longer jumps), a
self-transition loops under its state. Every component sits as a badge in the state it
is in, in that state's colour.

What keeps the labels readable (the table has five arcs meeting at `recovered` and three
more passing under `reminding`):
- every arc leaves and enters a box at a port of its own, ordered so that a shorter arc
  nests inside a longer one instead of crossing it where they meet;
- arcs are brackets with rounded corners, so nested arcs stay a level apart all along
  their tops and a label over a top runs along its own arc, clear of the next one;
- each label takes the first of a few places along its arc (on one line, or on two with
  the guard apart) that no curve, label, state box or edge of the picture takes and that
  is nearer its own arc than any other; when some label finds none, the levels are
  spread further apart and the layout is tried again. The text is measured generously
  (a server has no font metrics), and a layout depends only on the boxes' height, so it
  is computed once per height.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape

from hub.formatting import duration
from machines import HealthState, Snapshot
from machines.health import STATES, TRANSITIONS

#: Colour of each state (badges, state pills, highlighted boxes), and a pale tint of it.
STATE_COLOURS = {
    HealthState.HEALTHY: "#2f9e44",
    HealthState.SUSPECT: "#e8b500",
    HealthState.ALERTING: "#e5484d",
    HealthState.REMINDING: "#f76b15",
    HealthState.RECOVERED: "#0d9488",
}
STATE_TINTS = {
    HealthState.HEALTHY: "#ebfbee",
    HealthState.SUSPECT: "#fff9db",
    HealthState.ALERTING: "#ffe3e3",
    HealthState.REMINDING: "#fff0e6",
    HealthState.RECOVERED: "#e6fcf5",
}

BOX_WIDTH = 150
BOX_GAP = 62
MARGIN = 12  # around everything drawn
START_WIDTH = 30  # the initial pseudo-state and its arrow, left of the first box
HEAD_HEIGHT = 30
CHIP_HEIGHT = 20
CHIP_GAP = 4
FIRST_LEVEL = 26  # how far an arc between neighbouring states rises above the boxes
#: Room per further level (each column an arc spans), tried in order until every label
#: has a clear place: a line of label and its gaps need 26 px, two lines 39.
LEVEL_STEPS = (28, 32, 36, 40, 48, 56, 64)
CORNER_RADIUS = 12
PORT_INSET = 20  # ports keep clear of a box's rounded corners
LOOP_DEPTH = 34
LOOP_HALF_WIDTH = 18
LABEL_SIZE = 11
LABEL_HEIGHT = 14  # an 11 px line, descenders included
LINE_PITCH = 13  # baseline to baseline in a label of two lines
CLEARANCE = 3  # between a label and its own curve, a box or another label
LABEL_GAP = CLEARANCE + 1  # a label from its own curve: just outside that clearance
#: Between a label and any other curve: twice as far as from its own, so that it reads
#: as the label of the curve beside it, not of the one beyond.
CLEARANCE_OTHERS = 2 * LABEL_GAP
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"

Point = tuple[float, float]


def _text_width(text: str, size: float) -> float:
    """A generous estimate of a sans-serif string's width (no font metrics on a server)."""
    return len(text) * size * 0.6


@dataclass(frozen=True, slots=True)
class Edge:
    source: HealthState
    dest: HealthState
    label: str


def diagram_edges() -> list[Edge]:
    """The table's state-changing rows (and real self-transitions), one edge per pair.

    Internal rows (`dest: None`) only update counters and are left out, as in the legend
    of `diagrams/health.md`.
    """
    labels: dict[tuple[HealthState, HealthState], list[tuple[str, str]]] = {}
    for row in TRANSITIONS:
        if row["dest"] is None:
            continue
        sources = row["source"] if isinstance(row["source"], list) else [row["source"]]
        conditions = row.get("conditions")
        condition = conditions if isinstance(conditions, str) else " ".join(conditions or ())
        for source in sources:
            pair = labels.setdefault((source, row["dest"]), [])
            if (row["trigger"], condition) not in pair:
                pair.append((row["trigger"], condition))
    edges = []
    for (source, dest), rows in labels.items():
        conditions = {condition for _, condition in rows}
        if len(conditions) == 1:
            triggers = " | ".join(trigger for trigger, _ in rows)
            condition = conditions.pop()
            label = f"{triggers} [{condition}]" if condition else triggers
        else:
            label = " | ".join(f"{t} [{c}]" if c else t for t, c in rows)
        edges.append(Edge(source, dest, label))
    return edges


# -- geometry ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Box:
    left: float
    top: float
    right: float
    bottom: float

    def grown(self, by: float) -> Box:
        return Box(self.left - by, self.top - by, self.right + by, self.bottom + by)

    def overlaps(self, other: Box) -> bool:
        return (self.left < other.right and other.left < self.right
                and self.top < other.bottom and other.top < self.bottom)

    def contains(self, point: Point) -> bool:
        x, y = point
        return self.left <= x <= self.right and self.top <= y <= self.bottom


Segment = tuple[Point, Point, Point, Point]  # a cubic Bézier's four control points


def _cubic(segment: Segment, t: float) -> Point:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = segment
    u = 1 - t
    return (u ** 3 * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t ** 3 * x3,
            u ** 3 * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t ** 3 * y3)


def _line(start: Point, end: Point) -> Segment:
    (x0, y0), (x1, y1) = start, end
    return (start, (x0 + (x1 - x0) / 3, y0 + (y1 - y0) / 3),
            (x0 + 2 * (x1 - x0) / 3, y0 + 2 * (y1 - y0) / 3), end)


#: Control point distance of a cubic quarter circle, per unit of radius.
_QUARTER = 0.5523


@dataclass(frozen=True, slots=True)
class Curve:
    """A path of cubic Béziers: what is drawn, and points along it (at least one per
    pixel) for the collision checks."""

    segments: tuple[Segment, ...]
    points: tuple[Point, ...]
    bounds: Box

    @classmethod
    def of(cls, segments: Sequence[Segment]) -> Curve:
        points: list[Point] = []
        for segment in segments:
            hull = sum(abs(b[0] - a[0]) + abs(b[1] - a[1])
                       for a, b in zip(segment, segment[1:], strict=False))
            count = max(4, int(hull))
            points += [_cubic(segment, i / count) for i in range(count + 1)]
        xs, ys = [x for x, _ in points], [y for _, y in points]
        return cls(tuple(segments), tuple(points), Box(min(xs), min(ys), max(xs), max(ys)))

    def path(self, dy: float) -> str:
        """SVG path data, drawn `dy` lower."""
        x, y = self.segments[0][0]
        steps = " ".join("C" + " ".join(f"{px:.1f},{py + dy:.1f}" for px, py in segment[1:])
                         for segment in self.segments)
        return f"M{x:.1f},{y + dy:.1f} {steps}"

    def crosses(self, box: Box) -> bool:
        return self.bounds.overlaps(box) and any(box.contains(p) for p in self.points)


def _bracket(x1: float, x2: float, y: float, level: float) -> Curve:
    """From (x1, y) straight out to `level`, across, and straight back to (x2, y), with
    rounded corners: nested brackets stay a level apart all along their tops."""
    out = 1.0 if level > y else -1.0  # from the boxes towards the level
    across = 1.0 if x2 > x1 else -1.0
    r = min(CORNER_RADIUS, abs(x2 - x1) / 2, abs(level - y))
    k = _QUARTER * r
    leg_end = level - out * r
    return Curve.of([
        _line((x1, y), (x1, leg_end)),
        ((x1, leg_end), (x1, leg_end + out * k), (x1 + across * (r - k), level),
         (x1 + across * r, level)),
        _line((x1 + across * r, level), (x2 - across * r, level)),
        ((x2 - across * r, level), (x2 - across * (r - k), level), (x2, leg_end + out * k),
         (x2, leg_end)),
        _line((x2, leg_end), (x2, y)),
    ])


@dataclass(frozen=True, slots=True)
class Arc:
    """An edge as drawn: its curve, and its label's box (the text centred in it)."""

    edge: Edge
    curve: Curve
    label: Box
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Layout:
    """The arcs and their labels for boxes `box_height` tall, with the boxes' tops at y 0:
    the picture is `width` × `height`, drawn `offset` lower."""

    width: float
    height: float
    offset: float
    arcs: tuple[Arc, ...]


def _column(state: HealthState) -> int:
    return [s["name"] for s in STATES].index(state)


def _box_left(state: HealthState) -> float:
    return MARGIN + START_WIDTH + _column(state) * (BOX_WIDTH + BOX_GAP)


def _ports(edges: Sequence[Edge]) -> dict[tuple[Edge, HealthState], float]:
    """The x (within its box) where each edge meets each of its two states; a loop meets
    its state at its centre.

    On each side of a box (above for forward arcs, below for backward ones and loops)
    the ends are spread evenly: first those of arcs going left, shortest first, then a
    loop, then those going right, longest first, so that shorter arcs nest inside longer
    ones instead of crossing them.
    """
    sides: dict[tuple[HealthState, bool], list[tuple[tuple[int, int], Edge]]] = {}
    for edge in edges:
        is_above = _column(edge.dest) > _column(edge.source)
        for state, other in {edge.source: edge.dest, edge.dest: edge.source}.items():
            toward = _column(other) - _column(state)
            key = (0, -toward) if toward < 0 else (2, -toward) if toward > 0 else (1, 0)
            sides.setdefault((state, is_above), []).append((key, edge))
    ports: dict[tuple[Edge, HealthState], float] = {}
    for (state, _), ends in sides.items():
        ends.sort(key=lambda end: end[0])
        room = BOX_WIDTH - 2 * PORT_INSET
        for index, (_, edge) in enumerate(ends):
            ports[(edge, state)] = PORT_INSET + room * (index + 1) / (len(ends) + 1)
    return ports


def _curve(edge: Edge, ports: dict[tuple[Edge, HealthState], float], box_height: float,
           level_step: float) -> Curve:
    span = _column(edge.dest) - _column(edge.source)
    if span == 0:  # out at the right, back in at the left, under the box
        centre = _box_left(edge.source) + ports[(edge, edge.source)]
        x1, x2, y = centre + LOOP_HALF_WIDTH, centre - LOOP_HALF_WIDTH, box_height
        return Curve.of([((x1, y), (x1 + 12, y + LOOP_DEPTH), (x2 - 12, y + LOOP_DEPTH),
                          (x2, y))])
    x1 = _box_left(edge.source) + ports[(edge, edge.source)]
    x2 = _box_left(edge.dest) + ports[(edge, edge.dest)]
    rise = FIRST_LEVEL + (abs(span) - 1) * level_step
    if span > 0:
        return _bracket(x1, x2, 0.0, -rise)
    return _bracket(x1, x2, box_height, box_height + rise)


def _label_lines(label: str) -> list[tuple[str, ...]]:
    """The ways to write `label`, shortest lines last: on one line, and where it has a
    guard, the guard on a line of its own (one alternative a line when several have
    different guards), for a label longer than the gap between two states."""
    parts = label.split(" | ")
    if len(parts) > 1 and sum("[" in part for part in parts) > 1:
        return [(label,), tuple(parts)]
    if " [" in label:
        head, guard = label.rsplit(" [", 1)
        return [(label,), (head, f"[{guard}")]
    return [(label,)]


def _label_box(centre_x: float, top: float, lines: tuple[str, ...]) -> Box:
    width = max(_text_width(line, LABEL_SIZE) for line in lines)
    return Box(centre_x - width / 2, top, centre_x + width / 2,
               top + LABEL_HEIGHT + LINE_PITCH * (len(lines) - 1))


def _label_places(edge: Edge, curve: Curve) -> list[tuple[Box, tuple[str, ...]]]:
    """Where and how `edge`'s label may go, best first: outside its bracket, at the middle
    of its top and then further along it, then the same inside (under a loop, then
    beside it); at each place on one line first, then on two."""
    places = []
    if edge.source is edge.dest:
        bounds = curve.bounds
        for lines in _label_lines(edge.label):
            under = _label_box((bounds.left + bounds.right) / 2, bounds.bottom + LABEL_GAP,
                               lines)
            places.append((under, lines))
            half = (under.right - under.left) / 2
            beside = (bounds.top + bounds.bottom - (under.bottom - under.top)) / 2
            for centre in (bounds.right + LABEL_GAP + half, bounds.left - LABEL_GAP - half):
                places.append((_label_box(centre, beside, lines), lines))
        return places
    is_above = _column(edge.dest) > _column(edge.source)
    (x1, y), _, _, (x2, _) = curve.segments[2]  # the top of the bracket
    fractions = (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8)
    for fraction, is_over in [(f, is_above) for f in fractions] + \
            [(f, not is_above) for f in fractions]:
        x = x1 + (x2 - x1) * fraction
        for lines in _label_lines(edge.label):
            height = LABEL_HEIGHT + LINE_PITCH * (len(lines) - 1)
            top = y - LABEL_GAP - height if is_over else y + LABEL_GAP
            places.append((_label_box(x, top, lines), lines))
    return places


def _layout(box_height: float, level_step: float, must_be_clear: bool) -> Layout | None:
    """The arcs `level_step` apart per level, each label at its first clear place; None
    if some label has none and `must_be_clear` (else it takes its first place)."""
    edges = diagram_edges()
    ports = _ports(edges)
    curves = {edge: _curve(edge, ports, box_height, level_step) for edge in edges}
    width = _box_left(STATES[-1]["name"]) + BOX_WIDTH + MARGIN
    start_y = HEAD_HEIGHT / 2
    taken = [Box(_box_left(s["name"]), 0.0, _box_left(s["name"]) + BOX_WIDTH, box_height)
             for s in STATES]
    taken.append(Box(MARGIN, start_y - 6, MARGIN + START_WIDTH, start_y + 6))
    arcs: list[Arc] = []
    # Loops first, then the shortest arcs: they have the least room to move.
    for edge in sorted(edges, key=lambda e: abs(_column(e.dest) - _column(e.source))):
        places = _label_places(edge, curves[edge])
        clear = (place for place in places
                 if _is_clear(place[0], width, taken, curves[edge],
                              [curve for other, curve in curves.items() if other != edge]))
        found = next(clear, None)
        if found is None:
            if must_be_clear:
                return None
            found = places[0]
        box, lines = found
        arcs.append(Arc(edge, curves[edge], box, lines))
        taken.append(box)
    top = min(min(arc.curve.bounds.top, arc.label.top) for arc in arcs)
    bottom = max(max(arc.curve.bounds.bottom, arc.label.bottom) for arc in arcs)
    return Layout(width=width, height=bottom - top + 2 * MARGIN, offset=MARGIN - top,
                  arcs=tuple(arcs))


def _is_clear(place: Box, width: float, taken: Iterable[Box], own: Curve,
              others: Iterable[Curve]) -> bool:
    """True if a label at `place` is inside the picture, clear of what is `taken` and of
    its own curve, and further from every other curve than from its own."""
    halo, wide_halo = place.grown(CLEARANCE), place.grown(CLEARANCE_OTHERS)
    return (place.left >= MARGIN and place.right <= width - MARGIN
            and not any(halo.overlaps(box) for box in taken)
            and not own.crosses(halo)
            and not any(curve.crosses(wide_halo) for curve in others))


@lru_cache(maxsize=16)
def diagram_layout(box_height: float) -> Layout:
    """The tightest clear layout for boxes `box_height` tall (computed once per height)."""
    for step in LEVEL_STEPS:
        layout = _layout(box_height, step, must_be_clear=True)
        if layout is not None:
            return layout
    # A table no spread makes readable: the widest spread, labels where they fall.
    layout = _layout(box_height, LEVEL_STEPS[-1], must_be_clear=False)
    assert layout is not None
    return layout


# -- drawing -------------------------------------------------------------------------

def _chip_rows(names: Sequence[str], width: float) -> list[list[tuple[str, float]]]:
    rows: list[list[tuple[str, float]]] = [[]]
    used = 0.0
    for name in names:
        shown = name if len(name) <= 18 else name[:17] + "…"
        chip = _text_width(shown, 11) + 14
        if rows[-1] and used + chip > width:
            rows.append([])
            used = 0.0
        rows[-1].append((shown, chip))
        used += chip + CHIP_GAP
    return rows if rows[0] else []


def health_svg(machines: Iterable[Snapshot], at: float) -> str:
    """The health machine with each component as a badge in its current state."""
    order = [state["name"] for state in STATES]
    members: dict[HealthState, list[Snapshot]] = {state: [] for state in order}
    for snapshot in sorted(machines, key=lambda s: s.component):
        members[snapshot.state].append(snapshot)
    rows = {state: _chip_rows([s.component for s in members[state]], BOX_WIDTH - 16)
            for state in order}
    box_height = HEAD_HEIGHT + max(1, max(len(r) for r in rows.values())) \
        * (CHIP_HEIGHT + CHIP_GAP) + 8
    layout = diagram_layout(box_height)
    dy = layout.offset
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="diagram" viewBox="0 0 '
        f'{layout.width:.0f} {layout.height:.0f}" width="{layout.width:.0f}" '
        f'height="{layout.height:.0f}" role="img" '
        'aria-label="health machine with each component in its current state" '
        f'font-family="{FONT}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#5c6370"/></marker></defs>',
    ]
    # the initial pseudo-state
    mid_y = dy + HEAD_HEIGHT / 2
    parts.append(f'<circle cx="{MARGIN + 6}" cy="{mid_y:.1f}" r="6" fill="#343a40"/>'
                 f'<line x1="{MARGIN + 12}" y1="{mid_y:.1f}" x2="{_box_left(order[0]) - 2}" '
                 f'y2="{mid_y:.1f}" stroke="#5c6370" stroke-width="1.5" '
                 'marker-end="url(#arrow)"/>')
    for arc in layout.arcs:
        x = (arc.label.left + arc.label.right) / 2
        lines = "".join(f'<tspan x="{x:.1f}" dy="{0 if i == 0 else LINE_PITCH}">'
                        f'{escape(line)}</tspan>' for i, line in enumerate(arc.lines))
        parts.append(
            f'<path class="edge" d="{arc.curve.path(dy)}" stroke="#5c6370" '
            'stroke-width="1.4" fill="none" marker-end="url(#arrow)"/>'
            f'<text class="edge-label" x="{x:.1f}" y="{arc.label.top + dy + LABEL_SIZE:.1f}" '
            f'font-size="{LABEL_SIZE}" fill="#343a40" text-anchor="middle">{lines}</text>')
    for state in order:
        parts.append(_state_svg(state, members[state], rows[state], _box_left(state), dy,
                                box_height, at))
    parts.append("</svg>")
    return "".join(parts)


def _state_svg(state: HealthState, members: list[Snapshot],
               rows: list[list[tuple[str, float]]], x: float, top: float, height: float,
               at: float) -> str:
    colour, tint = STATE_COLOURS[state], STATE_TINTS[state]
    occupied = bool(members)
    fill = tint if occupied else "#ffffff"
    stroke = colour if occupied else "#adb5bd"
    parts = [
        f'<g class="state{" occupied" if occupied else ""}" data-state="{state.value}">',
        f'<rect x="{x}" y="{top:.1f}" width="{BOX_WIDTH}" height="{height}" rx="10" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="{3 if occupied else 1.5}"/>',
        f'<text x="{x + BOX_WIDTH / 2}" y="{top + 20:.1f}" font-size="14" font-weight="600" '
        f'text-anchor="middle" fill="{colour if occupied else "#495057"}">{state.value}'
        f'{f" ({len(members)})" if occupied else ""}</text>',
    ]
    by_name = {s.component if len(s.component) <= 18 else s.component[:17] + "…": s
               for s in members}
    y = top + HEAD_HEIGHT
    for row in rows:
        cx = x + 8
        for shown, chip in row:
            snapshot = by_name[shown]
            tip = escape(f"{snapshot.component}: {state.value} for "
                         f"{duration(at - snapshot.since)}")
            parts.append(
                f'<g class="badge" data-component="{escape(snapshot.component)}">'
                f'<title>{tip}</title>'
                f'<rect x="{cx:.1f}" y="{y:.1f}" width="{chip:.1f}" height="{CHIP_HEIGHT}" '
                f'rx="10" fill="{colour}"/><text x="{cx + chip / 2:.1f}" y="{y + 14:.1f}" '
                f'font-size="11" text-anchor="middle" fill="#ffffff" font-weight="600">'
                f'{escape(shown)}</text></g>')
            cx += chip + CHIP_GAP
        y += CHIP_HEIGHT + CHIP_GAP
    parts.append("</g>")
    return "".join(parts)
