"""`hub.toml` → a frozen, validated `Config`, read once at start-up.

Only what is not secret lives in the TOML file; secrets come from the environment
(see `hub.secrets`). Every unknown key and bad value is an error naming the file, the
key and what was expected: a `ConfigError` (from `hub.settings_table`, the vocabulary
every section is read with, so that the sections' own modules need nothing from here).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.display.messages import MessageSettings
from hub.display.pages import Page, parse_pages
from hub.display.pixoo import PixooSettings
from hub.display.settings import DisplaySettings
from hub.fleet.alertmanager import AlertmanagerSettings
from hub.fleet.received import AlertmanagerMonitor
from hub.ingest.pings import HeartbeatMonitor
from hub.listen import ADDRESS_EXPECTED, TOKEN_ENV, parse_listen
from hub.maintenance import MaintenanceWindow, parse_maintenance
from hub.notify.alerting import MENTION_EXPECTED, Alerting, Mention, Severity
from hub.notify.outbox import DEFAULT_MAX_BYTES as DEFAULT_OUTBOX_MAX_BYTES
from hub.settings_table import BUILT_IN_COMPONENTS, Table
from hub.settings_table import ConfigError as ConfigError  # what load_config raises
from hub.sources.bus import BusSettings
from hub.sources.channels import WatchedChannel, parse_channels
from hub.sources.http import HttpCheck
from hub.sources.threshold import ThresholdMonitor
from hub.sources.weather import WeatherSettings
from machines import Policy, PolicyError
from machines.dependencies import find_cycle, parents_first
from machines.policy import component_policy

CONFIG_ENV = "HUB_CONFIG"
#: Kinds of `[[monitor]]` this version runs (see the README).
MONITOR_KINDS = ("http", "heartbeat", "threshold", "alertmanager")
_Section = TypeVar("_Section")


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
    #: How long the journal keeps machine transitions (hub/storage/journal.py).
    history_days: float = 7.0
    #: The kill switch: False records every notice and sends none (docs/incidents.md).
    notifications: bool = True
    #: Bound on what waits in the outbox through an outage (docs/delivery.md).
    outbox_max_bytes: int = DEFAULT_OUTBOX_MAX_BYTES

    def zone(self) -> ZoneInfo | None:
        return ZoneInfo(self.timezone) if self.timezone else None


#: `[discord]`: who may silence (`DiscordSettings`), who a critical alert pings
#: (`_parse_discord`); the secrets stay in the environment.
DISCORD_KEYS = {"operators", "mention_critical"}


@dataclass(frozen=True, slots=True)
class DiscordSettings:
    """`[discord]`: what the bot lets people do (the secrets stay in the environment)."""

    #: The user and role ids that may ack, mute and unmute (docs/incidents.md); empty:
    #: nobody can in Discord (the HTTP API and the CLI still can, with the token).
    operators: frozenset[int] = frozenset()

    @classmethod
    def from_table(cls, table: Table) -> DiscordSettings:
        table.only_keys(DISCORD_KEYS)
        expected = 'a list of Discord user or role ids, such as ["123456789012345678"]'
        value = table.values.get("operators", [])
        if not isinstance(value, list):
            raise table.expected("operators", expected, value)
        ids: set[int] = set()
        for item in value:
            text = str(item).strip() if isinstance(item, str | int) \
                and not isinstance(item, bool) else ""
            if not (text.isascii() and text.isdigit() and 0 < int(text) < 2**64):
                raise table.expected("operators", expected, item)
            ids.add(int(text))
        return cls(operators=frozenset(ids))


@dataclass(frozen=True, slots=True)
class Config:
    hub: HubSettings = field(default_factory=HubSettings)
    policy: Policy = field(default_factory=Policy)
    policies: Mapping[str, Policy] = field(default_factory=dict)
    #: The keys each `[policy.<component>]` sets itself (the rest come from `[policy]`).
    policy_keys: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: The keys `[policy]` sets itself: they beat the defaults that fit a component.
    default_keys: frozenset[str] = frozenset()
    monitors: tuple[HttpCheck, ...] = ()
    heartbeats: tuple[HeartbeatMonitor, ...] = ()  # [[monitor]] kind = "heartbeat"
    thresholds: tuple[ThresholdMonitor, ...] = ()  # [[monitor]] kind = "threshold"
    #: [[monitor]] kind = "alertmanager": alerts from Alertmanager's webhook (hub/fleet/).
    fleet_monitors: tuple[AlertmanagerMonitor, ...] = ()
    bus: BusSettings | None = None  # no [bus] section = no bus source
    weather: WeatherSettings | None = None  # no [weather] section = no weather source
    pixoo: PixooSettings | None = None  # no [pixoo] section = no device (preview only)
    display: DisplaySettings | None = None  # no [display] section = DisplaySettings()
    messages: MessageSettings | None = None  # no [messages] section = nobody may post
    channels: tuple[WatchedChannel, ...] = ()  # [[channel]]: Discord channels the bot watches
    maintenance: tuple[MaintenanceWindow, ...] = ()  # [[maintenance]]: recurring mutes
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    #: `severity` of `[policy]` and of each `[policy.<component>]` that sets one.
    default_severity: Severity = Severity.WARNING
    severities: Mapping[str, Severity] = field(default_factory=dict)
    #: `[discord] mention_critical`: pinged by critical alerts only.
    mention_critical: Mention | None = None
    pages: tuple[Page, ...] = ()  # [[page]]: the display's rotation; () = the dashboard only
    #: No [alertmanager] section = incidents are not forwarded (hub/fleet/forward.py).
    alertmanager: AlertmanagerSettings | None = None
    path: Path | None = None

    def alerting(self) -> Alerting:
        """Severities and the critical mention, for the messages delivery builds."""
        return Alerting(self.severities, self.default_severity, self.mention_critical)

    def parents_first(self, components: Iterable[str]) -> list[str]:
        """`components` with each after every component it `depends_on` (DESIGN.md: at
        one instant, parents before children)."""
        return parents_first(components, lambda c: self.policy_for(c).depends_on)

    def policy_for(self, component: str) -> Policy:
        """`[policy.<component>]` if present, else `[policy]` with the defaults that fit
        the component (`machines.policy.COMPONENT_DEFAULTS`: pixoo, weather, bus)."""
        policy = self.policies.get(component)
        if policy is not None:
            return policy
        return component_policy(self.policy, component, self.default_keys)

    def heartbeat_policy(self, heartbeat: HeartbeatMonitor) -> Policy:
        """`HeartbeatMonitor.policy` under this config (the owner's `[policy.<name>]` keys
        kept): what `run` and `check` use."""
        return heartbeat.policy(self.policy_for(heartbeat.name),
                                self.policy_keys.get(heartbeat.name, ()))


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
    document = Table.document(path, raw)
    document.only_keys({"hub", "policy", "monitor", "bus", "weather", "pixoo", "display",
                        "messages", "channel", "maintenance", "discord", "page",
                        "alertmanager"})
    hub = _parse_hub(document.table("hub"), path.parent)
    policy_table, default_severity, severities = _take_severities(document.table("policy"))
    policy, policies = _parse_policies(policy_table)
    mention_critical = _parse_discord(document.table("discord"))
    monitors, heartbeats, thresholds, fleet_monitors = _parse_monitors(raw.get("monitor", []),
                                                                       document)
    # An absent section turns its feature off: no source, no device, nobody may post;
    # `[display]` absent means its defaults.
    bus = _optional(document, "bus", BusSettings.from_table)
    weather = _optional(document, "weather", WeatherSettings.from_table)
    pixoo = _optional(document, "pixoo", PixooSettings.from_table)
    display = _optional(document, "display", DisplaySettings.from_table)
    messages = _optional(document, "messages", MessageSettings.from_table)
    discord = DiscordSettings.from_table(document.table("discord"))
    alertmanager = _optional(document, "alertmanager", AlertmanagerSettings.from_table)
    if alertmanager is not None and "name" not in document.table("hub").values:
        # Alertmanager merges alerts with the same labels: two hubs both called by the
        # default name would share their incidents.
        raise document.table("hub").error(
            "name", "required with [alertmanager]: a name of this hub's own, such as "
                    "\"cabin\" (the fleet's Alertmanager tells hubs apart by it)")
    channels = parse_channels(raw.get("channel", []), path,
                              [*(m.name for m in monitors), *(h.name for h in heartbeats),
                               *(t.name for t in thresholds),
                               *(f.name for f in fleet_monitors)])
    policy_keys = {component: frozenset(values)
                   for component, values in policy_table.values.items()
                   if isinstance(values, dict)}
    config = Config(hub=hub, policy=policy, policies=policies, monitors=monitors,
                    heartbeats=heartbeats, thresholds=thresholds, bus=bus, weather=weather,
                    pixoo=pixoo, display=display, messages=messages, channels=channels,
                    discord=discord, path=path, policy_keys=policy_keys,
                    default_severity=default_severity, severities=severities,
                    mention_critical=mention_critical,
                    pages=parse_pages(raw.get("page", []), path),
                    alertmanager=alertmanager, fleet_monitors=fleet_monitors,
                    default_keys=frozenset(k for k, v in document.table("policy").values.items()
                                           if not isinstance(v, dict)))
    _check_policy_names(config, path, history)
    _check_dependencies(config, path, history)
    _check_derived_policies(config, raw, path)
    return replace(config, maintenance=parse_maintenance(
        raw.get("maintenance", []), path, known_components(config), history))


def _optional(document: Table, key: str,
              read: Callable[[Mapping[str, Any], Path], _Section]) -> _Section | None:
    """The section `[key]` validated by `read` (a settings class' `from_table`), or None
    when the file has no such section."""
    if key not in document.values:
        return None
    return read(document.table(key).values, Path(document.path))


def known_components(config: Config) -> tuple[str, ...]:
    """Every component name the config knows: built-in, `[[monitor]]`, silent channels."""
    return (*BUILT_IN_COMPONENTS, *(m.name for m in config.monitors),
            *(h.name for h in config.heartbeats), *(t.name for t in config.thresholds),
            *(f.name for f in config.fleet_monitors),
            *(c.component for c in config.channels if c.silent_after_minutes is not None))


def _check_policy_names(config: Config, path: Path,
                        history: Collection[str] | None) -> None:
    """A `[policy.<name>]` for no component is a typo that would silently do nothing."""
    known = known_components(config)
    for name in config.policies:
        if name not in known and name not in (history or ()):
            besides = ", or a component of the history" if history is not None else ""
            raise ConfigError(
                f"{path}: [policy.{name}]: no component is named {name!r} (known: "
                f"{', '.join(known)}{besides})")


def _check_dependencies(config: Config, path: Path,
                        history: Collection[str] | None) -> None:
    """`depends_on` names known components and makes no cycle (a child would wait on
    itself): either mistake is an error naming it."""
    known = known_components(config)
    graph = {name: policy.depends_on for name, policy in config.policies.items()}
    for name, parents in graph.items():
        for parent in parents:
            if parent not in known and parent not in (history or ()):
                besides = ", or a component of the history" if history is not None else ""
                raise ConfigError(
                    f"{path}: [policy.{name}] depends_on: no component is named {parent!r} "
                    f"(known: {', '.join(known)}{besides})")
    cycle = find_cycle(graph)
    if cycle is not None:
        raise ConfigError(f"{path}: [policy.{cycle[0]}] depends_on: a cycle: "
                          f"{' -> '.join(cycle)} (a component cannot wait on itself)")


def _check_derived_policies(config: Config, raw: Mapping[str, Any], path: Path) -> None:
    """Heartbeats and silent channels set `stale_after_seconds` from their own keys: the
    policy that makes must hold too, or the daemon would refuse it only once running."""
    monitors = raw.get("monitor", [])
    for heartbeat in config.heartbeats:
        index = next(i for i, t in enumerate(monitors, start=1)
                     if t.get("name") == heartbeat.name)
        try:
            heartbeat.policy(config.policy_for(heartbeat.name))
        except PolicyError as err:
            raise Table.monitor({}, path, index, "heartbeat").error(
                "period_seconds + grace_seconds", err.message) from None
    for index, channel in enumerate(config.channels, start=1):
        try:
            channel.policy(config.policy_for(channel.component))
        except PolicyError as err:
            raise Table(path, f"[[channel]] #{index}", {}).error(
                "silent_after_minutes", err.message) from None


def check_http_access(config: Config, has_token: bool) -> None:
    """Beyond loopback the status page needs `HUB_HTTP_TOKEN` (hub/web/server.py refuses to serve
    without one): said at start-up, naming the file and the key, before anything runs."""
    listen = config.hub.http_listen
    address = parse_listen(listen)
    # Not an address (a Config not read from a file): the server refuses it itself.
    if not listen or has_token or address is None or address.is_loopback:
        return
    where = f"{config.path}: [hub] http_listen" if config.path else "http_listen"
    raise ConfigError(f"{where}: {listen!r} is beyond loopback, so the status page needs an "
                      f"access token: set {TOKEN_ENV} in the environment or .env, or listen "
                      "on 127.0.0.1 only")


def _parse_monitors(tables: Any, document: Table) -> tuple[
        tuple[HttpCheck, ...], tuple[HeartbeatMonitor, ...], tuple[ThresholdMonitor, ...],
        tuple[AlertmanagerMonitor, ...]]:
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise document.expected("monitor", "[[monitor]] tables", tables)
    path = Path(document.path)
    checks: list[HttpCheck | HeartbeatMonitor | ThresholdMonitor | AlertmanagerMonitor] = []
    for index, table in enumerate(tables, start=1):
        kind = table.get("kind")
        if kind not in MONITOR_KINDS:
            raise Table.monitor(table, path, index).error(
                "kind", f"expected one of {', '.join(MONITOR_KINDS)}, got {kind!r}")
        body = {k: v for k, v in table.items() if k != "kind"}
        check: HttpCheck | HeartbeatMonitor | ThresholdMonitor | AlertmanagerMonitor
        if kind == "alertmanager":
            check = AlertmanagerMonitor.from_table(body, path, index)
        elif kind == "heartbeat":
            check = HeartbeatMonitor.from_table(body, path, index)
        elif kind == "threshold":
            check = ThresholdMonitor.from_table(body, path, index)
        else:
            check = HttpCheck.from_table(body, path, index)
        if any(c.name == check.name for c in checks):
            raise Table.monitor(table, path, index).error(
                "name", f"{check.name!r} is already used by another monitor")
        checks.append(check)
    return (tuple(c for c in checks if isinstance(c, HttpCheck)),
            tuple(c for c in checks if isinstance(c, HeartbeatMonitor)),
            tuple(c for c in checks if isinstance(c, ThresholdMonitor)),
            tuple(c for c in checks if isinstance(c, AlertmanagerMonitor)))


def _parse_hub(hub: Table, base: Path) -> HubSettings:
    hub.only_keys({"name", "state_dir", "http_listen", "timezone", "history_days",
                  "notifications", "outbox_max_bytes"})
    defaults = HubSettings()
    name = hub.string("name", defaults.name)
    if not name.strip():
        raise hub.expected("name", "a non-empty name", name)
    state_dir_text = hub.string("state_dir", "")
    state_dir = _state_dir(state_dir_text, hub, base) if state_dir_text \
        else defaults.state_dir
    http_listen = hub.string("http_listen", defaults.http_listen)
    if http_listen:
        _check_listen(http_listen, hub)
    timezone = hub.string("timezone", defaults.timezone)
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise hub.expected("timezone", "an IANA zone such as 'Europe/Oslo'",
                               timezone) from None
    history_days = hub.values.get("history_days", defaults.history_days)
    if (isinstance(history_days, bool) or not isinstance(history_days, int | float)
            or not 0 < history_days < 36_500):
        raise hub.expected("history_days", "a number of days above 0 (below 36500), such as 7",
                           history_days)
    notifications = hub.values.get("notifications", defaults.notifications)
    if not isinstance(notifications, bool):
        raise hub.expected("notifications", "true or false", notifications)
    outbox_max_bytes = hub.values.get("outbox_max_bytes", defaults.outbox_max_bytes)
    if (isinstance(outbox_max_bytes, bool) or not isinstance(outbox_max_bytes, int)
            or not OUTBOX_MIN_BYTES <= outbox_max_bytes <= OUTBOX_MAX_BYTES):
        raise hub.expected("outbox_max_bytes", f"a whole number of bytes from "
                           f"{OUTBOX_MIN_BYTES} to {OUTBOX_MAX_BYTES}, such as "
                           f"{DEFAULT_OUTBOX_MAX_BYTES}", outbox_max_bytes)
    return HubSettings(name=name, state_dir=state_dir, http_listen=http_listen,
                       timezone=timezone, history_days=float(history_days),
                       notifications=notifications, outbox_max_bytes=outbox_max_bytes)


#: Below this an outage of an hour could leave no room for its alerts and recoveries;
#: above it the bound stops protecting a Raspberry Pi's SD card.
OUTBOX_MIN_BYTES = 64 * 1024
OUTBOX_MAX_BYTES = 1024 * 1024 * 1024


def _take_severities(table: Table) -> tuple[Table, Severity, dict[str, Severity]]:
    """`severity` of `[policy]` and each `[policy.<component>]`, and the table without it
    (severity is the hub's to show, not the machines' to decide)."""
    expected = " or ".join(f"'{s.value}'" for s in Severity)

    def severity(where: Table, value: Any) -> Severity:
        if not isinstance(value, str) or value not in tuple(Severity):
            raise where.expected("severity", expected, value)
        return Severity(value)

    default = severity(table, table.values["severity"]) if "severity" in table.values \
        else Severity.WARNING
    severities: dict[str, Severity] = {}
    rest: dict[str, Any] = {}
    for key, value in table.values.items():
        if key == "severity":
            continue
        if isinstance(value, dict) and "severity" in value:
            severities[key] = severity(table.table(key), value["severity"])
            value = {k: v for k, v in value.items() if k != "severity"}
        rest[key] = value
    return Table(table.path, table.place, rest), default, severities


def _parse_discord(discord: Table) -> Mention | None:
    """`[discord] mention_critical`, the one role or user a critical alert pings."""
    discord.only_keys(DISCORD_KEYS)
    text = discord.string("mention_critical", "")
    if not text:
        return None
    try:
        return Mention.parse(text)
    except ValueError:
        raise discord.expected("mention_critical", MENTION_EXPECTED, text) from None


def _state_dir(text: str, hub: Table, base: Path) -> Path:
    """`state_dir` relative to the config's folder, `~` and `~user` expanded."""
    if "\0" in text:
        raise hub.expected("state_dir", "a folder path (no NUL character)", text)
    try:
        return base / Path(text).expanduser()
    except RuntimeError:  # what pathlib raises for an unknown `~user`
        user = text.split("/", 1)[0]
        raise hub.expected("state_dir", f"a folder path ({user} names no user of this "
                           "system)", text) from None


def _check_listen(value: str, hub: Table) -> None:
    if parse_listen(value) is None:
        raise hub.expected("http_listen", f"{ADDRESS_EXPECTED} (port 0: any free port), or ''",
                           value)


def _parse_policies(table: Table) -> tuple[Policy, dict[str, Policy]]:
    """`[policy]` (its plain keys), and each `[policy.<component>]` on top of it and of
    the defaults that fit that component where `[policy]` does not set the key."""
    defaults = {k: v for k, v in table.values.items() if not isinstance(v, dict)}
    if "depends_on" in defaults:
        raise table.error("depends_on", "belongs in [policy.<component>] (what that "
                                        "component needs), not in [policy]")
    default_policy = _policy(Policy(), Table(table.path, table.place, defaults))
    policies = {
        component: _policy(component_policy(default_policy, component, defaults),
                           table.table(component))
        for component, values in table.values.items() if isinstance(values, dict)
    }
    return default_policy, policies


def _policy(base: Policy, table: Table) -> Policy:
    table.only_keys(set(Policy.keys()))
    try:
        return base.with_overrides(table.values)
    except PolicyError as err:
        raise table.error(err.key, err.message) from None
