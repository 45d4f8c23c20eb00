"""The hub watches itself: a full `state_dir`, an exception in the pipeline or a stuck
pipeline never leaves it silently not doing its job (hub/selfcheck.py, hub/status/liveness.py)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiohttp
import pytest

from hub.app import DaemonInfo, run_daemon
from hub.config import load_config
from hub.notify.delivery import DeliveryStatus
from hub.notify.outbox import Outbox
from hub.secrets import Secrets
from hub.selfcheck import HUB_COMPONENT, SelfCheck
from hub.service import LoopWatchdog, Notifier
from hub.status.liveness import (
    DELIVERY_OVERDUE_MAX_SECONDS,
    PIPELINE_LAG_MAX_SECONDS,
    STALE_INTERVALS,
    STALE_SLACK_SECONDS,
    stalls,
)
from hub.status.model import HubStatus
from hub.storage.journal import Journal, JournaledMachines
from hub.web.server import DEGRADED, HEALTHY, UNHEALTHY, assess_health
from machines import HealthState, Outcome, Policy
from tests.daemon import Lines, write_hub_toml
from tests.fakes.target import Target
from tests.small_disk import small_disk

#: Generous for a loaded machine; a passing run takes a few seconds.
WAIT_SECONDS = 30.0


@pytest.mark.timeout(6 * WAIT_SECONDS)
def test_a_full_state_dir_is_the_hubs_own_incident_and_monitoring_goes_on(tmp_path):
    """The issue's case on a real small filesystem: it fills up while a site goes down."""

    async def scenario(target: Target, disk_root: Path, disk) -> tuple[list[str], list[str]]:
        config_path = write_hub_toml(
            tmp_path, target.url, timeout_seconds=0.5,
            policy={"failures_before_alert": 2, "remind_after_seconds": 0,
                    "settle_seconds": 0.5})
        text = config_path.read_text(encoding="utf-8").replace(
            'state_dir = "state"', f'state_dir = "{disk_root / "state"}"')
        config_path.write_text(text, encoding="utf-8")
        lines, stop = Lines(WAIT_SECONDS), asyncio.Event()
        ready: list[DaemonInfo] = []
        daemon = asyncio.create_task(run_daemon(load_config(config_path), Secrets(),
                                                lines.write, stop, on_ready=ready.append,
                                                self_check_seconds=0.2))
        await lines.wait_for("STARTED")
        disk.fill()
        target.status = 503
        await lines.wait_for("ALERT     web")
        hub_alert = await lines.wait_for("ALERT     hub")
        health: list[str] = []
        async with aiohttp.ClientSession() as session, \
                session.get(ready[0].status_url + "/health") as reply:
            body = await reply.json()
            health += [body["status"], *body["reasons"]]
        disk.free()
        await lines.wait_for("RECOVERY  hub")
        target.status = 200
        await lines.wait_for("RECOVERY  web")
        stop.set()
        assert await asyncio.wait_for(daemon, timeout=WAIT_SECONDS) == 0
        return [hub_alert, *lines.lines], health

    with small_disk(tmp_path) as disk, Target().running() as target:
        (hub_alert, *lines), health = asyncio.run(scenario(target, disk.root, disk))
        with Journal(disk.root / "state" / "outbox.sqlite") as journal:
            web = [(t.from_state, t.to_state) for t in journal.history(component="web")]

    assert "state_dir (state_dir is full: notices kept in memory" in hub_alert
    assert health[0] == DEGRADED and any("state_dir is full" in r for r in health[1:])
    kinds = [(line.split()[1], line.split()[2]) for line in lines]
    assert kinds[0][0] == "STARTED" and kinds[-1][0] == "STOPPED"
    assert [k for k in kinds if k[1] == "web"] == [("ALERT", "web"), ("RECOVERY", "web")]
    assert [k for k in kinds if k[1] == "hub"] == [("ALERT", "hub"), ("RECOVERY", "hub")]
    # What the full disk refused was written once it had room: the whole incident is there.
    assert (HealthState.SUSPECT, HealthState.ALERTING) in web
    assert (HealthState.ALERTING, HealthState.RECOVERED) in web


def test_faults_become_one_failed_hub_outcome_per_check_and_are_logged_once(tmp_path, caplog):
    path = tmp_path / "outbox.sqlite"
    with Outbox(path) as outbox, Journal(path) as journal:
        check = SelfCheck(outbox, JournaledMachines(journal))
        assert check.check(1.0) == Outcome.success(HUB_COMPONENT, 1.0)
        with caplog.at_level(logging.ERROR):
            for _ in range(3):
                check.fault("an outcome of web", OverflowError("date value out of range"))
        failed = check.check(2.0)
        assert (failed.ok, failed.error_type) == (False, "exception")
        assert failed.detail == ("error handling an outcome of web: OverflowError: date value "
                                 "out of range (and 2 more)")
        assert check.check(3.0).ok  # nothing new since: the hub recovers
    assert caplog.text.count("error handling an outcome of web") == 1


def test_the_pipeline_lag_grows_while_the_checks_do_not_reach_the_machines(tmp_path):
    monotonic = [0.0]
    path = tmp_path / "outbox.sqlite"
    with Outbox(path) as outbox, Journal(path) as journal:
        machines = JournaledMachines(journal)
        machines.add(HUB_COMPONENT, Policy(), 0.0)
        check = SelfCheck(outbox, machines, monotonic=lambda: monotonic[0])
        first = check.check(10.0)
        machines.observe(first, 10.0)  # it arrived
        assert check.pipeline_lag(machines.snapshot(HUB_COMPONENT).last_seen_at) == 0.0
        check.check(20.0)  # these never reach the machines: the pipeline is stuck
        monotonic[0] = 5.0
        check.check(30.0)
        monotonic[0] = 75.0
        assert check.pipeline_lag(machines.snapshot(HUB_COMPONENT).last_seen_at) == 75.0


def status(**changes) -> HubStatus:
    base = HubStatus("shelf-pi", at=100.0, started_at=0.0, machines=(),
                     delivery=DeliveryStatus("webhook", "idle", "", 3, 0), outbox_depth=0,
                     outcome_ages=(("bus", 10.0, 30.0), ("hub", 2.0, 10.0)))
    return HubStatus(**{**{f: getattr(base, f) for f in base.__dataclass_fields__},
                        **changes})


def test_a_hub_doing_its_job_has_no_stall():
    assert stalls(status()) == ()
    assert assess_health(status(), 100.0).status == HEALTHY


def test_each_way_of_silently_stopping_is_a_stall_and_makes_health_unhealthy():
    bus_limit = STALE_INTERVALS * 30.0 + STALE_SLACK_SECONDS
    cases = {
        "outcomes have not reached the machines for 61 s": status(
            pipeline_lag_seconds=PIPELINE_LAG_MAX_SECONDS + 1),
        f"no outcome from bus for {bus_limit + 1:.0f} s (it reports every 30 s": status(
            outcome_ages=(("bus", bus_limit + 1, 30.0),)),
        "delivery via webhook is 181 s behind (the outbox does not drain)": status(
            delivery=DeliveryStatus("webhook", "idle", "", 3, 0,
                                    DELIVERY_OVERDUE_MAX_SECONDS + 1)),
    }
    for reason, stalled in cases.items():
        (found,) = stalls(stalled)
        assert found.startswith(reason)
        health = assess_health(stalled, 100.0)
        assert health.status == UNHEALTHY and found in health.reasons


def test_a_full_disk_degrades_health_but_is_no_stall():
    full = status(storage_problem="state_dir is full: notices kept in memory, 3 waiting")
    assert stalls(full) == ()
    health = assess_health(full, 100.0)
    assert health.status == DEGRADED
    assert health.reasons == ("state_dir is full: notices kept in memory, 3 waiting",)


def test_the_watchdog_is_not_pinged_while_the_pipeline_is_stuck(tmp_path, caplog):
    from tests.hub.test_service import NotifySocket

    current = [status()]
    with NotifySocket.bound("path", tmp_path) as systemd, \
            Notifier.from_environ({"NOTIFY_SOCKET": systemd.env_value}) as notifier:
        watchdog = LoopWatchdog(notifier, lambda: current[0], lambda: 100.5)
        assert watchdog.beat()
        assert systemd.pending()[0]["WATCHDOG"] == "1"
        current[0] = status(pipeline_lag_seconds=90.0)  # published on time, yet stuck
        with caplog.at_level(logging.ERROR):
            assert not watchdog.beat()
        (message,) = systemd.pending()
        assert "WATCHDOG" not in message
        assert message["STATUS"].startswith("stalled: outcomes have not reached the machines")
        assert "systemd will restart the hub" in caplog.text
        current[0] = status()
        assert watchdog.beat()


def test_a_delivery_step_that_raises_is_handed_on_and_delivery_goes_on(tmp_path):
    """A delivery loop that died would leave the outbox filling up in silence."""
    from hub.notify.delivery import FAULT_RETRY_SECONDS, Delivery
    from hub.notify.transport import ConsoleTransport
    from tests.fakes.virtual_time import virtual_time_runner

    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.close()  # every read now raises sqlite3.ProgrammingError: a broken part
    faults: list[tuple[str, str, float]] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        delivery = Delivery(outbox, ConsoleTransport(lambda _: None), "shelf-pi", loop.time,
                            on_fault=lambda where, err: faults.append(
                                (where, type(err).__name__, loop.time())),
                            monotonic=loop.time)
        stop = asyncio.Event()
        task = asyncio.create_task(delivery.run(stop))
        await asyncio.sleep(2.5 * FAULT_RETRY_SECONDS)
        assert delivery.status.overdue_seconds == 0.0  # it keeps to its own plan
        stop.set()
        await task

    with virtual_time_runner() as runner:
        runner.run(scenario())
    assert [(w, t) for w, t, _ in faults] == [("delivering notices", "ProgrammingError")] * 3
    assert [at for _, _, at in faults] == [0.0, FAULT_RETRY_SECONDS, 2 * FAULT_RETRY_SECONDS]


def test_a_polled_source_is_expected_to_report_within_its_interval_and_timeout(tmp_path):
    """A slow target must not look like a stuck poller: the timeout counts."""
    from reactivex.testing import TestScheduler

    from hub.world import real_world

    path = write_hub_toml(tmp_path, "http://127.0.0.1:9/", every_seconds=10.0,
                          timeout_seconds=30.0)
    world = real_world(load_config(path), TestScheduler())
    try:
        assert [(w.name, w.every_seconds) for w in world.watched] == [("web", 40.0)]
    finally:
        world.close()
