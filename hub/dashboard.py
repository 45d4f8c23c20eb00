"""The dashboard's picture of the world, kept on the loop that owns time.

Sources hand their `Outcome`s to `Dashboard.observe` (a failed poll may still carry the
data that did arrive, e.g. the working quays); the render tick asks `Dashboard.render`
for the frame at `now`, built from the latest data, the machines' published states and
the current display message. `LatestFrame` is the frame sink for people: it writes the
preview PNGs and keeps the latest PNG bytes for the status page.
"""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Callable, Iterable
from datetime import tzinfo

from PIL import Image

from hub.display.alerts import Alert, incident_alerts, worst_first
from hub.display.messages import MessageBoard
from hub.display.pages import Page, PageKind, PagesShown, Rotation
from hub.display.preview import PreviewDevice
from hub.display.screens import has_something_to_show, render_page
from hub.display.settings import DisplaySettings
from hub.display.view import DashboardView
from hub.sources.data import BusBoard, Forecast
from machines import Outcome, Snapshot


def no_alerts() -> tuple[Alert, ...]:
    return ()


class Dashboard:
    """Latest data in, frames out, a page at a time (`[[page]]`). Use it from the owner's
    loop only.

    `machines` are the health machines' latest published snapshots (their states colour
    the dashboard, their open incidents fill the `alerts` page); `extra_alerts` are alerts
    from beyond the machines (a fleet's Alertmanager), listed among them.
    """

    def __init__(self, settings: DisplaySettings, zone: tzinfo | None,
                 machines: Callable[[], Iterable[Snapshot]],
                 messages: MessageBoard | None = None, *, pages: tuple[Page, ...] = (),
                 extra_alerts: Callable[[], Iterable[Alert]] = no_alerts,
                 fleet_alerts: Callable[[], tuple[str, ...]] = tuple) -> None:
        self._settings = settings
        self._zone = zone
        self._machines = machines
        self._messages = messages
        self._extra_alerts = extra_alerts
        self._rotation = Rotation(pages)
        self._configured_pages = pages
        self._fleet_alerts = fleet_alerts  # Alertmanager's firing alerts, one line each
        self._bus: BusBoard | None = None
        self._weather: Forecast | None = None
        #: The name of the page last drawn (the status page shows it).
        self.page_name = self._rotation.pages[0].name

    @property
    def pages(self) -> tuple[Page, ...]:
        return self._rotation.pages

    def observe(self, outcome: Outcome) -> None:
        if isinstance(outcome.data, BusBoard):
            self._bus = outcome.data
        elif isinstance(outcome.data, Forecast):
            self._weather = outcome.data

    def pages_shown(self) -> PagesShown:
        """The page last drawn and the configured rotation, for the status page."""
        return PagesShown(showing=self.page_name, rotation=tuple(
            page.describe() for page in self._configured_pages))

    def view(self, now: float) -> DashboardView:
        """What any page would show at `now`, from the latest data."""
        message = self._messages.current(now) if self._messages is not None else None
        snapshots = tuple(self._machines())
        return self._settings.view(
            now, self._zone, bus=self._bus, weather=self._weather,
            health={s.component: s.state for s in snapshots}, message=message,
            alerts=worst_first((*incident_alerts(snapshots), *self._extra_alerts())),
            fleet_alerts=self._fleet_alerts())

    def render(self, now: float) -> Image.Image:
        """The frame of the page whose turn it is at `now` (the rotation moves on)."""
        view = self.view(now)
        page = self._rotation.page_at(
            now, self._zone, functools.partial(has_something_to_show, view=view),
            {name for name, state in view.health.items() if state.is_incident_open})
        self.page_name = page.name
        return render_page(page.show, view)

    def render_page(self, now: float, name: str) -> Image.Image:
        """The frame of the page `name` (a `[[page]]`'s name, or any kind of page) at
        `now`, whoever's turn it is (`preview --page`). Raises KeyError for another name."""
        page = next((p for p in self.pages if p.name == name), None)
        show = page.show if page is not None else PageKind(name) \
            if name in {kind.value for kind in PageKind} else None
        if show is None:
            raise KeyError(name)
        return render_page(show, self.view(now))

    def page_names(self) -> tuple[str, ...]:
        """What `render_page` takes: the pages' names, then the kinds none is named."""
        names = [p.name for p in self.pages]
        return (*names, *(k.value for k in PageKind if k.value not in names))


class LatestFrame:
    """The frame sink: preview files for people, and the latest PNG for the status page.

    Called on a display worker; the status page reads `png()` from the loop, so the bytes
    are swapped under a lock.
    """

    def __init__(self, preview: PreviewDevice) -> None:
        self._preview = preview
        self._png: bytes | None = None
        self._lock = threading.Lock()

    def push(self, frame: Image.Image) -> None:
        self._preview.push(frame)
        buffer = io.BytesIO()
        frame.save(buffer, format="PNG")
        with self._lock:
            self._png = buffer.getvalue()

    def png(self) -> bytes | None:
        with self._lock:
            return self._png
