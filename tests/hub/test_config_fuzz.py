"""Whatever is in hub.toml, the hub says one line and exits 2, or loads it: never a traceback.

Mutations of the shipped `hub.example.toml` (flipped and inserted bytes, cuts, text that is
not UTF-8, huge or odd numbers, values replaced, tables renamed) go through the command
line's own entry point, `hub.cli.main`. The command is `replay` of an empty history: it
loads the config with the loader `run` and `check` use and maps errors to exit codes the
same way, but reaches no endpoint (the example names real hosts, which a test never calls).
"""

from __future__ import annotations

import io
import re
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.cli import EXIT_OK, EXIT_USAGE, main
from tests.mutations import BYTE_KINDS, mutate_bytes

EXAMPLE = (Path(__file__).resolve().parents[2] / "hub.example.toml").read_bytes()
#: Where a value starts on a `key = value` line of the example.
VALUE = re.compile(rb"^(?P<key>[A-Za-z_]+)\s*=\s*", re.MULTILINE)
#: Values a person (or a broken editor) might put anywhere, as TOML text.
ODD_VALUES = [
    b"1" + b"0" * 400, b"-1" + b"0" * 400, b"1" + b"0" * 5000, b"1e300", b"-1e300", b"1e12",
    b"inf", b"-inf", b"nan", b"0", b"-1", b"0.0000001", b"2592001", b"true", b"[]", b"{}",
    b'""', b'" "', b'"http://[::1/"', b'"http://[::1]:99999/"', b'"~nosuchuser/state"',
    b'"a\\u0000b"', b'"\\ud800"', b'"\xe6\xf8\xe5"', b'"h:\xc2\xb2"', b'"0.0.0.0:8787"',
    b'"[::1]:8787"', b'"\xc2\xb2"', b'["\xc2\xb2"]', b"[1" + b"0" * 400 + b"]",
    b"[" * 2000 + b"]" * 2000, b"1979-05-27T07:32:00Z", b'"hub"', b'"bus"',
]


def mutate(data: bytes, draw: st.DrawFn) -> bytes:
    """One mutation of `data`, of a kind drawn at random."""
    kind = draw(st.sampled_from(["flip", "insert", "cut", "latin1", "value", "value", "rename",
                                 "drop_line"]))
    if kind in BYTE_KINDS:
        return mutate_bytes(data, kind, draw)
    if kind == "rename":
        # A typo in a table name: [policy.bus] → [policy.buss], [bus] → [buss] …
        tables = [m.end() - 1 for m in re.finditer(rb"^\[[^\]\n]+\]", data, re.MULTILINE)]
        if not tables:
            return data
        at = draw(st.sampled_from(tables))
        return data[:at] + b"s" + data[at:]
    lines = data.split(b"\n")
    if kind == "drop_line":
        del lines[draw(st.integers(0, len(lines) - 1))]
        return b"\n".join(lines)
    spots = list(VALUE.finditer(data))
    if not spots:
        return data
    spot = draw(st.sampled_from(spots))
    end = data.find(b"\n", spot.end())
    end = len(data) if end < 0 else end
    value = draw(st.one_of(
        st.sampled_from(ODD_VALUES),
        st.integers().map(lambda n: str(n).encode()),
        st.floats().map(lambda x: repr(x).encode()),
        st.text(max_size=20).map(lambda t: b'"' + t.encode("utf-8", "surrogatepass")
                                 .replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'),
    ))
    return data[:spot.end()] + value + data[end:]


@st.composite
def mutated_examples(draw: st.DrawFn) -> bytes:
    data = EXAMPLE
    for _ in range(draw(st.integers(1, 3))):
        data = mutate(data, draw)
    return data


def run_in(directory: Path, config: bytes) -> tuple[int, str, str, Path]:
    """`divoom-hub replay <empty history> --config <config>`: (exit code, out, err, path)."""
    path = directory / "hub.toml"
    path.write_bytes(config)
    history = directory / "empty.jsonl"
    history.write_bytes(b"")
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["replay", str(history), "--config", str(path)])
    return code, out.getvalue(), err.getvalue(), path


def run_with(config: bytes) -> tuple[int, str, str, Path]:
    with tempfile.TemporaryDirectory() as name:
        return run_in(Path(name), config)


def problem(code: int, out: str, err: str, path: Path) -> str | None:
    """What breaks the rule (loads, or exit 2 with one line naming the file), or None."""
    if out:
        return f"printed {out!r}"  # an empty history has nothing to print
    if code == EXIT_OK:
        return None if err == "" else f"loaded, but said {err!r}"
    lines = err.splitlines()
    if code != EXIT_USAGE or len(lines) != 1:
        return f"exit {code} with {len(lines)} lines: {err[-300:]!r}"
    # the file first, then where in it: `[table] key:`, `:line:`, or what is wrong with it
    if not lines[0].startswith(f"divoom-hub replay: {path}:"):
        return f"does not start with the file: {lines[0]!r}"
    return None


@settings(derandomize=True, max_examples=settings().max_examples * 3 // 2,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(config=mutated_examples())
def test_any_mutation_of_the_example_loads_or_is_one_line_naming_the_file(config):
    assert problem(*run_with(config)) is None


def test_every_odd_value_in_every_key_of_the_example_loads_or_names_file_and_key(tmp_path):
    # The random mutations rarely hit one key with one value; this sweeps them all.
    problems = []
    for spot in VALUE.finditer(EXAMPLE):
        end = EXAMPLE.find(b"\n", spot.end())
        section = EXAMPLE.rfind(b"\n[", 0, spot.start())
        table = EXAMPLE[section + 1:EXAMPLE.find(b"\n", section + 1)].decode()
        for value in ODD_VALUES:
            code, out, err, path = run_in(tmp_path, EXAMPLE[:spot.end()] + value + EXAMPLE[end:])
            found = problem(code, out, err, path)
            if found is None and code == EXIT_USAGE and not named(err, spot):
                found = f"does not name {spot['key'].decode()}: {err!r}"
            if found is not None:
                problems.append(f"{table} {spot['key'].decode()} = {value[:40]!r}: {found}")
    assert problems == []


def named(err: str, spot: re.Match[bytes]) -> bool:
    """Whether an error about the value at `spot` names its key or its line."""
    line = EXAMPLE.count(b"\n", 0, spot.start()) + 1
    key = spot["key"].decode()
    # `key = {}` in [policy] makes a table of the key: `[policy.key]` names it then
    return any(place in err for place in (f" {key}: ", f".{key}]", f":{line}:",
                                          f"(at line {line}, "))


def test_the_unmutated_example_loads():
    code, out, err, _ = run_with(EXAMPLE)
    assert (code, out, err) == (EXIT_OK, "", "")


def test_a_bad_value_names_the_table_and_the_key():
    broken = EXAMPLE.replace(b"every_seconds = 600", b"every_seconds = 1" + b"0" * 400)
    code, _, err, path = run_with(broken)
    assert code == EXIT_USAGE
    assert err == (f"divoom-hub replay: {path}: [weather] every_seconds: expected at most "
                   "2592000 (seconds: 30 days), got a number of 401 digits\n")
