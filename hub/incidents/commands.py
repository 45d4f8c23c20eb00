"""The operators' commands as people type them (pure: no I/O, no clock).

In the monitoring channel, a message whose first word is `ack`, `mute`, `unmute`,
`silences` or `help` (with or without a leading `!`, any case) is a command:

    ack <component|incident|all> [reason]
    mute <component|all> <duration> [reason]
    unmute <component|all>
    silences
    help

Slash commands carry the same arguments as options. `parse` turns a message into a
`Command`, None when it is no command at all, or `CommandError` with the usage line when
it names a command but its arguments are wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

NAMES = ("ack", "mute", "unmute", "silences", "help")

#: One line per command, with one example each (DESIGN.md; `help` shows them all).
USAGE = {
    "ack": ("ack <component|incident|all> [reason]",
            "ack bus#3 the operator knows, works on it"),
    "mute": ("mute <component|all> <duration> [reason]", "mute pixoo 2h moving it"),
    "unmute": ("unmute <component|all>", "unmute pixoo"),
    "silences": ("silences", "silences"),
    "help": ("help", "help"),
}

HELP_TEXT = "\n".join(
    ["Commands (operators only; durations 30m, 2h, 1d, at most 7d):"]
    + [f"`{usage}` — e.g. `{example}`" for usage, example in USAGE.values()]
    + ["The same as slash commands: /ack, /mute, /unmute, /silences, /help."])


class CommandError(ValueError):
    """A command with wrong arguments; the message is the reply (with its usage)."""


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # one of NAMES
    target: str = ""
    duration: str = ""
    reason: str = ""


def parse(text: str) -> Command | None:
    """The command `text` is, None if it is none; `CommandError` on wrong arguments."""
    words = text.strip().split(maxsplit=1)
    if not words:
        return None
    name = words[0].lower().removeprefix("!")
    if name not in NAMES:
        return None
    rest = words[1] if len(words) > 1 else ""
    if name in ("silences", "help"):
        if rest:
            raise _usage(name, f"`{name}` takes nothing after it")
        return Command(name)
    target, _, rest = rest.partition(" ")
    rest = rest.strip()
    if not target:
        raise _usage(name, "name a component, an incident or all" if name == "ack"
                     else "name a component or all")
    if name == "ack":
        return Command(name, target=target, reason=rest)
    if name == "unmute":
        if rest:
            raise _usage(name, f"`unmute` takes only the component, not {rest!r}")
        return Command(name, target=target)
    duration, _, reason = rest.partition(" ")
    if not duration:
        raise _usage(name, "say for how long: 30m, 2h, 1d (at most 7d)")
    return Command(name, target=target, duration=duration, reason=reason.strip())


def _usage(name: str, problem: str) -> CommandError:
    usage, example = USAGE[name]
    return CommandError(f"{problem}. Usage: `{usage}`, e.g. `{example}`.")
