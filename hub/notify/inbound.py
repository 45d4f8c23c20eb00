"""What a chat transport hands inbound messages to: small interfaces, kept here so the
transport depends on them and not on the display or the sources that implement them.

* `DisplayPosts`: posts in the display channel (`DISCORD_CHANNEL_ID`), applied to the
  display, each earning the poster a short answer — `hub.display.messages.DisplayChannel`.
* `WatchedChannels`: messages in watched channels (`[[channel]]`), only counted —
  `hub.sources.channels.ChannelWatch`.
* `OperatorCommands`: the operators' commands in the monitoring channel, as messages and
  as slash commands — `hub.incidents.desk.OperatorDesk`.

Both are told plain values (ids, text, a time), nothing of the chat library.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol


class DisplayPosts(Protocol):
    """Posts in the display channel: who may post, what a post means, what to answer."""

    @property
    def channel_id(self) -> int: ...

    def on_message(self, channel_id: int, user_id: int, role_ids: Iterable[int], author: str,
                   text: str, at: float) -> str | None:
        """Apply a post; returns the answer for the poster, or None to stay silent."""
        ...


class WatchedChannels(Protocol):
    """Channels whose messages are counted (and may prove a channel not silent)."""

    def __contains__(self, channel_id: object) -> bool: ...

    def on_message(self, channel_id: int, text: str, at: float) -> None:
        """A message, not the hub's own, was posted in a watched channel at `at`."""
        ...


class OperatorCommands(Protocol):
    """The operators' commands (`ack`, `mute`, `unmute`, `silences`, `help`): who may use
    them, what each does and answers — `hub.incidents.desk.OperatorDesk`."""

    def on_text(self, text: str, user_id: int, role_ids: Iterable[int], by: str) -> str | None:
        """The answer to a message in the monitoring channel; None when it is no command."""
        ...

    def on_slash(self, name: str, options: Mapping[str, str], user_id: int,
                 role_ids: Iterable[int], by: str) -> str:
        """The answer to the slash command `/name` with its options."""
        ...
