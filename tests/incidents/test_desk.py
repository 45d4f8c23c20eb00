"""The operators' desk on real parts: the notification policy run by `PolicyRunner` on a
virtual scheduler, journaled in a real `IncidentStore`; commands as people type them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from reactivex.scheduler import HistoricalScheduler

from hub.incidents.commands import HELP_TEXT, NAMES, USAGE, Command, CommandError, parse
from hub.incidents.desk import REFUSAL, OperatorDesk
from hub.incidents.operations import Incidents, restored_policy
from hub.incidents.runner import PolicyRunner
from hub.maintenance import MaintenanceWindow
from hub.storage.incidents import IncidentStore
from hub.streams import to_datetime
from machines import HeldReason, Notice, NoticeKind, NotificationPolicy, Policy, Refused

UTC = ZoneInfo("UTC")
OPERATOR, ROLE, STRANGER = 111, 222, 333


class Hub:
    """The daemon's incident parts, on virtual time: what was sent, held and announced."""

    def __init__(self, state: Path, *, at: float = 1000.0, notifications: bool = True,
                 maintenance: tuple[MaintenanceWindow, ...] = (),
                 zone: ZoneInfo | None = UTC,
                 policies: dict[str, Policy] | None = None) -> None:
        self.scheduler = HistoricalScheduler(to_datetime(at))
        self.store = IncidentStore(state / "outbox.sqlite")
        self.sent: list[Notice] = []
        self.held: list[Notice] = []
        rules = policies or {}
        policy = restored_policy(self.store.snapshot(), notifications=notifications,
                                 components=["bus", "pixoo"], open_now=self._open(),
                                 policy_for=lambda c: rules.get(c, Policy()))
        self.incidents = Incidents(
            PolicyRunner(policy, self.scheduler, lambda n: self.incidents.decided(n),
                         maintenance=maintenance, zone=zone),
            self.store, send=self.sent.append, held=self.held.append, zone=zone,
            hub_name="kitchen")
        self.desk = OperatorDesk(self.incidents, {OPERATOR, ROLE},
                                 announce=self.incidents.runner.observe, zone=zone)
        self.incidents.runner.start()

    def _open(self) -> set[str]:
        return {"bus"}  # the machine of bus is failing across every restart here

    def advance(self, to: float) -> None:
        self.scheduler.advance_to(to_datetime(to))

    def machine(self, kind: NoticeKind, at: float, component: str = "bus", **extra) -> None:
        self.advance(at)
        self.incidents.runner.observe(Notice(kind=kind, component=component, at=at, **extra))

    def say(self, text: str, user: int = OPERATOR, roles: tuple[int, ...] = ()) -> str | None:
        return self.desk.on_text(text, user, roles, "ada")

    def kinds(self) -> list[tuple[str, str, str | None]]:
        return [(n.kind.value, n.component, n.incident) for n in self.sent]


# -- commands as typed ------------------------------------------------------------------

@pytest.mark.parametrize(("text", "command"), [
    ("ack bus", Command("ack", target="bus")),
    ("!ACK bus#3 on it, router", Command("ack", target="bus#3", reason="on it, router")),
    ("mute pixoo 2h moving it", Command("mute", target="pixoo", duration="2h",
                                        reason="moving it")),
    ("  mute all 1d  ", Command("mute", target="all", duration="1d")),
    ("unmute pixoo", Command("unmute", target="pixoo")),
    ("silences", Command("silences")), ("!help", Command("help")),
    ("status", None), ("acknowledged, thanks", None), ("", None),
])
def test_commands_are_read_as_people_type_them(text, command):
    assert parse(text) == command


@pytest.mark.parametrize(("text", "message"), [
    ("ack", "name a component, an incident or all. Usage: `ack <component|incident|all>"),
    ("mute bus", "say for how long: 30m, 2h, 1d (at most 7d). Usage: `mute <component|all>"),
    ("unmute bus now", "`unmute` takes only the component, not 'now'. Usage: `unmute"),
    ("help me", "`help` takes nothing after it. Usage: `help`"),
])
def test_a_command_with_wrong_arguments_says_what_and_shows_its_usage(text, message):
    with pytest.raises(CommandError) as caught:
        parse(text)
    assert str(caught.value).startswith(message)


def test_help_lists_every_command_with_one_example_each():
    for name in NAMES:
        usage, example = USAGE[name]
        assert f"`{usage}` — e.g. `{example}`" in HELP_TEXT
        assert parse(example) is not None  # every example is a valid command


# -- the desk ---------------------------------------------------------------------------

def test_only_operators_by_user_or_role_may_use_the_commands(tmp_path):
    hub = Hub(tmp_path)
    assert hub.say("silences", user=STRANGER) == REFUSAL
    assert hub.say("mute bus 2h", user=STRANGER, roles=(999,)) == REFUSAL
    assert hub.say("mute bus", user=STRANGER) == REFUSAL  # wrong arguments: refused too
    assert hub.incidents.silences() == ()
    assert hub.say("silences", user=STRANGER, roles=(ROLE,)).startswith("No silences")
    assert hub.say("hello there") is None  # no command: not answered at all


def test_a_mute_holds_the_alert_says_until_when_and_the_unmute_sends_it(tmp_path):
    hub = Hub(tmp_path)
    reply = hub.say("mute bus 2h moving the router")
    assert reply == ("Muted bus for 2 h, until Thu 01 Jan 02:16 UTC: moving the router. "
                     "Alerts and reminders are held meanwhile; an incident still open then "
                     "is alerted at that moment.")
    [announced] = hub.sent
    assert (announced.kind, announced.component) == (NoticeKind.SILENCE, "bus")
    assert announced.error_detail == "ada muted bus until Thu 01 Jan 02:16 UTC: moving the router"
    assert ("by", "ada") in announced.details
    hub.machine(NoticeKind.ALERT, 1500)
    assert [(n.kind.value, n.incident, n.held) for n in hub.held] == [
        ("alert", "bus#1", HeldReason.MUTE)]
    assert hub.say("silences").startswith(
        "Silences in force:\n- mute bus until Thu 01 Jan 02:16 UTC, by ada: moving the router"
        "\nOpen incidents: bus#1.")
    hub.advance(1600)
    assert hub.say("unmute bus") == "Unmuted bus; the alert held meanwhile is sent now (bus#1)."
    assert hub.kinds()[1:] == [("alert", "bus", "bus#1"), ("silence", "bus", None)]
    assert hub.sent[1].silenced is HeldReason.MUTE and hub.sent[1].silenced_since == 1500
    assert hub.say("unmute bus") == "Not done: bus is not muted."


def test_a_mute_ends_by_itself_at_its_instant_on_the_scheduler(tmp_path):
    hub = Hub(tmp_path)
    hub.say("mute bus 30m")
    hub.machine(NoticeKind.ALERT, 1100)
    hub.advance(1000 + 1800 - 1)
    assert [n.kind for n in hub.sent] == [NoticeKind.SILENCE]
    hub.advance(1000 + 1800)
    assert hub.kinds()[1:] == [("alert", "bus", "bus#1")]
    assert hub.sent[1].at == 2800


def test_an_ack_needs_an_open_incident_and_the_recovery_names_who_acked(tmp_path):
    hub = Hub(tmp_path)
    assert hub.say("ack bus") == "Not done: bus has no open incident to acknowledge."
    hub.machine(NoticeKind.ALERT, 1100)
    assert hub.say("ack bus#2") == "Not done: bus#2 is not open (bus#1 is)."
    assert hub.say("ack bus#1 swapping the cable") == (
        "Acknowledged bus#1 (swapping the cable): its reminders are held until it recovers, "
        "and the recovery will name you.")
    assert hub.sent[-1].error_detail == "ada acknowledged bus#1 (swapping the cable)"
    hub.machine(NoticeKind.REMINDER, 1200, reminder=1)
    assert [(n.kind.value, n.held) for n in hub.held] == [("reminder", HeldReason.ACK)]
    hub.machine(NoticeKind.RECOVERY, 1300)
    recovery = hub.sent[-1]
    assert (recovery.kind, recovery.acked_by, recovery.ack_reason) == (
        NoticeKind.RECOVERY, "ada", "swapping the cable")


@pytest.mark.parametrize(("text", "reply"), [
    ("mute bus 8d", "Not done: a mute lasts at most 7 days (7d), not 8d."),
    ("mute bus soon", "Not done: 'soon' is not a duration: write it as 30m, 2h, 1d or 1h30m."),
    ("mute tram 2h", "Not done: no component is named 'tram' (known: bus, pixoo, or * for all)."),
])
def test_a_refused_change_says_why_and_changes_nothing(tmp_path, text, reply):
    hub = Hub(tmp_path)
    assert hub.say(text) == reply
    assert hub.sent == [] and hub.incidents.silences() == ()


def test_mute_all_and_unmute_all(tmp_path):
    hub = Hub(tmp_path)
    assert hub.say("mute all 1h").startswith("Muted every component for 1 h")
    assert hub.sent[-1].component == "kitchen"  # every component: announced by the hub
    hub.machine(NoticeKind.ALERT, 1100, component="pixoo")
    assert [n.held for n in hub.held] == [HeldReason.MUTE]
    assert hub.say("unmute all") == "Unmuted every component; the alert held meanwhile is " \
                                    "sent now (pixoo#1)."


def test_incident_numbers_and_mutes_survive_a_restart_from_the_store(tmp_path):
    hub = Hub(tmp_path)
    hub.machine(NoticeKind.ALERT, 1100)
    hub.say("mute pixoo 2h")
    hub.store.close()  # no clean stop: every decision was written as it was made
    again = Hub(tmp_path, at=1200)
    assert again.incidents.open_incidents() == (("bus", "bus#1"),)
    assert [(s.kind, s.target) for s in again.incidents.silences()] == [("mute", "pixoo")]
    again.machine(NoticeKind.RECOVERY, 1300)
    again.machine(NoticeKind.ALERT, 1400)
    assert again.kinds() == [("recovery", "bus", "bus#1"), ("alert", "bus", "bus#2")]
    assert [n.incident for n in again.store.held()] == []


def test_an_incident_whose_machine_is_not_failing_after_a_restart_is_closed(tmp_path):
    hub = Hub(tmp_path)
    hub.machine(NoticeKind.ALERT, 1100, component="pixoo")
    hub.store.close()
    again = Hub(tmp_path, at=1200)  # pixoo's machine is healthy now: nothing can close it
    assert again.incidents.open_incidents() == ()
    again.machine(NoticeKind.ALERT, 1300, component="pixoo")
    assert again.kinds() == [("alert", "pixoo", "pixoo#2")]  # its number is not reused


def test_the_kill_switch_records_everything_and_sends_nothing(tmp_path):
    hub = Hub(tmp_path, notifications=False)
    hub.say("mute pixoo 1h")
    hub.machine(NoticeKind.ALERT, 1100)
    hub.machine(NoticeKind.STARTED, 1100, component="kitchen")
    assert hub.sent == []
    assert [(n.kind.value, n.held) for n in hub.store.held()] == [
        ("silence", HeldReason.NOTIFICATIONS_OFF), ("alert", HeldReason.NOTIFICATIONS_OFF),
        ("started", HeldReason.NOTIFICATIONS_OFF)]
    assert hub.say("silences").endswith(
        "Notifications are off (`[hub] notifications = false`): everything is recorded, "
        "nothing is sent.")


def test_a_nightly_window_across_the_dst_change_in_oslo_holds_and_then_alerts(tmp_path):
    oslo = ZoneInfo("Europe/Oslo")
    # Clocks go forward at 02:00 on Sunday 2025-03-30: a 01:30 + 2 h window ends at 04:30
    # local time that night (two hours of real time), at 03:30 the nights around it.
    window = MaintenanceWindow(components=frozenset({"bus"}), start_minute=90,
                               duration_seconds=7200, reason="router firmware")
    start = datetime(2025, 3, 29, 12, 0, tzinfo=oslo).timestamp()
    hub = Hub(tmp_path, at=start, maintenance=(window,), zone=oslo)
    night = datetime(2025, 3, 30, 1, 45, tzinfo=oslo).timestamp()
    hub.machine(NoticeKind.ALERT, night)
    assert [(n.kind.value, n.held) for n in hub.held] == [("alert", HeldReason.MAINTENANCE)]
    assert hub.say("silences").startswith(
        "Silences in force:\n- maintenance bus until Sun 30 Mar 04:30 CEST: router firmware")
    end = datetime(2025, 3, 30, 4, 30, tzinfo=oslo).timestamp()
    assert end - datetime(2025, 3, 30, 1, 30, tzinfo=oslo).timestamp() == 7200
    hub.advance(end - 1)
    assert hub.sent == []
    hub.advance(end)
    [alert] = hub.sent
    assert (alert.kind, alert.at, alert.silenced) == (NoticeKind.ALERT, end,
                                                      HeldReason.MAINTENANCE)


def test_a_policy_refusal_is_raised_to_the_http_api_and_the_cli(tmp_path):
    hub = Hub(tmp_path)
    with pytest.raises(Refused, match="bus has no open incident"):
        hub.desk.change(Command("ack", target="bus"), "HTTP API")
    change = hub.desk.change(Command("mute", target="bus", duration="45m"), "HTTP API")
    assert change.reply.startswith("Muted bus for 45 min, until Thu 01 Jan 01:01 UTC.")
    assert hub.sent[-1].error_detail == "HTTP API muted bus until Thu 01 Jan 01:01 UTC"


def test_a_fresh_policy_when_nothing_was_journaled(tmp_path):
    policy = restored_policy(None, notifications=True, components=["bus"], open_now=set())
    assert isinstance(policy, NotificationPolicy) and list(policy) == ["bus"]


def test_what_is_flapping_or_folded_is_listed_with_why(tmp_path):
    hub = Hub(tmp_path, policies={"pixoo": Policy(depends_on=("bus",)),
                                  "bus": Policy(flap_alerts=2, flap_window_seconds=600)})
    hub.machine(NoticeKind.ALERT, 1100)
    hub.machine(NoticeKind.ALERT, 1110, component="pixoo")  # folded into bus#1
    assert [(n.component, n.folded_into) for n in hub.held] == [("pixoo", "bus#1")]
    assert hub.say("silences") == (
        "Silences in force:\n- folded pixoo#1: into bus#1\nOpen incidents: bus#1, pixoo#1.")
    hub.machine(NoticeKind.RECOVERY, 1200)  # pixoo still failing: alerted now
    hub.machine(NoticeKind.ALERT, 1300)  # the second alert sent within 600 s: flapping
    assert [n.kind.value for n in hub.sent][-1] == "flapping"
    listing = hub.say("silences")
    assert "- flapping bus until Thu 01 Jan 00:31 UTC: alerts again and again" in listing


def test_a_mute_is_journaled_at_once_even_before_its_announcement(tmp_path):
    hub = Hub(tmp_path)
    hub.incidents.mute("pixoo", "2h", "ada")  # the HTTP API's path, announced after
    hub.store.close()
    again = Hub(tmp_path, at=1200)
    assert [(s.kind, s.target, s.by) for s in again.incidents.silences()] == [
        ("mute", "pixoo", "ada")]
