"""The composition root: the one place that chooses real parts and wires them.

    world (sources on worker threads) ─┐
    display loop (render tick → device) ┼→ `health_notices` (machines, on the loop's
    status server (pings, pushed values) ┘   scheduler) → notification policy (send,
                                              hold; incident ids) → outbox (SQLite)
                                              → delivery → transport (bot | webhook | console)

Everything runs on one asyncio loop; only blocking I/O leaves it, and it comes back as
`Outcome`s. The owner of the machines publishes an immutable `HubStatus` (through a
`StatusRecorder`) that the bot's `status`, the status page and `/metrics` read. The
display's `Dashboard` keeps the latest bus and weather data from the same outcomes.
`run_daemon` is what `divoom-hub run` calls, and the demo calls it with a simulated
world.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import reactivex
from reactivex import Subject, abc
from reactivex import operators as ops
from reactivex.scheduler.eventloop import AsyncIOThreadSafeScheduler

from hub import installed_version
from hub.config import Config
from hub.dashboard import Dashboard, LatestFrame
from hub.display.alerts import Alert
from hub.display.loop import display_outcomes
from hub.display.messages import DisplayChannel, MessageBoard, MessageSettings
from hub.display.preview import PreviewDevice
from hub.display.settings import DisplaySettings
from hub.fleet.model import FleetAlert, FleetStatus
from hub.fleet.received import FleetBoard, Received
from hub.incidents.desk import OperatorDesk
from hub.incidents.operations import Incidents, restored_policy
from hub.incidents.runner import PolicyRunner
from hub.ingest.reports import Diagnostic, Level, diagnostic_notice
from hub.notify.choice import SHARED_DISPLAY_CHANNEL, TransportKind, transport_choice
from hub.notify.delivery import MESSAGE_INTERVAL_SECONDS, Delivery
from hub.notify.embeds import notice_line
from hub.notify.outbox import DeadLetter, Outbox
from hub.notify.transport import ConsoleTransport, Transport
from hub.secrets import Secrets, SecretsError, redact
from hub.selfcheck import HUB_COMPONENT, SELF_CHECK_SECONDS, SelfCheck
from hub.sources.channels import ChannelWatch, channel_watch
from hub.status.history import DAY_SECONDS
from hub.status.model import HubStatus
from hub.status.recorder import StatusRecorder
from hub.storage.incidents import IncidentStore, held_reason
from hub.storage.journal import BEAT_SECONDS, Journal, JournaledMachines
from hub.storage.state_file import StateFileReport, prepare_state_file
from hub.streams import health_notices, to_seconds
from hub.web.startup import AddressUnavailable, PortWait, StatusServerError
from hub.world import Watched, World, WorldFactory, real_world
from machines import Notice, NoticeKind, Outcome

if TYPE_CHECKING:
    from hub.fleet.forward import Forwarder
    from hub.web.server import StatusServer

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1  # the pipeline failed; systemd's Restart=on-failure restarts the hub

#: On SIGTERM the stopped notice and anything queued get this long to reach Discord;
#: systemd's default stop timeout is 90 s, so this leaves ample room.
DRAIN_SECONDS = 5.0
#: How stale the `status` reply may be at most; notices republish at once.
STATUS_PUBLISH_SECONDS = 1.0
#: How long `run` waits for a status address that is taken (or not yet there) before it
#: exits 1 for systemd to restart it: at boot the port is usually freed, or the LAN
#: address assigned, within seconds, and exit 2 would stop systemd from trying again.
#: Well within the unit's TimeoutStartSec=120 (READY=1 comes after the wait).
PORT_WAIT = PortWait(seconds=60.0)


class StartupError(RuntimeError):
    """The daemon cannot start as configured; the message says what to change."""


def choose_transport(secrets: Secrets, write: Callable[[str], None], *,
                     status: Callable[[], HubStatus | None] = lambda: None,
                     clock: Callable[[], float] = time.time,
                     report: Callable[[Outcome], None] | None = None,
                     display: DisplayChannel | None = None,
                     channels: ChannelWatch | None = None,
                     zone: ZoneInfo | None = None,
                     frame_png: Callable[[], bytes | None] | None = None) -> Transport:
    """The transport `transport_choice` chooses, built: the bot, the webhook or the console.

    `status`, `clock` and `report` are for the bot: where it reads the published
    `HubStatus`, the daemon's clock, and where its connection outcomes go. `display` is
    the display channel (`DISCORD_CHANNEL_ID`), which only the bot can read, and
    `channels` the watched channels (`[[channel]]`), which need the bot too. `zone` is
    `[hub] timezone` (None: the system's), the wall clock of the `status` reply's picture;
    `frame_png` the display's latest frame, for the bot's `preview`.
    """
    choice = transport_choice(secrets)
    if choice.lacks_bot_token:
        raise StartupError("DISCORD_MONITOR_CHANNEL_ID is set but DISCORD_BOT_TOKEN is not: "
                           "the monitoring channel needs the bot's token")
    has_bot = choice.bot is not None
    if (secrets.discord_channel_id or display is not None) and not has_bot:
        log.warning("DISCORD_CHANNEL_ID is set, but display messages need the Discord bot "
                    "(DISCORD_BOT_TOKEN and DISCORD_MONITOR_CHANNEL_ID): nothing posted "
                    "there will reach the display")
    if channels is not None and not has_bot:
        raise StartupError("[[channel]] watches Discord channels through the bot: set "
                           "DISCORD_BOT_TOKEN and DISCORD_MONITOR_CHANNEL_ID, or remove the "
                           "[[channel]] tables")
    # discord.py, aiohttp and the status server are imported where they are built: a
    # configuration without them does not carry their memory (docs/performance.md).
    if choice.bot is not None:
        from hub.notify.discord.transport import BotTransport

        if choice.shares_display_channel:
            raise StartupError(SHARED_DISPLAY_CHANNEL)
        if secrets.discord_webhook_url:
            log.info("both a bot and a webhook are configured; notices go through the bot")
        return BotTransport(choice.bot, status=status, clock=clock, report=report,
                            display=display, channels=channels, zone=zone,
                            frame_png=frame_png)
    if choice.kind is TransportKind.WEBHOOK:
        from hub.notify.webhook import Webhook, WebhookTransport, WebhookUrlError

        try:
            webhook = Webhook.parse(secrets.discord_webhook_url)
        except WebhookUrlError as err:  # said like every other start-up error
            raise StartupError(str(err)) from None
        return WebhookTransport(webhook, choice.api_base)
    if choice.is_bot_token_unused:
        log.info("DISCORD_BOT_TOKEN is set without DISCORD_MONITOR_CHANNEL_ID or a webhook: "
                 "notices go to the console")
    return ConsoleTransport(write)


def started_notice(config: Config, transport: Transport, components: tuple[str, ...],
                   at: float, details: tuple[tuple[str, str], ...] = ()) -> Notice:
    """The **started** summary: what is watched and how, with no secret or address."""
    return Notice(kind=NoticeKind.STARTED, component=config.hub.name, at=at, details=(
        ("version", installed_version()),
        ("transport", transport.name),
        ("components", ", ".join(components) or "none"),
        ("default policy", f"alert after {config.policy.failures_before_alert} failures, "
                           f"remind after {config.policy.remind_after_seconds:g} s"),
        *details,
    ))


@dataclass(frozen=True, slots=True)
class DaemonInfo:
    """Where a person can look while the daemon runs, and how a supervisor sees it alive."""

    status_url: str | None
    frame_path: Path
    #: The latest published `HubStatus` and the clock that stamps it: a recent `at`
    #: proves the loop alive (the systemd watchdog, hub/service.py).
    status: Callable[[], HubStatus]
    clock: Callable[[], float]

    def details(self) -> tuple[tuple[str, str], ...]:
        page = (("status page", self.status_url),) if self.status_url else ()
        return (*page, ("frames", str(self.frame_path)))


def watched_components(config: Config, parts: World, watches_discord: bool,
                       self_check_seconds: float = SELF_CHECK_SECONDS) -> tuple[Watched, ...]:
    """Everything with a health machine: the world's sources and device, Discord itself
    when it carries the notices, channels watched for silence, and the hub itself."""
    discord = (Watched("discord", config.policy_for("discord")),) if watches_discord else ()
    # A channel watched for silence is a component; its messages are its outcomes.
    silent_channels = tuple(Watched(c.component, c.policy(config.policy_for(c.component)))
                            for c in config.channels if c.silent_after_minutes is not None)
    hub = Watched(HUB_COMPONENT, config.policy_for(HUB_COMPONENT), self_check_seconds)
    # Alertmanager's alerts selected by matchers: their outcomes come with its webhook.
    fleet = tuple(Watched(m.name, m.policy(config.policy_for(m.name),
                                           config.policy_keys.get(m.name, ())))
                  for m in config.fleet_monitors)
    return (*parts.watched, *discord, *silent_channels, *fleet, hub)


def fleet_display_alert(alert: FleetAlert) -> Alert:
    """A fleet alert as a line of the `alerts` page: critical when its labels say so."""
    critical = dict(alert.labels).get("severity") == "critical"
    return Alert(name=alert.line(), since=alert.starts_at or 0.0,
                 severity="critical" if critical else "warning")


def unreadable_notice(dead: DeadLetter, at: float) -> Notice:
    """What the owner is told of an outbox row set aside as unreadable."""
    return diagnostic_notice(Diagnostic(
        Level.ERROR, HUB_COMPONENT,
        f"a queued {dead.kind} notice for {dead.component} cannot be read ({dead.reason}); "
        "it is kept in the outbox_dead table of outbox.sqlite, and the rest are delivered",
        (), ""), at)


def prepare_state_dir(state_dir: Path) -> Path:
    """Create `state_dir` and prove it writable, or say clearly why not (a StartupError)."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        probe = state_dir / ".writable"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise StartupError(f"[hub] state_dir {state_dir}: cannot write there ({err.strerror}); "
                           "the outbox and frames live there, so the hub's user must own "
                           "it") from None
    return state_dir


@dataclass(slots=True)
class Parts:
    """Everything the daemon is made of, built and wired to each other, nothing running."""

    config: Config
    scheduler: AsyncIOThreadSafeScheduler
    clock: Callable[[], float]
    started_at: float
    world: World
    watched: tuple[Watched, ...]
    transport: Transport
    outbox: Outbox
    journal: Journal
    machines: JournaledMachines
    incident_store: IncidentStore
    incidents: Incidents
    desk: OperatorDesk
    selfcheck: SelfCheck
    delivery: Delivery
    recorder: StatusRecorder
    dashboard: Dashboard
    frames: LatestFrame
    frame_path: Path
    channels: ChannelWatch | None
    server: StatusServer | None
    state_file: StateFileReport
    display_executor: ThreadPoolExecutor
    #: Outcomes that reach the loop from parts rather than from a source's stream: the
    #: Discord connection and delivery, heartbeat pings and pushed values, the self-check.
    discord_outcomes: Subject[Outcome]
    reports: Subject[Outcome]
    self_checks: Subject[Outcome]
    #: Incidents forwarded to Alertmanager (`[alertmanager]`), or None.
    forwarder: Forwarder | None = None
    #: The fleet's alerts firing now, as Alertmanager's webhook last said.
    board: FleetBoard = field(default_factory=FleetBoard)


def build(config: Config, secrets: Secrets, write: Callable[[str], None], *,
          accept: Callable[[Notice], None], changed: Callable[[], None],
          send: Callable[[Notice], None], held: Callable[[Notice], None],
          acked: Callable[[str, str, str], None],
          world: WorldFactory = real_world, self_check_seconds: float = SELF_CHECK_SECONDS,
          listen_setting: str = "[hub] http_listen",
          fleet: Callable[[tuple[Received, ...]], None] | None = None) -> Parts:
    """Choose the real parts for `config` and wire them; start nothing (call on the loop).

    `accept` is where notices from parts go (diagnostics, unreadable outbox rows) and
    `changed` is told when something shown in the status changed (a watched channel's
    message); the notification policy hands what it sends to `send` (the outbox) and what
    it holds to `held`, and each ack to `acked` (the alert message names who); `fleet`
    takes the alerts of Alertmanager's webhook onto `Parts.board`: the `Daemon`'s own
    methods.
    """
    loop = asyncio.get_running_loop()
    scheduler = AsyncIOThreadSafeScheduler(loop)

    def clock() -> float:
        return to_seconds(scheduler.now)

    needs_listener = (config.heartbeats or config.fleet_monitors
                      or any(t.is_pushed for t in config.thresholds))
    if needs_listener and not config.hub.http_listen:
        raise StartupError("heartbeat monitors, pushed thresholds and alertmanager monitors "
                           "report to the status server: set [hub] http_listen (e.g. "
                           "\"127.0.0.1:8787\")")
    now = clock()
    state_dir = prepare_state_dir(config.hub.state_dir)
    discord_outcomes: Subject[Outcome] = Subject()
    messages = MessageBoard(state_dir)
    display = (DisplayChannel(int(secrets.discord_channel_id), messages,
                              config.messages or MessageSettings())
               if secrets.discord_channel_id else None)
    try:
        # Counted on this loop by the bot; each message republishes the status at once.
        channels = channel_watch(config.channels, secrets, config.hub.zone(), now,
                                 report=discord_outcomes.on_next, on_change=changed)
    except SecretsError as err:
        raise StartupError(str(err)) from None
    transport = choose_transport(secrets, write, status=lambda: recorder.latest, clock=clock,
                                 report=discord_outcomes.on_next, display=display,
                                 channels=channels, zone=config.hub.zone(),
                                 frame_png=lambda: frames.png())
    watches_discord = transport.name != "console"
    # A damaged file is moved aside, what it still holds is queued again, and the owner is
    # told once the hub has started (hub/storage/state_file.py).
    state_file = prepare_state_file(state_dir / "outbox.sqlite")
    # Rows that cannot be read are set aside and told (on this loop, in a delivery step).
    outbox = Outbox(state_dir / "outbox.sqlite",
                    on_unreadable=lambda dead: accept(unreadable_notice(dead, clock())),
                    max_bytes=config.hub.outbox_max_bytes)
    outbox.put(state_file.rescued)
    # Machine state and history journaled beside the outbox: a restart resumes open
    # incidents, and a gap is reported once (hub/storage/journal.py, docs/restart.md).
    journal = Journal(state_dir / "outbox.sqlite", history_days=config.hub.history_days)
    machines = JournaledMachines(journal)
    # The notification policy's counters, silences and held notices, beside the journal.
    incident_store = IncidentStore(state_dir / "outbox.sqlite",
                                   history_days=config.hub.history_days)
    # What goes wrong inside the hub is its own component's failure (hub/selfcheck.py).
    selfcheck = SelfCheck(outbox, machines, monotonic=loop.time, journals=(incident_store,))
    delivery = Delivery(outbox, transport, config.hub.name, clock,
                        report=discord_outcomes.on_next if watches_discord else None,
                        # The console has no rate limit: print each notice at once.
                        message_interval_seconds=0.0 if not watches_discord
                        else MESSAGE_INTERVAL_SECONDS,
                        on_fault=selfcheck.fault, monotonic=loop.time,
                        alerting=config.alerting())

    parts = world(config, scheduler)
    watched = watched_components(config, parts, watches_discord, self_check_seconds)
    recorder = StatusRecorder(config.hub.name, now, monotonic=loop.time, expected_every={
        c.name: c.every_seconds for c in watched if c.every_seconds is not None})
    for component in watched:
        machines.add(component.name, component.policy, now)
    machines.resume(now, config.hub.name)
    policy = restored_policy(
        incident_store.snapshot(), notifications=config.hub.notifications,
        components=[c.name for c in watched],
        open_now={c.name for c in watched if machines.state(c.name).is_incident_open},
        policy_for=config.policy_for)
    incidents = Incidents(
        PolicyRunner(policy, scheduler, lambda notices: incidents.decided(notices),
                     maintenance=config.maintenance, zone=config.hub.zone()),
        incident_store, send=send, held=held, zone=config.hub.zone(),
        hub_name=config.hub.name, acked=acked)
    # Operators ack and mute through Discord (the bot), the HTTP API and the CLI; each
    # change is announced like any notice.
    desk = OperatorDesk(incidents, config.discord.operators, announce=accept,
                        zone=config.hub.zone())
    if transport.name == "bot":  # its commands come to the desk
        from hub.notify.discord.transport import BotTransport

        assert isinstance(transport, BotTransport)
        transport.attach_operators(desk)
    if not config.hub.notifications:  # said once: nobody should wonder why all is quiet
        log.warning("%s: [hub] notifications = false: every notice is recorded (the status "
                    "page, /api/status, the journal) and none is sent", config.path)
    # The timeline picture shows the last day, including before this start.
    recorder.history.seed(journal.history(since=now - DAY_SECONDS), since=now - DAY_SECONDS)

    board = FleetBoard()
    dashboard = Dashboard(config.display or DisplaySettings(), config.hub.zone(),
                          machines=lambda: recorder.latest.machines,
                          messages=messages, pages=config.pages,
                          extra_alerts=lambda: tuple(map(fleet_display_alert, board.firing())),
                          fleet_alerts=lambda: tuple(a.line() for a in board.firing()))
    frames = LatestFrame(PreviewDevice(state_dir))
    reports: Subject[Outcome] = Subject()  # heartbeat pings and pushed values, on the loop
    server: StatusServer | None = None
    if config.hub.http_listen:
        from hub.web.server import StatusServer

        server = StatusServer(config.hub.http_listen, lambda: recorder.latest,
                              frame_png=frames.png, pages=dashboard.pages_shown,
                              report=reports.on_next,
                              # diagnostics from other apps: same outbox (on this loop)
                              notify=accept, fleet=fleet,
                              heartbeats=config.heartbeats, thresholds=config.thresholds,
                              token=secrets.hub_http_token, clock=clock,
                              zone=config.hub.zone(), setting=listen_setting, desk=desk)
    forwarder = None
    if config.alertmanager is not None:
        from hub.fleet.forward import AlertStore, Forwarder  # aiohttp: only when forwarding

        # Its own table of outbox.sqlite: Alertmanager's outage loses nothing either.
        forwarder = Forwarder(config.alertmanager, AlertStore(state_dir / "outbox.sqlite"),
                              config.hub.name, clock, token=secrets.alertmanager_token,
                              password=secrets.alertmanager_password,
                              severity=lambda c: config.alerting().severity_for(c).value)
    return Parts(
        config=config, scheduler=scheduler, clock=clock, started_at=now, world=parts,
        watched=watched, transport=transport, outbox=outbox, journal=journal,
        machines=machines, incident_store=incident_store, incidents=incidents, desk=desk,
        selfcheck=selfcheck, delivery=delivery, recorder=recorder,
        dashboard=dashboard, frames=frames, frame_path=PreviewDevice(state_dir).large_path,
        channels=channels, server=server,
        state_file=state_file,
        display_executor=ThreadPoolExecutor(max_workers=2, thread_name_prefix="display"),
        discord_outcomes=discord_outcomes, reports=reports, self_checks=Subject(),
        forwarder=forwarder, board=board)


class Daemon:
    """The running hub, in steps a test can call one by one: `start`, `accept`,
    `publish_status`, `stop` (the runner, `run_daemon`, only waits in between).

    Construct it on the daemon's loop; `build` makes its parts.
    """

    def __init__(self, config: Config, secrets: Secrets, write: Callable[[str], None], *,
                 world: WorldFactory = real_world,
                 self_check_seconds: float = SELF_CHECK_SECONDS,
                 listen_setting: str = "[hub] http_listen") -> None:
        self.parts = build(config, secrets, write, accept=self.accept,
                           changed=self._republish, send=self._send, held=self._held,
                           acked=self._acked,
                           world=world,
                           self_check_seconds=self_check_seconds,
                           listen_setting=listen_setting, fleet=self.received_alerts)
        self._self_check_seconds = self_check_seconds
        self._running: list[abc.DisposableBase] = []
        self._delivering = asyncio.Event()
        self._delivery_task: asyncio.Task[None] | None = None
        self._forwarding = asyncio.Event()  # set: the forwarder stops
        self._forward_task: asyncio.Task[None] | None = None
        self._has_started = False
        self._secrets = secrets
        #: Why the monitoring pipeline failed (the stream ended in an error), if it did.
        self.failures: list[Exception] = []

    async def start(self, stop: asyncio.Event, port_wait: PortWait = PORT_WAIT
                    ) -> DaemonInfo | None:
        """Serve, announce **started**, and run the streams, timers and delivery.

        None when `stop` was set while waiting for the status address (nothing started).
        A pipeline that fails sets `stop`. Raises `AddressUnavailable` when the address
        stayed taken, `StartupError` when it can never be used.
        """
        parts = self.parts
        server = parts.server
        if server is not None:
            try:
                if not await _unless_stopped(server.start(port_wait), stop):
                    return None
            except StatusServerError as err:
                if isinstance(err, AddressUnavailable):
                    raise
                raise StartupError(str(err)) from None
        info = DaemonInfo(status_url=server.url if server is not None else None,
                          frame_path=parts.frame_path,
                          status=lambda: parts.recorder.latest, clock=parts.clock)
        # Nothing awaits between starting the server and subscribing: no ping is lost.
        # Where the page and frames are is for the console only: the started message in
        # Discord carries no addresses (the log says where the page is).
        where = info.details() if parts.transport.name == "console" else ()
        self.accept(started_notice(parts.config, parts.transport,
                                   tuple(c.name for c in parts.watched), parts.started_at,
                                   (*parts.world.details, *where)))
        self._has_started = True
        if parts.state_file.problem is not None:
            self.accept(diagnostic_notice(Diagnostic(
                Level.ERROR, HUB_COMPONENT, parts.state_file.describe(), (), ""),
                parts.started_at))
        # A silence that ended while the hub was down sends its held alert now.
        parts.incidents.runner.start()
        self._run_streams(stop)
        parts.transport.start()
        self._delivery_task = asyncio.create_task(parts.delivery.run(self._delivering),
                                                  name="delivery")
        if parts.forwarder is not None:
            # Alertmanager links each alert to the page that tells more.
            parts.forwarder.generator_url = info.status_url or ""
            self._forward_task = asyncio.create_task(parts.forwarder.run(self._forwarding),
                                                     name="alertmanager")
        return info

    def _run_streams(self, stop: asyncio.Event) -> None:
        parts, scheduler = self.parts, self.parts.scheduler
        outcomes = reactivex.merge(
            parts.discord_outcomes, parts.reports, parts.self_checks, *parts.world.sources,
            display_outcomes(parts.dashboard.render, scheduler, parts.display_executor,
                             device=parts.world.device,
                             brightness_at=parts.world.brightness_at,
                             on_frame=parts.frames.push),
        # `seen` updates the recorder and the dashboard, which only the loop may touch;
        # every source already emits there, and this hop (~16 µs, docs/performance.md)
        # keeps it so for a source that one day does not.
        ).pipe(ops.observe_on(scheduler), ops.do_action(self._seen))

        def failed(error: Exception) -> None:
            log.error("the monitoring pipeline failed", exc_info=error)
            self.failures.append(error)
            stop.set()

        self._running = [
            health_notices(outcomes, parts.machines, scheduler, on_fault=parts.selfcheck.fault,
                           parents_first=parts.config.parents_first,
                           ).subscribe(self.accept, failed),
            scheduler.schedule_periodic(STATUS_PUBLISH_SECONDS,
                                        lambda _: self.publish_status()),
            scheduler.schedule_periodic(BEAT_SECONDS, lambda _: self._beat()),
            scheduler.schedule_periodic(self._self_check_seconds, lambda _: self.check_self()),
        ]

    def _beat(self) -> None:
        now = self.parts.clock()
        self.parts.machines.beat(now)
        self.parts.incident_store.flush(now)

    def _seen(self, outcome: Outcome) -> None:
        self.parts.recorder.outcome(outcome)
        self.parts.dashboard.observe(outcome)

    def check_self(self) -> None:
        """One self-check: its outcome joins the others on their way to the machines."""
        self.parts.self_checks.on_next(self.parts.selfcheck.check(self.parts.clock()))

    def publish_status(self) -> HubStatus:
        """The owner's immutable picture for `status`, the page and /metrics (rule 2)."""
        parts = self.parts
        at = parts.clock()
        incidents, silences = parts.incidents.shown()
        return parts.recorder.publish(
            at, parts.machines.snapshots(), parts.delivery.status, parts.outbox.depth(),
            discord_latency_seconds=parts.transport.latency_seconds,
            channels=parts.channels.activity(at) if parts.channels is not None else (),
            storage_problem=parts.selfcheck.storage_problem,
            pipeline_lag_seconds=parts.selfcheck.pipeline_lag(
                parts.machines.snapshot(HUB_COMPONENT).last_seen_at),
            incidents=incidents, silences=silences,
            notifications=parts.config.hub.notifications,
            fleet=self._fleet_status())

    def _fleet_status(self) -> FleetStatus:
        forwarder, alerts = self.parts.forwarder, self.parts.board.firing()
        if forwarder is None:
            return FleetStatus(alerts=alerts)
        return FleetStatus(forwarding=forwarder.status(), silences=forwarder.silences,
                           alerts=alerts)

    def received_alerts(self, received: tuple[Received, ...]) -> None:
        """Alertmanager's webhook: the board, then each `kind = "alertmanager"` monitor's
        outcome (onto the stream, like a ping), then the status at once."""
        parts = self.parts
        parts.board.take(received)
        now = parts.clock()
        for monitor in parts.config.fleet_monitors:
            outcome = monitor.judge(received, parts.board, now)
            if outcome is not None:
                parts.reports.on_next(outcome)
        self.publish_status()

    def _republish(self) -> None:
        self.publish_status()

    def accept(self, notice: Notice) -> None:
        """A notice, from the machines or the hub: the notification policy decides."""
        self.parts.incidents.runner.observe(notice)

    def _send(self, notice: Notice) -> None:
        """A notice to send: logged (one line, so the journal shows what was alerted even
        while Discord is unreachable), into the outbox (or memory, if the disk refuses),
        told, delivered."""
        if self.parts.transport.name != "console":  # the console line is that record
            log.info("notice: %s", notice_line(notice))
        self.parts.outbox.put([notice])
        if self.parts.forwarder is not None:
            self.parts.forwarder.record(notice)
        self.parts.recorder.notice(notice)
        self.parts.delivery.wake()
        self.publish_status()

    def _acked(self, incident: str, by: str, reason: str) -> None:
        """An incident was acked: its alert message is edited to name who (and why)."""
        if self.parts.outbox.put_ack(incident, by, reason):
            self.parts.delivery.wake()

    def _held(self, notice: Notice) -> None:
        """A notice the policy held (journaled by it): logged, shown in the status."""
        log.info("notice held (%s): %s", held_reason(notice), notice_line(notice))
        self.parts.recorder.held(notice)
        self.publish_status()

    async def stop(self, drain_seconds: float = DRAIN_SECONDS,
                   crash: BaseException | None = None) -> int:
        """Stop everything that runs, announce **stopped** (if started), save, drain and
        close; the exit code. `crash` is what ended the daemon, if something raised: the
        stopped notice names its type and message (secrets replaced by `***`)."""
        parts = self.parts
        for running in self._running:
            running.dispose()
        parts.world.close()
        parts.display_executor.shutdown(wait=False, cancel_futures=True)
        if parts.server is not None:
            await parts.server.stop()
        if self._has_started:  # a start that failed (the port was taken) announced nothing
            error = crash if crash is not None else self.failures[0] if self.failures else None
            reason = ("crash" if crash is not None else "pipeline error" if self.failures
                      else "stop requested")
            said = () if error is None else (
                ("error", redact(f"{type(error).__name__}: {error}", self._secrets)),)
            self.accept(Notice(kind=NoticeKind.STOPPED, component=parts.config.hub.name,
                               at=parts.clock(), details=(("reason", reason), *said)))
        parts.machines.save(parts.clock())  # every snapshot exact, and the stop marked clean
        parts.incidents.runner.dispose()
        parts.incident_store.flush(parts.clock())
        self._delivering.set()
        self._forwarding.set()  # what it has not posted waits in its table for the next start
        if self._forward_task is not None:
            # A post in flight may take `timeout_seconds`: cut it short after the drain.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._forward_task, drain_seconds)
        if self._delivery_task is not None:
            await self._delivery_task
        await parts.delivery.drain(drain_seconds)
        await parts.transport.close()
        parts.outbox.close()
        parts.journal.close()
        parts.incident_store.close()
        if parts.forwarder is not None:
            parts.forwarder.close()
        return EXIT_FAILURE if self.failures else EXIT_OK


async def run_daemon(config: Config, secrets: Secrets, write: Callable[[str], None],
                     stop: asyncio.Event, *, world: WorldFactory = real_world,
                     drain_seconds: float = DRAIN_SECONDS,
                     on_ready: Callable[[DaemonInfo], None] | None = None,
                     self_check_seconds: float = SELF_CHECK_SECONDS,
                     port_wait: PortWait = PORT_WAIT,
                     listen_setting: str = "[hub] http_listen") -> int:
    """Run until `stop` is set, then send **stopped**, drain and return the exit code.

    `world` builds the sources and the device (the demo passes a simulated world);
    `on_ready` is told where the status page and the frames are once everything runs;
    `self_check_seconds` is how often the hub checks itself (hub/selfcheck.py).
    A taken status address is tried again as `port_wait` says (a stop ends the wait:
    exit 0), then is exit 1; `listen_setting` is how errors name the address's setting.
    """
    daemon = Daemon(config, secrets, write, world=world,
                    self_check_seconds=self_check_seconds, listen_setting=listen_setting)
    try:
        info = await daemon.start(stop, port_wait)
        if info is None:
            return EXIT_OK  # stopped while waiting for the address: nothing started
        if on_ready is not None:
            on_ready(info)
        await stop.wait()
    except AddressUnavailable as err:
        log.error("%s. Exiting with 1: under systemd the hub is started again", err)
        await daemon.stop(drain_seconds)
        return EXIT_FAILURE
    except Exception as err:  # a crash: said in the stopped notice, then raised on
        log.error("the daemon crashed; it stops, announces it and exits with 1 so that "
                  "systemd starts it again", exc_info=err)
        await daemon.stop(drain_seconds, crash=err)
        raise
    except BaseException:  # cancelled or interrupted: a stop, not a crash
        await daemon.stop(drain_seconds)
        raise
    return await daemon.stop(drain_seconds)


async def _unless_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Run `work` to its end, unless `stop` is set first (then cancel it); whether it ended.
    Its exception, if it raised one, is raised here."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((task, stopping), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False
    task.result()
    return True
