"""The dashboard's picture of the world, kept on the loop that owns time.

Sources hand their `Outcome`s to `Dashboard.observe` (a failed poll may still carry the
data that did arrive, e.g. the working quays); the render tick asks `Dashboard.render`
for the frame at `now`, built from the latest data, the machines' published states and
the current display message. `LatestFrame` is the frame sink for people: it writes the
preview PNGs and keeps the latest PNG bytes for the status page.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Mapping
from datetime import tzinfo

from PIL import Image

from hub.display.messages import MessageBoard
from hub.display.preview import PreviewDevice
from hub.display.render import render
from hub.display.settings import DisplaySettings
from hub.sources.data import BusBoard, Forecast
from machines import HealthState, Outcome


class Dashboard:
    """Latest data in, frames out. Use it from the owner's loop only."""

    def __init__(self, settings: DisplaySettings, zone: tzinfo | None,
                 health: Callable[[], Mapping[str, HealthState]],
                 messages: MessageBoard | None = None,
                 fleet_alerts: Callable[[], tuple[str, ...]] = tuple) -> None:
        self._settings = settings
        self._zone = zone
        self._health = health
        self._messages = messages
        self._fleet_alerts = fleet_alerts  # Alertmanager's firing alerts, one line each
        self._bus: BusBoard | None = None
        self._weather: Forecast | None = None

    def observe(self, outcome: Outcome) -> None:
        if isinstance(outcome.data, BusBoard):
            self._bus = outcome.data
        elif isinstance(outcome.data, Forecast):
            self._weather = outcome.data

    def render(self, now: float) -> Image.Image:
        message = self._messages.current(now) if self._messages is not None else None
        view = self._settings.view(now, self._zone, bus=self._bus, weather=self._weather,
                                   health=self._health(), message=message,
                                   fleet_alerts=self._fleet_alerts())
        return render(view)


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
