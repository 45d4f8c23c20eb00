"""The Pixoo 64 over its HTTP API: frames, pings and brightness as `pixoo` Outcomes.

Every command is `POST <url>` with a JSON body and answers `{"error_code": 0}`. The
device is fragile, so the client keeps it safe by construction:

* `Draw/ResetHttpGifId` before the first frame, every `reset_every` frames and after any
  error or restart: without it the device locks up after a few hundred frames, and a
  frame whose GIF id was not reset can be acknowledged and silently dropped;
* at most one frame per `MIN_PUSH_INTERVAL_SECONDS` (faster pushes freeze it), every
  request with a timeout, and after a failure the next frame waits `2 s, 4 s, … 60 s`
  so a dead device is not hammered;
* newer firmware and the Pixoo 64 II answer on port 9000 at `/divoom_api` instead of
  `/post`: a 404 or a refused connection on one endpoint tries the other, and the one
  that answered is remembered;
* a ping (`Channel/GetAllConf`) fails unless a JSON reply with `error_code 0` came back;
  it also notices a restart (brightness or GIF id forgotten) so both are set again;
* when drawing keeps failing while the ping answers, the API has wedged and only a power
  cycle helps: that is reported as `wedged`, not as one more timeout.

Failures are `Outcome`s, never exceptions; their `error_type`:

    connect        refused, reset, closed without a reply, no route, DNS
                   (worded by `hub.connection_errors`, as for every source)
    timeout        no answer within `timeout_seconds`
    http_<status>  an HTTP status other than 200
    bad_reply      a body that is not JSON, or JSON without an integer `error_code`
    device_error   `error_code` != 0 (the code is in the detail)
    wedged         pings answer but drawing does not: power-cycle needed
    error          any other `requests` failure (its class name in the detail)

The client is not thread-safe: one worker at a time (the display loop guarantees it).
"""


from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from PIL import Image

from hub import strict_json
from hub.connection_errors import connection_reason
from hub.display.brightness import BrightnessSchedule, parse_day_hours
from hub.display.frame import FRAME_SIZE, encode_frame
from hub.settings_table import Table
from machines import Outcome

log = logging.getLogger(__name__)

COMPONENT = "pixoo"
#: The device freezes when pushed faster than about one frame a second.
MIN_PUSH_INTERVAL_SECONDS = 1.0
#: After the k-th failure in a row the next frame waits min(2 s × 2^(k−1), 60 s): a dead
#: device is tried a minute apart, and one that comes back is drawing again within that.
BACKOFF_FIRST_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 60.0
#: Unanswered frames in a row, while the ping answers, that mean the API has wedged.
WEDGED_AFTER_FAILURES = 3
WEDGED_DETAIL = "the device answers ping but not drawing: power-cycle needed"
#: An unchanged frame is not pushed again (it spares the device), except this often:
#: an acknowledged frame can still have been dropped.
REFRESH_UNCHANGED_SECONDS = 60.0
#: Newer firmware and the Pixoo 64 II serve the same commands here.
DIVOOM_API_PORT = 9000
DIVOOM_API_PATH = "/divoom_api"
#: The device locks up after a few hundred frames without a reset; stay well below.
MAX_RESET_EVERY = 200
DEFAULT_DAY_HOURS = (7 * 60, 22 * 60)
_ADDRESS_EXPECTED = "an IP or host, 'host:port', or an http:// URL such as 'http://192.168.1.50'"


def backoff_seconds(failures: int) -> float:
    """How long the next frame waits after `failures` failed pushes in a row."""
    if failures <= 0:
        return 0.0
    return min(BACKOFF_FIRST_SECONDS * 2.0 ** min(failures - 1, 30), BACKOFF_MAX_SECONDS)


def command_url(address: str) -> str | None:
    """Where commands go for an `address`, or None when it is not one.

    `192.168.1.50` and `pixoo.lan:80` get `/post`; a full `http://` URL is used as is
    when it has a path (`http://10.0.0.5:9000/divoom_api`), else it gets `/post`.
    """
    text = address.strip()
    if not text or any(c.isspace() for c in text):
        return None
    has_scheme = "://" in text
    try:
        parts = urlsplit(text if has_scheme else f"http://{text}")
        port = parts.port
    except ValueError:  # an unclosed IPv6 bracket, a port beyond 65535
        return None
    if (parts.scheme != "http" or not parts.hostname or parts.query or parts.fragment
            or parts.username or parts.password or (port is not None and not 0 < port < 65536)
            or (parts.path and not has_scheme)):
        return None
    return f"http://{parts.netloc}{parts.path.rstrip('/') or '/post'}"


@dataclass(frozen=True, slots=True)
class PixooSettings:
    """The validated `[pixoo]` table."""

    url: str  # where commands are POSTed, e.g. "http://192.168.1.50/post"
    timeout_seconds: float = 3.0
    reset_every: int = 100
    ping_every_seconds: float = 30.0
    brightness_day: int = 80
    brightness_night: int = 20
    day_hours: tuple[int, int] | None = None  # minutes after local midnight; None = by sun
    lat: float | None = None
    lon: float | None = None

    def fallback_url(self, port: int = DIVOOM_API_PORT) -> str:
        """The `/divoom_api` endpoint on the same host."""
        host = urlsplit(self.url).hostname or ""
        return f"http://{f'[{host}]' if ':' in host else host}:{port}{DIVOOM_API_PATH}"

    def schedule(self, zone: tzinfo | None) -> BrightnessSchedule:
        """The brightness schedule in the hub's timezone (None: the system's)."""
        by_sun = self.day_hours is None and self.lat is not None and self.lon is not None
        return BrightnessSchedule(
            day=self.brightness_day, night=self.brightness_night,
            day_hours=None if by_sun else (self.day_hours or DEFAULT_DAY_HOURS),
            lat=self.lat, lon=self.lon, zone=zone)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], path: Path) -> PixooSettings:
        """Validate `[pixoo]`; every error names the file and the key."""

        reader = Table(path, "[pixoo]", table)
        reader.only_keys({"address", "timeout_seconds", "reset_every", "ping_every_seconds",
                          "brightness_day", "brightness_night", "day_hours", "lat", "lon"})
        if "address" not in table:
            raise reader.error("address", f"required ({_ADDRESS_EXPECTED})")
        address = table["address"]
        url = command_url(address) if isinstance(address, str) else None
        if url is None:
            raise reader.expected("address", _ADDRESS_EXPECTED, address)
        day_hours: tuple[int, int] | None = None
        if "day_hours" in table:
            text = table["day_hours"]
            day_hours = parse_day_hours(text) if isinstance(text, str) else None
            if day_hours is None:
                raise reader.expected("day_hours",
                                      "local hours 'HH:MM-HH:MM' such as '07:00-22:00'", text)
        has_lat, has_lon = "lat" in table, "lon" in table
        if has_lat != has_lon:
            missing = "lon" if has_lat else "lat"
            raise reader.error(missing, f"required with {'lat' if has_lat else 'lon'} "
                                        "(the location of sunrise/sunset)")
        if day_hours is not None and has_lat:
            raise reader.error("day_hours", "give either day_hours or lat/lon "
                                            "(sunrise/sunset), not both")
        return cls(
            url=url,
            timeout_seconds=reader.number("timeout_seconds", 3.0, minimum=0.1, maximum=30.0),
            reset_every=reader.integer("reset_every", 100, minimum=1, maximum=MAX_RESET_EVERY,
                                       meaning="the device locks up after a few hundred frames"),
            ping_every_seconds=reader.number("ping_every_seconds", 30.0, minimum=1.0,
                                             maximum=3600.0),
            brightness_day=reader.integer("brightness_day", 80, minimum=0, maximum=100),
            brightness_night=reader.integer("brightness_night", 20, minimum=0, maximum=100),
            day_hours=day_hours,
            lat=reader.number("lat", minimum=-90.0, maximum=90.0) if has_lat else None,
            lon=reader.number("lon", minimum=-180.0, maximum=180.0) if has_lon else None,
        )


@dataclass(frozen=True, slots=True)
class _Failed:
    """A command that did not get `error_code 0`."""

    error_type: str
    detail: str
    try_other_endpoint: bool = False  # 404 or refused: maybe the other API endpoint

    @property
    def got_no_reply(self) -> bool:
        return self.error_type in ("timeout", "connect")


class PixooClient:
    """Frames, pings and brightness for one Pixoo 64, each call returning `Outcome`s.

    `session` is the only I/O seam; `clock` (epoch seconds) stamps outcomes and spaces
    pushes, and may be virtual. `fallback_port` is where `/divoom_api` is tried.
    """

    def __init__(self, settings: PixooSettings, session: requests.Session,
                 clock: Callable[[], float], *, component: str = COMPONENT,
                 fallback_port: int = DIVOOM_API_PORT) -> None:
        self._settings = settings
        self._session = session
        self._clock = clock
        self._component = component
        fallback = settings.fallback_url(fallback_port)
        self._endpoints = (settings.url,) if fallback == settings.url \
            else (settings.url, fallback)
        self._working: str | None = None  # the endpoint that answered last
        self._pic_id = 0
        self._pushes_since_reset = 0
        self._needs_reset = True
        self._last_push_at: float | None = None
        self._failures = 0  # failed pushes in a row
        self._retry_at: float | None = None
        self._is_answering = False
        self._is_wedged = False
        self._applied_brightness: int | None = None
        self._last_ping_at: float | None = None
        self._shown: str | None = None  # PicData of the last frame the device acknowledged
        self._shown_at = -math.inf

    @property
    def endpoint(self) -> str | None:
        """The command URL that answered last (None before the first answer)."""
        return self._working

    def update(self, frame: Image.Image | None, brightness: int) -> list[Outcome]:
        """One round of device work (on a worker): ping when due, the frame, brightness.

        The frame is pushed when it changed, after a reset, or once a minute, and only
        when the one-per-second limit and the backoff allow. A successful ping is not
        reported while pushes are failing: "answers ping" must not hide "draws nothing".
        """
        data = None if frame is None else encode_frame(frame)  # FrameError: a renderer bug
        outcomes: list[Outcome] = []
        now = self._clock()
        if self._last_ping_at is None \
                or not 0 <= now - self._last_ping_at < self._settings.ping_every_seconds:
            ping = self.ping()
            if not ping.ok or self._failures == 0:
                outcomes.append(ping)
        if data is not None and self._is_worth_pushing(data, now):
            pushed = self.push(data)
            if pushed is not None:
                outcomes.append(pushed)
                if pushed.ok:
                    self._shown, self._shown_at = data, now
        if self._is_answering and self._failures == 0 and self._applied_brightness != brightness:
            applied = self.set_brightness(brightness)
            if not applied.ok:
                outcomes.append(applied)
        return outcomes

    def push(self, frame_b64: str) -> Outcome | None:
        """Show one frame; None when not attempted (within 1 s of the last, or backing off)."""
        started = self._clock()
        if not self._may_push(started):
            return None
        self._last_push_at = started
        if self._needs_reset or self._pushes_since_reset >= self._settings.reset_every:
            reset = self._command({"Command": "Draw/ResetHttpGifId"})
            if isinstance(reset, _Failed):
                return self._push_failed(started, reset)
            self._pic_id, self._pushes_since_reset, self._needs_reset = 0, 0, False
        self._pic_id += 1
        self._pushes_since_reset += 1
        sent = self._command({
            "Command": "Draw/SendHttpGif", "PicNum": 1, "PicWidth": FRAME_SIZE,
            "PicOffset": 0, "PicID": self._pic_id, "PicSpeed": 1000, "PicData": frame_b64})
        if isinstance(sent, _Failed):
            return self._push_failed(started, sent)
        if self._failures:
            log.info("the Pixoo draws again after %d failed pushes", self._failures)
        self._failures, self._retry_at, self._is_wedged = 0, None, False
        return self._success(started)

    def ping(self) -> Outcome:
        """`Channel/GetAllConf`: ok only for a JSON reply with `error_code 0`."""
        started = self._clock()
        self._last_ping_at = started
        conf = self._command({"Command": "Channel/GetAllConf"})
        if isinstance(conf, _Failed):
            return self._failure(started, conf)
        self._notice_restart(conf)
        return self._success(started)

    def set_brightness(self, level: int) -> Outcome:
        """`Channel/SetBrightness`; remembered so a restarted device gets it again."""
        started = self._clock()
        reply = self._command({"Command": "Channel/SetBrightness", "Brightness": level})
        if isinstance(reply, _Failed):
            return self._failure(started, reply)
        self._applied_brightness = level
        return self._success(started)

    def _is_worth_pushing(self, data: str, now: float) -> bool:
        """A changed frame, or any frame after a reset or once a minute."""
        return self._needs_reset or data != self._shown \
            or not 0 <= now - self._shown_at < REFRESH_UNCHANGED_SECONDS

    def _may_push(self, now: float) -> bool:
        # A wall clock stepping backwards must not stop the display: a negative elapsed
        # time, or a retry further away than any backoff, lets the push through.
        if self._last_push_at is not None \
                and 0 <= now - self._last_push_at < MIN_PUSH_INTERVAL_SECONDS:
            return False
        return self._retry_at is None or not 0 < self._retry_at - now <= BACKOFF_MAX_SECONDS

    def _notice_restart(self, conf: Mapping[str, Any]) -> None:
        """A device that forgot its brightness or GIF id restarted: set both again."""
        shown = conf.get("Brightness")
        if self._applied_brightness is not None and isinstance(shown, int) \
                and shown != self._applied_brightness:
            log.info("the Pixoo's brightness is %d, not %d (restarted, or set by hand): "
                     "setting it again", shown, self._applied_brightness)
            self._applied_brightness = None
        if self._needs_reset or self._pic_id == 0:
            return
        gif = self._command({"Command": "Draw/GetHttpGifId"})
        if isinstance(gif, _Failed):
            return  # the next push finds out what is wrong
        pic_id = gif.get("PicId")
        if isinstance(pic_id, int) and pic_id < self._pic_id:
            log.info("the Pixoo's GIF id went back from %d to %d (restarted): resetting it",
                     self._pic_id, pic_id)
            self._forget_device_state()

    def _forget_device_state(self) -> None:
        """After an error or a restart: reset the GIF id, resend brightness and frame."""
        self._needs_reset = True
        self._applied_brightness = None
        self._shown = None

    def _push_failed(self, started: float, failed: _Failed) -> Outcome:
        self._failures += 1
        self._retry_at = self._clock() + backoff_seconds(self._failures)
        if self._failures == 1:
            log.warning("pushing a frame to the Pixoo failed: %s", failed.detail)
        if self._failures >= WEDGED_AFTER_FAILURES and failed.got_no_reply:
            conf = self._command({"Command": "Channel/GetAllConf"})
            self._forget_device_state()
            if not isinstance(conf, _Failed):
                if not self._is_wedged:
                    log.error("the Pixoo %s", WEDGED_DETAIL)
                self._is_wedged = True
                return self._failure(started, _Failed("wedged", WEDGED_DETAIL))
        return self._failure(started, failed)

    def _success(self, started: float) -> Outcome:
        done = self._clock()
        return Outcome.success(self._component, done, latency_seconds=max(done - started, 0.0))

    def _failure(self, started: float, failed: _Failed) -> Outcome:
        self._is_answering = False
        self._forget_device_state()
        done = self._clock()
        return Outcome.failure(self._component, done, failed.error_type, failed.detail,
                               latency_seconds=max(done - started, 0.0))

    def _command(self, body: Mapping[str, Any]) -> dict[str, Any] | _Failed:
        """POST one command; on 404 or refused, try the other endpoint and remember it."""
        first = self._working or self._endpoints[0]
        reply = self._post(first, body)
        if isinstance(reply, _Failed) and reply.try_other_endpoint:
            for other in self._endpoints:
                if other == first:
                    continue
                second = self._post(other, body)
                if not isinstance(second, _Failed):
                    log.info("the Pixoo answers at %s, not at %s", other, first)
                    self._working = other
                    self._is_answering = True
                    return second
                reply = _Failed(reply.error_type,
                                f"{reply.detail} (and {_where(other)}: {_short(second)})")
        if isinstance(reply, _Failed):
            return reply
        self._working = first
        self._is_answering = True
        return reply

    def _post(self, url: str, body: Mapping[str, Any]) -> dict[str, Any] | _Failed:
        command = body["Command"]
        timeout = self._settings.timeout_seconds
        try:
            response = self._session.post(url, json=body, timeout=timeout)
        except requests.Timeout:
            return _Failed("timeout", f"{command}: no answer within {timeout:g} s")
        except requests.ConnectionError as err:
            reason = connection_reason(err)
            return _Failed("connect", f"{command}: {reason}",
                           try_other_endpoint=reason == "connection refused")
        except requests.RequestException as err:
            return _Failed("error", f"{command}: {type(err).__name__}")
        with response:
            status, text = response.status_code, response.text
        if status != 200:
            return _Failed(f"http_{status}",
                           f"{command}: HTTP {status} at {_where(url)}",
                           try_other_endpoint=status == 404)
        try:
            data = strict_json.loads(response.content)
        except ValueError:
            return _Failed("bad_reply", f"{command}: the reply is not JSON: {text[:40]!r}")
        if not isinstance(data, dict) or "error_code" not in data:
            return _Failed("bad_reply", f"{command}: the reply has no error_code: "
                                        f"{str(data)[:40]!r}")
        code = data["error_code"]
        if code != 0 or isinstance(code, bool):
            # The device answers a command it cannot do with a number or a sentence.
            shown = code if isinstance(code, int) else repr(str(code)[:60])
            return _Failed("device_error", f"{command}: error_code {shown}")
        return data


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"port {parts.port or 80} {parts.path}"


def _short(failed: _Failed) -> str:
    return failed.detail.partition(": ")[2] or failed.detail
