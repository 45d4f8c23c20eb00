"""A real, small filesystem that a test can fill up and free again: a tmpfs mount.

The disk-full tests need the real `database or disk is full` from SQLite, not a patched
write. Mounting needs root (CI runs as root); elsewhere those tests skip, saying why.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


class SmallDisk:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._filler = root / "filler"

    def fill(self) -> None:
        """Take every free byte, so the next write that needs space fails."""
        fd = os.open(self._filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError as err:
            assert err.errno == errno.ENOSPC, err
        finally:
            os.close(fd)

    def free(self) -> None:
        self._filler.unlink(missing_ok=True)


@contextmanager
def small_disk(tmp_path: Path, size_kib: int = 2048) -> Iterator[SmallDisk]:
    """A `size_kib` tmpfs mounted under `tmp_path` for the test's duration."""
    root = tmp_path / "small-disk"
    root.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill up needs root (CI runs as root)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs",
                              str(root)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield SmallDisk(root)
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)
