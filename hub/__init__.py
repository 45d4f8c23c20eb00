"""Divoom Hub: the daemon (I/O, wiring, CLI) around the pure machines in `machines/`."""

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "divoom-hub"


def installed_version() -> str:
    """The installed distribution's version (pyproject.toml), as pip knows it: what
    `--version` prints and the **started** notice carries."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "(not installed: run `pip install .`)"
