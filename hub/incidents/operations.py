"""What operators do to incidents, wherever they ask (Discord, the HTTP API, the CLI).

`Incidents` is the daemon's notification policy: a `PolicyRunner` on the loop, journaled
in an `IncidentStore`, sending what it decides to send. Its `ack`, `mute` and `unmute`
return a `Change`: the reply for the operator, saying exactly what changed and until
when, and the **silence** notice that announces it in the monitoring channel (DESIGN.md:
every change is announced: who, what, until). A refusal raises `Refused` with the reply.

Targets are a component, an incident `<component>#<n>` (ack), or `all` / `*` (every
component). Durations are written as operators write them: `30m`, `2h`, `1d`, `1h30m`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo

from hub.formatting import duration
from hub.incidents.runner import PolicyRunner
from hub.storage.incidents import IncidentStore
from machines import (
    Notice,
    NoticeKind,
    NotificationPolicy,
    NotificationSnapshot,
    Policy,
    Refused,
)
from machines.notification import GateSnapshot, NotificationState
from machines.silences import ALL, MAX_MUTE_SECONDS, parse_duration

log = logging.getLogger(__name__)

#: What `all` means in a command: every component, as `*` does.
ALL_WORDS = frozenset({ALL, "all"})


@dataclass(frozen=True, slots=True)
class Silence:
    """One silence in force, as `silences`, the page and `/api/status` list it."""

    #: "mute" | "maintenance" | "ack", or what the policy decided by itself: "flapping"
    #: (until it settles) and "folded" (into a parent's incident, `reason` names it)
    kind: str
    target: str  # a component, `*`, or (ack, folded) the incident
    by: str
    reason: str
    since: float | None
    #: When it ends; None for an ack, which ends with its incident.
    until: float | None

    def describe(self, zone: tzinfo | None) -> str:
        """One line: `mute bus until Mon 30 Nov 14:30 CET, by ada: moving the router`."""
        what = "every component" if self.target == ALL else self.target
        text = f"{self.kind} {what}"
        if self.until is not None:
            text += f" until {local_time(self.until, zone)}"
        elif self.kind != "folded":
            text += " until it recovers"
        if self.by:
            text += f", by {self.by}"
        if self.reason:
            text += f": {self.reason}"
        return text


@dataclass(frozen=True, slots=True)
class Change:
    """An operator's action that was taken: what to answer, and what to announce."""

    reply: str
    announcement: Notice


def local_time(at: float, zone: tzinfo | None) -> str:
    """`Mon 30 Nov 14:30 CET` in `[hub] timezone` (None: the system's)."""
    moment = datetime.fromtimestamp(at, zone) if zone is not None \
        else datetime.fromtimestamp(at).astimezone()
    return moment.strftime("%a %d %b %H:%M %Z").strip()


def mute_seconds(text: str) -> float:
    """The seconds of a mute's duration as typed (`2h`); `Refused` saying what is wrong."""
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise Refused(f"{text!r} is not a duration: write it as 30m, 2h, 1d or "
                      "1h30m") from None
    if not 0 < seconds <= MAX_MUTE_SECONDS:
        raise Refused(f"a mute lasts at most 7 days (7d), not {text}")
    return seconds


class Incidents:
    """The notification policy of the running hub, and the operators' actions on it.

    `send` takes each notice decided to be sent (into the outbox), `held` each one held
    or folded (the status); `acked(incident, by, reason)` is told of each ack (the alert
    message is edited to name who); all on the loop. `hub_name` is the component of the
    announcements when the target is every component.
    """

    def __init__(self, runner: PolicyRunner, store: IncidentStore, *,
                 send: Callable[[Notice], None], held: Callable[[Notice], None],
                 zone: tzinfo | None, hub_name: str,
                 acked: Callable[[str, str, str], None] = lambda *_: None) -> None:
        self.runner = runner
        self._store = store
        self._send = send
        self._held = held
        self._acked = acked
        self._zone = zone
        self._hub_name = hub_name

    @property
    def policy(self) -> NotificationPolicy:
        return self.runner.policy

    def decided(self, notices: list[Notice]) -> None:
        """The runner's decisions: journaled first (an incident number is on disk before
        any notice carrying it), then each sent or recorded as held."""
        if not notices:
            return
        self._save([n for n in notices if not n.is_sent])
        for notice in notices:
            (self._send if notice.is_sent else self._held)(notice)

    def _save(self, held: list[Notice] | None = None) -> None:
        self._store.save(self.runner.now(), self.runner.policy.snapshot(), held or [])

    # -- operators -------------------------------------------------------------------

    def ack(self, target: str, by: str, reason: str = "") -> Change:
        target = self._target(target)
        # `ack all` acknowledges every incident open before it
        incidents = [i for _, i in self.open_incidents()] if target == ALL else []
        self.runner.ack(target, by, reason)
        self._save()  # the ack changed the policy even when it decided nothing
        if target != ALL:
            incidents = [self._incident_of(target)]
        for incident in incidents:
            self._acked(incident, by, reason)
        what = ", ".join(incidents)
        because = f" ({reason})" if reason else ""
        return Change(
            reply=(f"Acknowledged {what}{because}: its reminders are held until it recovers, "
                   "and the recovery will name you."),
            announcement=self._announce(target, f"{by} acknowledged {what}{because}", by,
                                        reason))

    def mute(self, target: str, for_text: str, by: str, reason: str = "") -> Change:
        target = self._target(target)
        seconds = mute_seconds(for_text)
        self.runner.mute(target, seconds, by, reason)
        self._save()  # a mute decides nothing at once: it is journaled all the same
        until = local_time(self.runner.now() + seconds, self._zone)
        what = "every component" if target == ALL else target
        because = f": {reason}" if reason else ""
        return Change(
            reply=(f"Muted {what} for {duration(seconds)}, until {until}{because}. Alerts and "
                   "reminders are held meanwhile; an incident still open then is alerted at "
                   "that moment."),
            announcement=self._announce(target, f"{by} muted {what} until {until}{because}",
                                        by, reason, until=until))

    def unmute(self, target: str, by: str) -> Change:
        target = self._target(target)
        sent = self.runner.unmute(target)
        self._save()
        what = "every component" if target == ALL else target
        alerted = [n.incident for n in sent if n.kind is NoticeKind.ALERT and n.is_sent]
        then = (f"; the alert held meanwhile is sent now ({', '.join(a for a in alerted if a)})"
                if alerted else "")
        return Change(reply=f"Unmuted {what}{then}.",
                      announcement=self._announce(target, f"{by} unmuted {what}", by, ""))

    # -- what is in force ----------------------------------------------------------------

    def silences(self) -> tuple[Silence, ...]:
        """Every silence in force now: mutes, maintenance windows under way, acks, and
        what the policy holds by itself (flapping, folded)."""
        return self.shown()[1]

    def open_incidents(self) -> tuple[tuple[str, str], ...]:
        """(component, incident) of every open incident, sent or held."""
        return self.shown()[0]

    def shown(self) -> tuple[tuple[tuple[str, str], ...], tuple[Silence, ...]]:
        """`open_incidents()` and `silences()` together, from one look at the policy (the
        status publishes both every second)."""
        now = self.runner.now()
        policy = self.runner.at(now)
        gates = policy.snapshot().gates
        incidents = tuple((g.component, g.incident) for g in gates
                          if g.incident is not None and g.state is not NotificationState.QUIET)
        found = [Silence("mute", m.target, m.by, m.reason, m.start, m.end)
                 for m in policy.silences.mutes() if m.covers(now)]
        found += [Silence("maintenance", ", ".join(sorted(w.components)), "", w.reason,
                          w.start, w.end)
                  for w in policy.silences.windows_at(now)]
        found += [Silence("ack", g.incident or g.component, g.acked_by, g.ack_reason, None,
                          None)
                  for g in gates if g.acked_by is not None and g.incident]
        # What the policy holds by itself: a flapping episode, a child folded into its
        # parent's incident (DESIGN.md: shown everywhere with why).
        found += [Silence("flapping", g.component, "", "alerts again and again",
                          g.flapping_since, g.flap_until)
                  for g in gates if g.flap_until is not None]
        found += [Silence("folded", g.incident or g.component, "",
                          f"into {g.folded_into}", None, None)
                  for g in gates if g.folded_into is not None and g.incident]
        return incidents, tuple(found)

    def _incident_of(self, target: str) -> str:
        if "#" in target:
            return target
        return self.runner.policy.incident(target) or target

    def _target(self, target: str) -> str:
        target = target.strip()
        if not target:
            raise Refused("name a component (or all)")
        return ALL if target.lower() in ALL_WORDS else target

    def _announce(self, target: str, text: str, by: str, reason: str,
                  until: str | None = None) -> Notice:
        details = [("by", by)]
        if until is not None:
            details.append(("until", until))
        if reason:
            details.append(("reason", reason))
        return Notice(kind=NoticeKind.SILENCE,
                      component=self._hub_name if target == ALL else target.split("#")[0],
                      at=self.runner.now(), error_detail=text, details=tuple(details))


def restored_policy(snapshot: NotificationSnapshot | None, *, notifications: bool,
                    components: Iterable[str], open_now: Collection[str],
                    policy_for: Callable[[str], Policy] | None = None) -> NotificationPolicy:
    """The policy as journaled, for the components watched now; `policy_for` gives each
    component's flapping keys and `depends_on`.

    An incident the policy holds open whose machine is not failing after the restart (its
    component is no longer watched, or the hub stopped between journaling the machine and
    the policy) is closed here with a log line: nothing could ever close it otherwise. Its
    count is kept, so incident numbers still never repeat.
    """
    components = tuple(components)
    if snapshot is None:
        return NotificationPolicy(notifications=notifications, components=components,
                                  policy_for=policy_for)
    gates = []
    for gate in snapshot.gates:
        if gate.incident is not None and gate.component not in open_now:
            log.info("incidents: %s is closed: %s is %s after the restart", gate.incident,
                     gate.component, "not watched any more" if gate.component not in components
                     else "not failing")
            gate = GateSnapshot(component=gate.component, opened=gate.opened)
        gates.append(gate)
    return NotificationPolicy.restore(replace(snapshot, gates=tuple(gates)),
                                      notifications=notifications, components=components,
                                      policy_for=policy_for)
