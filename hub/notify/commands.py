"""The `status` command's rules: what counts as the command, where, and how often (pure).

* The message command is a message whose whole text is `status` or `!status` (any case,
  surrounding spaces ignored) in the monitoring channel; `/status` is the slash command.
* Only the monitoring channel counts. A `status` message anywhere else is ignored
  silently (the bot may sit in busy channels); `/status` elsewhere gets a short private
  (ephemeral) answer, because Discord shows "the application did not respond" otherwise.
* Each person gets a small token bucket: `BURST` commands at once, then one more every
  `REFILL_SECONDS`. Over the limit, a `status` message gets no reply at all (a refusal
  would be channel noise too) and `/status` gets a private "try again in N s".

No I/O and no clock here: the caller passes `now` (a monotonic time in seconds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

#: Three answers at once cover "did it change?" twice; after that one per 20 s is plenty
#: for a person and keeps a spamming user from spending the bot's rate limit.
BURST = 3
REFILL_SECONDS = 20.0
#: Buckets of people who went quiet are forgotten once this many are tracked.
MAX_TRACKED_USERS = 1000

MESSAGE_WORDS = frozenset({"status", "!status"})
WRONG_CHANNEL_TEXT = "The status command works only in this hub's monitoring channel."


class Verdict(Enum):
    REPLY = "reply"
    IGNORE = "ignore"  # not a command, or not in the monitoring channel
    WRONG_CHANNEL = "wrong_channel"  # /status elsewhere: a private pointer
    SLOW_DOWN = "slow_down"  # over the per-person limit


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    retry_after_seconds: float = 0.0

    def refusal_text(self) -> str:
        if self.verdict is Verdict.WRONG_CHANNEL:
            return WRONG_CHANNEL_TEXT
        return f"Slow down: try `/status` again in {math.ceil(self.retry_after_seconds)} s."


def is_status_message(content: str) -> bool:
    return content.strip().lower() in MESSAGE_WORDS


class RateLimiter:
    """One token bucket per person: `burst` at once, refilled one per `refill_seconds`."""

    def __init__(self, burst: int = BURST, refill_seconds: float = REFILL_SECONDS) -> None:
        if burst < 1 or refill_seconds <= 0:
            raise ValueError("burst must be >= 1 and refill_seconds > 0")
        self._burst = burst
        self._refill_seconds = refill_seconds
        self._buckets: dict[int, tuple[float, float]] = {}  # user -> (tokens, at)

    def acquire(self, user_id: int, now: float) -> float:
        """Take a token: 0.0 if granted, else the seconds until one is available."""
        tokens, at = self._buckets.get(user_id, (float(self._burst), now))
        tokens = min(float(self._burst), tokens + max(now - at, 0.0) / self._refill_seconds)
        if tokens < 1.0:
            self._buckets[user_id] = (tokens, now)
            return (1.0 - tokens) * self._refill_seconds
        self._buckets[user_id] = (tokens - 1.0, now)
        if len(self._buckets) > MAX_TRACKED_USERS:
            self._forget_full(now)
        return 0.0

    def _forget_full(self, now: float) -> None:
        full_after = self._burst * self._refill_seconds
        self._buckets = {user: (tokens, at) for user, (tokens, at) in self._buckets.items()
                         if now - at < full_after}


class StatusCommands:
    """Decides what to do with a `status` message or a `/status` interaction."""

    def __init__(self, monitor_channel_id: int, limiter: RateLimiter | None = None) -> None:
        self._channel_id = monitor_channel_id
        self._limiter = limiter or RateLimiter()

    def on_message(self, channel_id: int, user_id: int, content: str, from_bot: bool,
                   now: float) -> Decision:
        if from_bot or channel_id != self._channel_id or not is_status_message(content):
            return Decision(Verdict.IGNORE)
        return self._limited(user_id, now)

    def on_slash(self, channel_id: int | None, user_id: int, now: float) -> Decision:
        if channel_id != self._channel_id:
            return Decision(Verdict.WRONG_CHANNEL)
        return self._limited(user_id, now)

    def _limited(self, user_id: int, now: float) -> Decision:
        wait = self._limiter.acquire(user_id, now)
        return Decision(Verdict.REPLY) if wait == 0.0 else Decision(Verdict.SLOW_DOWN, wait)
