"""What the Pixoo would show now, without a running daemon and without sending it.

`divoom-hub preview` polls `[bus]` and `[weather]` once (as `check` does), reads the
display message and the machines' last saved states from the state folder (what the
daemon wrote), and draws the page whose turn it would be first, or the page asked for.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
from PIL import Image

from hub.config import Config
from hub.dashboard import Dashboard
from hub.display.messages import MessageBoard
from hub.display.settings import DisplaySettings
from hub.storage.journal import Journal
from hub.world import pollers
from machines import Snapshot

#: The sources a frame draws from; `[[monitor]]`s are not polled for a preview.
DISPLAY_SOURCES = ("bus", "weather")


class UnknownPage(LookupError):
    """`--page` names no page; the message lists the names there are."""


@dataclass(frozen=True, slots=True)
class FrameNow:
    image: Image.Image  # 64×64 RGB
    page: str  # the page's name
    #: What could not be read (the frame is drawn without it), one line each.
    warnings: tuple[str, ...] = ()


def saved_machines(state_dir: Path) -> tuple[Snapshot, ...]:
    """The machines' states as the daemon last saved them; () before it ever ran.
    Raises `sqlite3.Error` for a file that is not a readable database."""
    path = state_dir / "outbox.sqlite"
    if not path.exists():
        return ()
    with Journal(path) as journal:
        return tuple(journal.snapshots())


def frame_now(config: Config, page: str | None = None, *,
              clock: Callable[[], float] = time.time) -> FrameNow:
    """The frame for `clock()`: the first page that can show, or `page` by name."""
    state_dir = config.hub.state_dir
    warnings: list[str] = []
    try:
        machines = saved_machines(state_dir)
    except sqlite3.Error as err:  # the daemon sets a damaged file aside when it starts
        warnings.append(f"{state_dir / 'outbox.sqlite'}: cannot read the saved states "
                        f"({err}); drawn as if nothing were failing")
        machines = ()
    dashboard = Dashboard(config.display or DisplaySettings(), config.hub.zone(),
                          machines=lambda: machines,
                          messages=MessageBoard(state_dir) if state_dir.is_dir() else None,
                          pages=config.pages)
    if page is not None and page not in dashboard.page_names():
        raise UnknownPage(f"--page: no page is named {page!r} (there are: "
                          f"{', '.join(dashboard.page_names())})")
    with requests.Session() as session:
        for poller in pollers(config, lambda: session, clock):
            if poller.name in DISPLAY_SOURCES:
                dashboard.observe(poller.poll())
    now = clock()
    if page is not None:
        return FrameNow(dashboard.render_page(now, page), page, tuple(warnings))
    image = dashboard.render(now)
    return FrameNow(image, dashboard.page_name, tuple(warnings))
