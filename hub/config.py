"""`hub.toml` → a frozen, validated `Config`, read once at start-up.

Only what is not secret lives in the TOML file; secrets come from the environment
(see `hub.secrets`). Every unknown key and bad value is an error naming the file, the
key and what was expected.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from machines import Policy, PolicyError

if TYPE_CHECKING:
    from hub.display.messages import MessageSettings
    from hub.display.pixoo import PixooSettings
    from hub.display.settings import DisplaySettings
    from hub.maintenance import MaintenanceWindow
    from hub.sources.bus import BusSettings
    from hub.sources.channels import WatchedChannel
    from hub.sources.heartbeat import HeartbeatMonitor
    from hub.sources.http import HttpCheck
    from hub.sources.threshold import ThresholdMonitor
    from hub.sources.weather import WeatherSettings

CONFIG_ENV = "HUB_CONFIG"
#: Kinds of `[[monitor]]` this version runs (see the README).
MONITOR_KINDS = ("http", "heartbeat", "threshold")
#: Components the hub always has, whatever the config: its sources, the device, Discord
#: (when it carries the notices), and `hub`, the hub's own health. No monitor takes these
#: names, and `[policy.<name>]` may always name them.
BUILT_IN_COMPONENTS = ("bus", "weather", "pixoo", "discord", "hub")
#: `host:port`, the host maybe in brackets (`[::1]:8787`); the port in ASCII digits.
_LISTEN = re.compile(r"(?P<host>\[[^\]]*\]|[^\s\[\]]+):(?P<port>[0-9]{1,5})")


class ConfigError(ValueError):
    """The configuration is invalid; the message names the file and the key."""


def default_state_dir() -> Path:
    """`$XDG_STATE_HOME/divoom-hub`, i.e. `~/.local/state/divoom-hub` by default."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "divoom-hub"


@dataclass(frozen=True, slots=True)
class HubSettings:
    name: str = "divoom-hub"
    state_dir: Path = field(default_factory=default_state_dir)
    http_listen: str = "127.0.0.1:8787"  # "" disables the status server
    timezone: str = ""  # "" = the system's local zone
    #: How long the journal keeps machine transitions (hub/journal.py).
    history_days: float = 7.0
    #: The kill switch: False records every notice and sends none (docs/incidents.md).
    notifications: bool = True

    def zone(self) -> ZoneInfo | None:
        return ZoneInfo(self.timezone) if self.timezone else None


@dataclass(frozen=True, slots=True)
class Config:
    hub: HubSettings = field(default_factory=HubSettings)
    policy: Policy = field(default_factory=Policy)
    policies: Mapping[str, Policy] = field(default_factory=dict)
    #: The keys each `[policy.<component>]` sets itself (the rest come from `[policy]`).
    policy_keys: Mapping[str, frozenset[str]] = field(default_factory=dict)
    monitors: tuple[HttpCheck, ...] = ()
    heartbeats: tuple[HeartbeatMonitor, ...] = ()  # [[monitor]] kind = "heartbeat"
    thresholds: tuple[ThresholdMonitor, ...] = ()  # [[monitor]] kind = "threshold"
    bus: BusSettings | None = None  # no [bus] section = no bus source
    weather: WeatherSettings | None = None  # no [weather] section = no weather source
    pixoo: PixooSettings | None = None  # no [pixoo] section = no device (preview only)
    display: DisplaySettings | None = None  # no [display] section = DisplaySettings()
    messages: MessageSettings | None = None  # no [messages] section = nobody may post
    channels: tuple[WatchedChannel, ...] = ()  # [[channel]]: Discord channels the bot watches
    maintenance: tuple[MaintenanceWindow, ...] = ()  # [[maintenance]]: recurring mutes
    path: Path | None = None

    def policy_for(self, component: str) -> Policy:
        """`[policy.<component>]` if present, else `[policy]`."""
        return self.policies.get(component, self.policy)


def load_config(path: Path | str | None = None, *,
                history: Collection[str] | None = None) -> Config:
    """Load `path`, or `$HUB_CONFIG`, or return the defaults when neither is given.

    `history` is for `replay`: the component names of the history it replays, which
    `[policy.<name>]` may name besides the configured components.
    """
    if path is None:
        path = os.environ.get(CONFIG_ENV) or None
    if path is None:
        return Config()
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from None
    return parse_config(read_toml(data, path), path, history=history)


def read_toml(data: bytes, path: Path) -> dict[str, Any]:
    """The TOML document in `data`; anything else is a `ConfigError` naming `path`."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        number = data.count(b"\n", 0, err.start) + 1
        raise ConfigError(f"{path}:{number}: not UTF-8 text (byte 0x{data[err.start]:02x}): "
                          "save the file as UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    except ValueError:
        # tomllib turns digits into an int with `int()`, which refuses more than 4300.
        digits = re.search(r"[0-9_]{4300,}", text)
        line = f":{text.count(chr(10), 0, digits.start()) + 1}" if digits else ""
        raise ConfigError(f"{path}{line}: not valid TOML: a number with more than 4300 "
                          "digits") from None
    except RecursionError:
        nest = re.search(r"(?:[\[{]\s*){100,}", text)  # where the nesting runs that deep
        line = f":{text.count(chr(10), 0, nest.start()) + 1}" if nest else ""
        raise ConfigError(f"{path}{line}: not valid TOML: arrays or tables nested too "
                          "deeply") from None


def parse_config(raw: Mapping[str, Any], path: Path, *,
                 history: Collection[str] | None = None) -> Config:
    """The validated `Config` of one TOML document; `history` as in `load_config`."""
    where = _Where(path)
    where.only_keys(raw, "", {"hub", "policy", "monitor", "bus", "weather", "pixoo",
                              "display", "messages", "channel", "maintenance"})
    hub = _parse_hub(where.table(raw, "hub"), where, path.parent)
    policy, policies = _parse_policies(where.table(raw, "policy"), where)
    monitors, heartbeats, thresholds = _parse_monitors(raw.get("monitor", []), where)
    bus, weather = _parse_sources(raw, where)
    pixoo = _parse_pixoo(raw, where)
    display = _parse_display(raw, where)
    messages = _parse_messages(raw, where)
    from hub.sources.channels import parse_channels  # it imports ConfigError from here

    channels = parse_channels(raw.get("channel", []), path,
                              [*(m.name for m in monitors), *(h.name for h in heartbeats),
                               *(t.name for t in thresholds)])
    policy_keys = {component: frozenset(values)
                   for component, values in where.table(raw, "policy").items()
                   if isinstance(values, dict)}
    config = Config(hub=hub, policy=policy, policies=policies, monitors=monitors,
                    heartbeats=heartbeats, thresholds=thresholds, bus=bus, weather=weather,
                    pixoo=pixoo, display=display, messages=messages, channels=channels,
                    path=path, policy_keys=policy_keys)
    _check_policy_names(config, where, history)
    _check_derived_policies(config, raw, where)
    from hub.maintenance import parse_maintenance  # it imports ConfigError from here

    return replace(config, maintenance=parse_maintenance(
        raw.get("maintenance", []), path, known_components(config), history))


def known_components(config: Config) -> tuple[str, ...]:
    """Every component name the config knows: built-in, `[[monitor]]`, silent channels."""
    return (*BUILT_IN_COMPONENTS, *(m.name for m in config.monitors),
            *(h.name for h in config.heartbeats), *(t.name for t in config.thresholds),
            *(c.component for c in config.channels if c.silent_after_minutes is not None))


def _check_policy_names(config: Config, where: _Where,
                        history: Collection[str] | None) -> None:
    """A `[policy.<name>]` for no component is a typo that would silently do nothing."""
    known = known_components(config)
    for name in config.policies:
        if name not in known and name not in (history or ()):
            besides = ", or a component of the history" if history is not None else ""
            raise ConfigError(
                f"{where.path}: [policy.{name}]: no component is named {name!r} (known: "
                f"{', '.join(known)}{besides})")


def _check_derived_policies(config: Config, raw: Mapping[str, Any], where: _Where) -> None:
    """Heartbeats and silent channels set `stale_after_seconds` from their own keys: the
    policy that makes must hold too, or the daemon would refuse it only once running."""
    monitors = raw.get("monitor", [])
    for heartbeat in config.heartbeats:
        index = next(i for i, t in enumerate(monitors, start=1)
                     if t.get("name") == heartbeat.name)
        try:
            heartbeat.policy(config.policy_for(heartbeat.name))
        except PolicyError as err:
            raise ConfigError(f"{where.path}: [[monitor]] #{index} (heartbeat): period_seconds "
                              f"+ grace_seconds: {err.message}") from None
    for index, channel in enumerate(config.channels, start=1):
        try:
            channel.policy(config.policy_for(channel.component))
        except PolicyError as err:
            raise ConfigError(f"{where.path}: [[channel]] #{index}: silent_after_minutes: "
                              f"{err.message}") from None


def check_http_access(config: Config, has_token: bool) -> None:
    """Beyond loopback the status page needs `HUB_HTTP_TOKEN` (hub/web.py refuses to serve
    without one): said at start-up, naming the file and the key, before anything runs."""
    from hub.web import TOKEN_ENV, is_loopback, parse_listen  # aiohttp: only when needed

    listen = config.hub.http_listen
    if not listen or has_token or is_loopback(parse_listen(listen)[0]):
        return
    where = f"{config.path}: [hub] http_listen" if config.path else "http_listen"
    raise ConfigError(f"{where}: {listen!r} is beyond loopback, so the status page needs an "
                      f"access token: set {TOKEN_ENV} in the environment or .env, or listen "
                      "on 127.0.0.1 only")


def _parse_messages(raw: Mapping[str, Any], where: _Where) -> MessageSettings | None:
    """`[messages]`: who may post to the display; absent means nobody may."""
    from hub.display.messages import MessageSettings  # it imports ConfigError from here

    return MessageSettings.from_table(where.table(raw, "messages"), where.path) \
        if "messages" in raw else None


def _parse_display(raw: Mapping[str, Any], where: _Where) -> DisplaySettings | None:
    """`[display]`: language, walk time, staleness; absent means the defaults."""
    from hub.display.settings import DisplaySettings  # it imports ConfigError from here

    return DisplaySettings.from_table(where.table(raw, "display"), where.path) \
        if "display" in raw else None


def _parse_pixoo(raw: Mapping[str, Any], where: _Where) -> PixooSettings | None:
    """`[pixoo]`: an absent section means no device (frames go to the preview only)."""
    from hub.display.pixoo import PixooSettings  # it imports ConfigError from here

    return PixooSettings.from_table(where.table(raw, "pixoo"), where.path) \
        if "pixoo" in raw else None


def _parse_sources(raw: Mapping[str, Any],
                   where: _Where) -> tuple[BusSettings | None, WeatherSettings | None]:
    """`[bus]` and `[weather]`: an absent section turns that source off."""
    # The source modules import ConfigError from here, hence the local imports.
    from hub.sources.bus import BusSettings
    from hub.sources.weather import WeatherSettings

    bus = BusSettings.from_table(where.table(raw, "bus"), where.path) if "bus" in raw else None
    weather = (WeatherSettings.from_table(where.table(raw, "weather"), where.path)
               if "weather" in raw else None)
    return bus, weather


def _parse_monitors(tables: Any, where: _Where) -> tuple[
        tuple[HttpCheck, ...], tuple[HeartbeatMonitor, ...], tuple[ThresholdMonitor, ...]]:
    # The source modules import ConfigError from here, hence the local imports.
    from hub.sources.heartbeat import HeartbeatMonitor
    from hub.sources.http import HttpCheck
    from hub.sources.threshold import ThresholdMonitor

    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise where.error("", "monitor", "[[monitor]] tables", tables)
    checks: list[HttpCheck | HeartbeatMonitor | ThresholdMonitor] = []
    for index, table in enumerate(tables, start=1):
        kind = table.get("kind")
        if kind not in MONITOR_KINDS:
            raise ConfigError(
                f"{where.path}: [[monitor]] #{index}: kind: expected one of "
                f"{', '.join(MONITOR_KINDS)}, got {kind!r}")
        body = {k: v for k, v in table.items() if k != "kind"}
        check: HttpCheck | HeartbeatMonitor | ThresholdMonitor
        if kind == "heartbeat":
            check = HeartbeatMonitor.from_table(body, where.path, index)
        elif kind == "threshold":
            check = ThresholdMonitor.from_table(body, where.path, index)
        else:
            check = HttpCheck.from_table(body, where.path, index)
        if any(c.name == check.name for c in checks):
            raise ConfigError(f"{where.path}: [[monitor]] #{index}: name: {check.name!r} is "
                              "already used by another monitor")
        checks.append(check)
    return (tuple(c for c in checks if isinstance(c, HttpCheck)),
            tuple(c for c in checks if isinstance(c, HeartbeatMonitor)),
            tuple(c for c in checks if isinstance(c, ThresholdMonitor)))


def _parse_hub(table: Mapping[str, Any], where: _Where, base: Path) -> HubSettings:
    where.only_keys(table, "hub", {"name", "state_dir", "http_listen", "timezone",
                                   "history_days", "notifications"})
    defaults = HubSettings()
    name = where.string(table, "hub", "name", defaults.name)
    if not name.strip():
        raise where.error("hub", "name", "a non-empty name", name)
    state_dir_text = where.string(table, "hub", "state_dir", "")
    state_dir = _state_dir(state_dir_text, where, base) if state_dir_text \
        else defaults.state_dir
    http_listen = where.string(table, "hub", "http_listen", defaults.http_listen)
    if http_listen:
        _check_listen(http_listen, where)
    timezone = where.string(table, "hub", "timezone", defaults.timezone)
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise where.error("hub", "timezone", "an IANA zone such as 'Europe/Oslo'",
                              timezone) from None
    history_days = table.get("history_days", defaults.history_days)
    if (isinstance(history_days, bool) or not isinstance(history_days, int | float)
            or not 0 < history_days < 36_500):
        raise where.error("hub", "history_days",
                          "a number of days above 0 (below 36500), such as 7", history_days)
    notifications = table.get("notifications", defaults.notifications)
    if not isinstance(notifications, bool):
        raise where.error("hub", "notifications", "true or false", notifications)
    return HubSettings(name=name, state_dir=state_dir, http_listen=http_listen,
                       timezone=timezone, history_days=float(history_days),
                       notifications=notifications)


def _state_dir(text: str, where: _Where, base: Path) -> Path:
    """`state_dir` relative to the config's folder, `~` and `~user` expanded."""
    if "\0" in text:
        raise where.error("hub", "state_dir", "a folder path (no NUL character)", text)
    try:
        return base / Path(text).expanduser()
    except RuntimeError:  # what pathlib raises for an unknown `~user`
        user = text.split("/", 1)[0]
        raise where.error("hub", "state_dir", f"a folder path ({user} names no user of this "
                          "system)", text) from None


def _check_listen(value: str, where: _Where) -> None:
    match = _LISTEN.fullmatch(value)
    if match is None or int(match["port"]) > 65535:
        raise where.error("hub", "http_listen",
                          "'host:port' such as '127.0.0.1:8787' (port 0: any free port), or ''",
                          value)


def _parse_policies(table: Mapping[str, Any],
                    where: _Where) -> tuple[Policy, dict[str, Policy]]:
    defaults = {k: v for k, v in table.items() if not isinstance(v, dict)}
    overrides = {k: v for k, v in table.items() if isinstance(v, dict)}
    default_policy = _policy(Policy(), defaults, where, "policy")
    policies = {
        component: _policy(default_policy, values, where, f"policy.{component}")
        for component, values in overrides.items()
    }
    return default_policy, policies


def _policy(base: Policy, values: Mapping[str, Any], where: _Where, section: str) -> Policy:
    where.only_keys(values, section, set(Policy.keys()))
    try:
        return base.with_overrides(values)
    except PolicyError as err:
        raise ConfigError(f"{where.path}: [{section}] {err.key}: {err.message}") from None


@dataclass(frozen=True, slots=True)
class _Where:
    """Builds errors that say which file, section and key was wrong."""

    path: Path

    def error(self, section: str, key: str, expected: str, got: Any) -> ConfigError:
        place = f"[{section}] {key}" if section else key
        return ConfigError(f"{self.path}: {place}: expected {expected}, got {shown(got)}")

    def only_keys(self, table: Mapping[str, Any], section: str, known: set[str]) -> None:
        for key in table:
            if key not in known:
                place = f"[{section}] {key}" if section else f"[{key}]"
                raise ConfigError(
                    f"{self.path}: {place}: unknown key (known: {', '.join(sorted(known))})")

    def table(self, raw: Mapping[str, Any], section: str) -> Mapping[str, Any]:
        value = raw.get(section, {})
        if not isinstance(value, dict):
            raise self.error("", section, "a table", value)
        return value

    def string(self, table: Mapping[str, Any], section: str, key: str, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str):
            raise self.error(section, key, "a string", value)
        return value


#: A value shown in an error is cut to this many characters: one line, readable.
SHOWN_MAX_CHARS = 80


def shown(value: Any) -> str:
    """`value` as an error message shows it: its repr, an integer too long to read by its
    size, anything long cut short."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**21:
        return f"a number of {int(math.log10(abs(value))) + 1} digits"
    text = repr(value)
    return text if len(text) <= SHOWN_MAX_CHARS else text[:SHOWN_MAX_CHARS - 1] + "…"
