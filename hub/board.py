"""The status board: the latest immutable `HubStatus`, published by the owner of the machines.

The machines live on the daemon's scheduler and nobody else touches them (DESIGN rule 2).
The owner publishes a fresh `HubStatus` (a frozen value holding a tuple of frozen
`Snapshot`s) after every notice and on a short period; readers — the `status` command,
later the web page — only ever read the latest published value. Replacing one reference
is atomic, so a reader on another thread sees either the old picture or the new one.
"""

from __future__ import annotations

from hub.notify.status import HubStatus


class StatusBoard:
    def __init__(self) -> None:
        self._current: HubStatus | None = None

    def publish(self, status: HubStatus) -> None:
        """Called by the owner only."""
        self._current = status

    def current(self) -> HubStatus | None:
        """The latest published picture, or None before the first one."""
        return self._current
