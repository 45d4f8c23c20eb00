"""Byte-level mutations for the fuzz tests of the config loader and the replay reader:
what a bad disk, a bad editor or a bad copy does to a file."""

from __future__ import annotations

from hypothesis import strategies as st

#: The kinds `mutate_bytes` knows; each fuzz test adds kinds of its own format.
BYTE_KINDS = ("flip", "insert", "cut", "latin1")


def mutate_bytes(data: bytes, kind: str, draw: st.DrawFn) -> bytes:
    """`data` with one mutation of `kind` (one of `BYTE_KINDS`) drawn at random."""
    if kind == "flip":
        if not data:
            return data
        at = draw(st.integers(0, len(data) - 1))
        return data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1:]
    if kind == "insert":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    if kind == "cut":
        return data[:draw(st.integers(0, len(data)))]
    if kind == "latin1":
        # What an editor saving as Latin-1 does to a value with æøå in it.
        at = draw(st.integers(0, len(data)))
        return data[:at] + "kjøkken".encode("latin-1") + data[at:]
    raise ValueError(f"not a byte mutation: {kind!r}")
