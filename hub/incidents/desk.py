"""The operators' desk: who may change silences, and what each command does and answers.

Discord (text and slash commands), the HTTP API and the CLI all come here. In Discord
only the users and roles in `[discord] operators` may use the commands; anyone else gets
a short refusal. The HTTP API (and the CLI through it) is authorised by the HTTP token
instead. Every change is announced in the monitoring channel through `announce`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import tzinfo

from hub.incidents.commands import HELP_TEXT, Command, CommandError, parse
from hub.incidents.operations import Change, Incidents
from machines import Notice, Refused

REFUSAL = ("Only this hub's operators can change silences: ask its owner to add your user "
           "or role id to `[discord] operators` in hub.toml.")


class OperatorDesk:
    """Runs operators' commands against `incidents`; see the module docstring."""

    def __init__(self, incidents: Incidents, operators: Collection[int], *,
                 announce: Callable[[Notice], None], zone: tzinfo | None) -> None:
        self._incidents = incidents
        self._operators = frozenset(operators)
        self._announce = announce
        self._zone = zone

    def is_operator(self, user_id: int, role_ids: Iterable[int]) -> bool:
        return user_id in self._operators or not self._operators.isdisjoint(role_ids)

    def on_text(self, text: str, user_id: int, role_ids: Iterable[int], by: str) -> str | None:
        """The answer to a message in the monitoring channel; None when it is no command."""
        try:
            command = parse(text)
        except CommandError as err:
            return str(err) if self.is_operator(user_id, role_ids) else REFUSAL
        if command is None:
            return None
        return self.on_command(command, user_id, role_ids, by)

    def on_slash(self, name: str, options: Mapping[str, str], user_id: int,
                 role_ids: Iterable[int], by: str) -> str:
        """The answer to `/name` with its options (`component`, `duration`, `reason`)."""
        return self.on_command(Command(name, target=options.get("component", ""),
                                       duration=options.get("duration", ""),
                                       reason=options.get("reason", "")),
                               user_id, role_ids, by)

    def on_command(self, command: Command, user_id: int, role_ids: Iterable[int],
                   by: str) -> str:
        """The answer to a command from Discord (a message or a slash command)."""
        if not self.is_operator(user_id, role_ids):
            return REFUSAL
        try:
            return self.run(command, by)
        except Refused as refusal:
            return f"Not done: {refusal}."

    def run(self, command: Command, by: str) -> str:
        """Do `command` for `by` (already authorised); the reply. Raises `Refused`."""
        if command.name == "help":
            return HELP_TEXT
        if command.name == "silences":
            return self.listing()
        change = self.change(command, by)
        return change.reply

    def change(self, command: Command, by: str) -> Change:
        """Do an `ack`, `mute` or `unmute` and announce it; raises `Refused`."""
        if command.name == "ack":
            change = self._incidents.ack(command.target, by, command.reason)
        elif command.name == "mute":
            change = self._incidents.mute(command.target, command.duration, by, command.reason)
        elif command.name == "unmute":
            change = self._incidents.unmute(command.target, by)
        else:
            raise Refused(f"{command.name} changes nothing")
        self._announce(change.announcement)
        return change

    def listing(self) -> str:
        """`silences`: what is silenced now, who did it, why and until when."""
        lines = [f"- {s.describe(self._zone)}" for s in self._incidents.silences()]
        text = "Silences in force:\n" + "\n".join(lines) if lines \
            else "No silences: every alert and reminder is sent."
        incidents = self._incidents.open_incidents()
        if incidents:
            text += "\nOpen incidents: " + ", ".join(i for _, i in incidents) + "."
        if not self._incidents.policy.notifications:
            text += ("\nNotifications are off (`[hub] notifications = false`): everything is "
                     "recorded, nothing is sent.")
        return text
