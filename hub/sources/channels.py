"""`[[channel]]`: Discord channels the bot watches — live activity counters, and silence.

For each watched channel the hub counts, per local day (midnight in `[hub] timezone`),
the messages posted and the messages that match one of its `keywords`. A channel with
`silent_after_minutes` is also a monitored component named `channel-<name>`: every message
is a success `Outcome`, and silence is caught by the health machine itself, as for
heartbeats (`stale_after_seconds = silent_after_minutes × 60`: each stretch that long
without a message is one failure, `error_type = "stale"`, debounced by the component's
policy).

What counts:
* every message posted in the channel by a person, another bot or a webhook (the feeds
  people watch are often bots: CI, alerting, trading signals); never the hub's own posts;
* keywords match case-insensitively as whole words (`deploy` matches "Deploy done" and
  "deploy!", not "redeployed"); a keyword ending in `*` matches words that start with it
  (`deploy*` matches "deployed", "deploying"); a keyword may be several words
  (`stop loss`). The message text and its embeds' titles, descriptions and fields are
  searched; a message matching several keywords counts once in `keyword_matches_today`
  and once for each keyword it matched.

Channel ids are secrets like the others: `[[channel]] name = "deploys"` takes its id from
`DISCORD_WATCH_DEPLOYS` (the name upper-cased, `-` and `.` as `_`) in the environment or
`.env` (see `hub.secrets`).

`ActivityCounter` is pure (explicit `now`, explicit zone); `ChannelWatch` holds one per
channel on the daemon's loop, where the bot's message handler calls it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any

from hub.secrets import Secrets, SecretsError
from hub.settings_table import BUILT_IN_COMPONENTS, ConfigError, Table
from machines import Outcome, Policy

#: Component name of a channel watched for silence: `channel-<name>`. The prefix keeps
#: them apart from `[[monitor]]` names and says what fell silent in an alert.
COMPONENT_PREFIX = "channel-"
ENV_PREFIX = "DISCORD_WATCH_"
#: More keywords than this is a word list, not an alert filter; it also bounds the work
#: each message costs on the daemon's loop.
MAX_KEYWORDS = 50
MAX_KEYWORD_CHARS = 100
#: Messages longer than Discord allows (content 2000, embeds 6000) are cut to this before
#: matching, so a pathological message cannot cost more than a normal one.
MAX_TEXT_CHARS = 8000


# -- configuration ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WatchedChannel:
    """One `[[channel]]` table."""

    name: str
    keywords: tuple[str, ...] = ()
    silent_after_minutes: float | None = None

    @property
    def component(self) -> str:
        """The monitored component's name (only meaningful with `silent_after_minutes`)."""
        return COMPONENT_PREFIX + self.name

    @property
    def env_name(self) -> str:
        """The variable holding the channel id: `DISCORD_WATCH_<NAME>`."""
        return env_name_for(self.name)

    @property
    def silent_after_seconds(self) -> float | None:
        return None if self.silent_after_minutes is None else self.silent_after_minutes * 60

    def policy(self, base: Policy) -> Policy:
        """`base` (the component's `[policy]`) with staleness set from `silent_after`."""
        seconds = self.silent_after_seconds
        return base if seconds is None else replace(base, stale_after_seconds=seconds)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], path: Path, index: int) -> WatchedChannel:
        """Validate one `[[channel]]` table; errors name the file, the table and the key."""
        reader = Table(path, f"[[channel]] #{index}", table)
        reader.only_keys({"name", "keywords", "silent_after_minutes"})
        # A channel's component is `channel-<name>`, so built-in names are free to take.
        name = reader.name(reserved=())
        if env_name_for(name).endswith("_FILE"):
            # DISCORD_WATCH_X_FILE would read as the file form of DISCORD_WATCH_X.
            raise reader.expected("name", "a name that does not end in 'file'", name)
        keywords = table.get("keywords", [])
        if not isinstance(keywords, list) or len(keywords) > MAX_KEYWORDS:
            raise reader.expected("keywords", f"a list of at most {MAX_KEYWORDS} strings",
                                  keywords)
        seen: set[str] = set()
        for keyword in keywords:
            if not isinstance(keyword, str) or not keyword.strip().rstrip("*").strip() \
                    or len(keyword) > MAX_KEYWORD_CHARS:
                raise reader.expected("keywords", f"non-empty strings of at most "
                                      f"{MAX_KEYWORD_CHARS} characters", keyword)
            folded = _fold(keyword)
            if folded in seen:
                raise reader.expected("keywords", "each keyword once (case does not matter)",
                                      keyword)
            seen.add(folded)
        silent = reader.optional_number(
            "silent_after_minutes", above=0,
            meaning="minutes without a message before the channel counts as silent")
        return cls(name=name, keywords=tuple(k.strip() for k in keywords),
                   silent_after_minutes=silent)


def env_name_for(name: str) -> str:
    return ENV_PREFIX + re.sub(r"[-.]", "_", name).upper()


def parse_channels(tables: Any, path: Path,
                   monitor_names: Iterable[str] = ()) -> tuple[WatchedChannel, ...]:
    """All `[[channel]]` tables: names, variables and components must be unique."""
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{path}: channel: expected [[channel]] tables, got {tables!r}")
    taken = set(monitor_names) | set(BUILT_IN_COMPONENTS)
    channels: list[WatchedChannel] = []
    for index, table in enumerate(tables, start=1):
        channel = WatchedChannel.from_table(table, path, index)
        for other in channels:
            if other.env_name == channel.env_name:
                raise ConfigError(
                    f"{path}: [[channel]] #{index}: name: {channel.name!r} and {other.name!r} "
                    f"would both read their id from {channel.env_name}: rename one")
        if channel.silent_after_minutes is not None and channel.component in taken:
            raise ConfigError(f"{path}: [[channel]] #{index}: name: the component "
                              f"{channel.component!r} already exists (a [[monitor]] has that "
                              "name): rename one")
        channels.append(channel)
    return tuple(channels)


def resolve_channel_ids(channels: Iterable[WatchedChannel], secrets: Secrets, *,
                        reserved: Mapping[int, str] | None = None) -> dict[int, WatchedChannel]:
    """Each channel by its id from `DISCORD_WATCH_<NAME>`.

    `reserved` maps the ids of the hub's own channels to their variable
    (`DISCORD_MONITOR_CHANNEL_ID`, `DISCORD_CHANNEL_ID`): those cannot be watched, because
    a message there is a command or a display post, and the hub posts there itself.
    Errors name the variables, never the ids.
    """
    reserved = reserved or {}
    by_id: dict[int, WatchedChannel] = {}
    for channel in channels:
        value = secrets.watch_channel_id(channel.env_name)
        if not value:
            raise SecretsError(f"{channel.env_name} is not set: [[channel]] {channel.name!r} "
                               "needs its channel id in the environment or .env (Discord: "
                               "right-click the channel → Copy Channel ID)")
        channel_id = int(value)
        if channel_id in reserved:
            raise SecretsError(f"{channel.env_name} is the same channel as "
                               f"{reserved[channel_id]}: the hub's own channels cannot be "
                               "watched; watch another channel")
        if channel_id in by_id:
            raise SecretsError(f"{channel.env_name} and {by_id[channel_id].env_name} are the "
                               "same channel: watch it once, with all its keywords")
        by_id[channel_id] = channel
    return by_id


# -- matching -------------------------------------------------------------------------------

def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """Whole words, any case; a trailing `*` matches the rest of a word.

    A word boundary is required only on a side where the keyword has a word character,
    so `$SPY` or `🚀` match wherever they stand.
    """
    prefix = keyword.strip().endswith("*")
    body = _fold(keyword.strip().rstrip("*"))
    escaped = re.escape(body).replace(r"\ ", r"\s+")
    left = r"(?<!\w)" if re.match(r"\w", body) else ""
    right = r"\w*" if prefix else (r"(?!\w)" if re.match(r"\w", body[-1]) else "")
    return re.compile(left + escaped + right)


@dataclass(frozen=True, slots=True)
class KeywordMatcher:
    keywords: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]

    @classmethod
    def of(cls, keywords: Iterable[str]) -> KeywordMatcher:
        words = tuple(keywords)
        return cls(words, tuple(keyword_pattern(k) for k in words))

    def matches(self, text: str) -> tuple[str, ...]:
        """The keywords found in `text`, in configuration order."""
        folded = text[:MAX_TEXT_CHARS].casefold()
        return tuple(k for k, p in zip(self.keywords, self.patterns, strict=True)
                     if p.search(folded))


# -- counting -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ChannelActivity:
    """A watched channel's counters at one moment (part of the published `HubStatus`)."""

    name: str
    #: The local date the counters are for (ISO, in `[hub] timezone`).
    day: str
    messages_today: int = 0
    keyword_matches_today: int = 0
    #: Messages today per keyword, in configuration order: ((keyword, count), ...).
    keyword_counts: tuple[tuple[str, int], ...] = ()
    last_message_at: float | None = None
    #: `channel-<name>` when the channel is watched for silence, else "".
    component: str = ""


def local_day(at: float, zone: tzinfo | None) -> date:
    """The calendar date at `at` in `zone` (None: the system's local zone)."""
    moment = datetime.fromtimestamp(at, UTC)
    return (moment.astimezone(zone) if zone is not None else moment.astimezone()).date()


class ActivityCounter:
    """Messages and keyword matches per local day for one channel (pure: explicit times).

    The counters start again at the first instant of each new local date, so a day of 23
    or 25 hours (daylight saving) is counted whole, and so is a day whose midnight does
    not exist on the clock. A message stamped before the current day (a clock stepped
    back) counts for the current day rather than reopening a past one.
    """

    def __init__(self, channel: WatchedChannel, zone: tzinfo | None, now: float) -> None:
        self._channel = channel
        self._zone = zone
        self._matcher = KeywordMatcher.of(channel.keywords)
        self._day = local_day(now, zone)
        self._messages = 0
        self._matched = 0
        self._per_keyword = dict.fromkeys(channel.keywords, 0)
        self._last_message_at: float | None = None

    def _roll(self, now: float) -> None:
        day = local_day(now, self._zone)
        if day > self._day:
            self._day = day
            self._messages = self._matched = 0
            self._per_keyword = dict.fromkeys(self._channel.keywords, 0)

    def record(self, text: str, at: float) -> tuple[str, ...]:
        """Count one message posted at `at`; returns the keywords it matched."""
        self._roll(at)
        found = self._matcher.matches(text)
        self._messages += 1
        if found:
            self._matched += 1
            for keyword in found:
                self._per_keyword[keyword] += 1
        self._last_message_at = at if self._last_message_at is None \
            else max(self._last_message_at, at)
        return found

    def activity(self, now: float) -> ChannelActivity:
        """The counters at `now` (zero from the first instant of a new local day)."""
        self._roll(now)
        return ChannelActivity(
            name=self._channel.name, day=self._day.isoformat(),
            messages_today=self._messages, keyword_matches_today=self._matched,
            keyword_counts=tuple(self._per_keyword.items()),
            last_message_at=self._last_message_at,
            component=self._channel.component
            if self._channel.silent_after_minutes is not None else "")


class ChannelWatch:
    """Every watched channel's counter, on the daemon's loop; the bot calls `on_message`.

    A message in a channel watched for silence also becomes a success `Outcome` of its
    component, handed to `report` (which moves it onto the machines' scheduler);
    `on_change` is called after each counted message (the daemon republishes its status
    then, so `status` and `/api/status` show the message at once).
    """

    def __init__(self, channels: Mapping[int, WatchedChannel], zone: tzinfo | None,
                 now: float, *, report: Callable[[Outcome], None] | None = None,
                 on_change: Callable[[], None] | None = None) -> None:
        self._channels = dict(channels)
        self._counters = {channel_id: ActivityCounter(channel, zone, now)
                          for channel_id, channel in channels.items()}
        self._report = report
        self._on_change = on_change

    def __contains__(self, channel_id: object) -> bool:
        return channel_id in self._channels

    def on_message(self, channel_id: int, text: str, at: float) -> None:
        """A message (not the hub's own) was posted in a watched channel at `at`."""
        channel = self._channels.get(channel_id)
        if channel is None:
            return
        self._counters[channel_id].record(text, at)
        if channel.silent_after_minutes is not None and self._report is not None:
            self._report(Outcome.success(channel.component, at))
        if self._on_change is not None:
            self._on_change()

    def activity(self, now: float) -> tuple[ChannelActivity, ...]:
        """Every channel's counters at `now`, in configuration order."""
        return tuple(counter.activity(now) for counter in self._counters.values())


def channel_watch(channels: Iterable[WatchedChannel], secrets: Secrets, zone: tzinfo | None,
                  now: float, *, report: Callable[[Outcome], None] | None = None,
                  on_change: Callable[[], None] | None = None) -> ChannelWatch | None:
    """The daemon's `ChannelWatch` for the configured channels, or None when there are none.

    Raises `SecretsError` (naming variables, never ids) when an id is missing, or is the
    monitoring or display channel, or two names share one channel.
    """
    channels = tuple(channels)
    if not channels:
        return None
    reserved = {int(value): name for name, value in (
        ("DISCORD_MONITOR_CHANNEL_ID", secrets.discord_monitor_channel_id),
        ("DISCORD_CHANNEL_ID", secrets.discord_channel_id)) if value}
    return ChannelWatch(resolve_channel_ids(channels, secrets, reserved=reserved), zone, now,
                        report=report, on_change=on_change)
