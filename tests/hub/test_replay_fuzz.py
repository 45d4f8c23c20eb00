"""Whatever a history holds, `replay` prints notices or says one line naming file and line.

Mutations of the shipped `docs/examples/outage.jsonl` (flipped and inserted bytes, cuts,
text that is not UTF-8, odd JSON values in every field, lines swapped) and odd `--until`
values go through the command line's own entry point, `hub.cli.main`: exit 0 with JSON
lines on stdout, or exit 2 with exactly one line on stderr and nothing on stdout.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.cli import EXIT_OK, EXIT_USAGE, main
from tests.mutations import BYTE_KINDS, mutate_bytes

EXAMPLE = (Path(__file__).resolve().parents[2] / "docs" / "examples" /
           "outage.jsonl").read_bytes()
#: Where a value starts in a line of the example: `"key": `.
VALUE = re.compile(rb'"(?P<key>[a-z]+)": ')
#: JSON values (as text) that a broken exporter or a hand edit might put in any field.
ODD_VALUES = [
    b"null", b"true", b"false", b"0", b"-1", b"-0.0", b"1e400", b"-1e400", b"NaN",
    b"Infinity", b"-Infinity", b"1" + b"0" * 400, b"1" + b"0" * 5000, b"1e20",
    b"253370764800", b"253370764801", b'""', b'" "', b'"\\ud800"', b'"\\udc80x"',
    b'"k\\u00e6kken"', b'"\xe6"', b"[]", b"{}", b"[" * 5000 + b"]" * 5000, b'"5"',
]
UNTILS = ["inf", "-inf", "nan", "-1", "1e20", "253370764801", "abc", "", "0", "150", "1e3"]


def run_in(directory: Path, history: bytes, *options: str) -> tuple[int, str, str, Path]:
    """`divoom-hub replay <history> [options]`: (exit code, out, err, path)."""
    path = directory / "history.jsonl"
    path.write_bytes(history)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["replay", str(path), *options])
    return code, out.getvalue(), err.getvalue(), path


def problem(code: int, out: str, err: str, path: Path) -> str | None:
    """What breaks the rule (JSON lines, or exit 2 with one line naming file and line)."""
    if code == EXIT_OK:
        if err:
            return f"replayed, but said {err!r}"
        for line in out.splitlines():
            json.loads(line)
        return None
    lines = err.splitlines()
    if code != EXIT_USAGE or len(lines) != 1 or out:
        return f"exit {code} with {len(lines)} lines and {len(out)} characters out: {err!r}"
    if not re.match(rf"divoom-hub replay: ({re.escape(str(path))}:[0-9]+: |--until: )",
                    lines[0]):
        return f"names neither the file and line nor --until: {lines[0]!r}"
    return None


def mutate(data: bytes, draw: st.DrawFn) -> bytes:
    """One mutation of `data`, of a kind drawn at random."""
    kind = draw(st.sampled_from(["flip", "insert", "cut", "latin1", "value", "value",
                                 "swap"]))
    if kind in BYTE_KINDS:
        return mutate_bytes(data, kind, draw)
    if kind == "swap":
        lines = data.split(b"\n")
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
        return b"\n".join(lines)
    spots = list(VALUE.finditer(data))
    if not spots:
        return data
    spot = draw(st.sampled_from(spots))
    end = min((i for i in (data.find(b",", spot.end()), data.find(b"}", spot.end()))
               if i >= 0), default=len(data))
    value = draw(st.one_of(
        st.sampled_from(ODD_VALUES),
        st.integers().map(lambda n: str(n).encode()),
        st.floats().map(lambda x: json.dumps(x).encode()),
        st.text(max_size=20).map(lambda t: json.dumps(t).encode()),
    ))
    return data[:spot.end()] + value + data[end:]


@st.composite
def mutated_histories(draw: st.DrawFn) -> bytes:
    data = EXAMPLE
    for _ in range(draw(st.integers(1, 3))):
        data = mutate(data, draw)
    return data


@settings(derandomize=True, max_examples=settings().max_examples * 3 // 2,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(history=mutated_histories(),
       until=st.one_of(st.none(), st.sampled_from(UNTILS)), embeds=st.booleans())
def test_any_mutation_of_the_example_replays_or_is_one_line_naming_file_and_line(
        history, until, embeds):
    options = [*([f"--until={until}"] if until is not None else []),
               *(["--embeds"] if embeds else [])]
    with tempfile.TemporaryDirectory() as name:
        assert problem(*run_in(Path(name), history, *options)) is None


def test_every_odd_value_in_every_field_replays_or_names_file_and_line(tmp_path):
    # The random mutations rarely hit one field with one value; this sweeps them all on
    # a failure line (it has every field but `scenario`, added here).
    lines = EXAMPLE.split(b"\n")
    failure = next(i for i, line in enumerate(lines) if b'"error"' in line)
    lines[failure] = lines[failure].replace(b"}", b', "scenario": "default"}')
    base = b"\n".join(lines)
    start = sum(len(line) + 1 for line in lines[:failure])
    problems = []
    for spot in VALUE.finditer(base, start, start + len(lines[failure])):
        end = min(i for i in (base.find(b",", spot.end()), base.find(b"}", spot.end()))
                  if i >= 0)
        for value in ODD_VALUES:
            mutated = base[:spot.end()] + value + base[end:]
            found = problem(*run_in(tmp_path, mutated))
            if found is not None:
                problems.append(f"{spot['key'].decode()}: {value[:40]!r}: {found}")
    assert problems == []


def test_every_odd_until_replays_or_names_the_option(tmp_path):
    for until in UNTILS:
        code, out, err, path = run_in(tmp_path, EXAMPLE, f"--until={until}")
        assert problem(code, out, err, path) is None
        assert code == EXIT_OK or err.startswith("divoom-hub replay: --until: expected"), err
