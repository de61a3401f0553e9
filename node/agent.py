"""The node agent: keeps its driver connected, heartbeats, obeys commands, claims and runs jobs.

Threads: the main loop (claim and run one job at a time), the outbox (delivers the
journal), the heartbeat, and the command long poll. An emergency stop goes from the
long poll straight to the driver (thread-safe, ahead of every queue); it never waits
behind a report, a download or a job.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any

from fabhub.drivers import Driver, DriverError, open_driver
from fabhub.drivers import events as ev
from fabhub.node.client import HubClient, HubRefused, HubUnreachable
from fabhub.node.config import NodeConfig
from fabhub.node.job_run import JobRun, recover, telemetry_event
from fabhub.node.journal import Journal
from fabhub.node.keys import load_key
from fabhub.node.outbox import Outbox

log = logging.getLogger("fabhub.node.agent")
CLAIM_INTERVAL_S = 1.0
RECONNECT_INTERVAL_S = 3.0
DRAIN_S = 10.0  # on stop, how long the agent tries to deliver what is left
MACHINE_STATES = {ev.IDLE: "idle", ev.STREAMING: "busy", ev.STOPPING: "busy",
                  ev.PAUSED: "paused", ev.HELD: "paused", ev.FAULT: "error",
                  ev.DISCONNECTED: "offline", ev.CONNECTING: "offline"}


class Agent:
    """Everything a node does beside its machine."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.key = load_key(Path(config.key_path))
        self.stop = threading.Event()
        self.journal = Journal(Path(config.journal_dir))
        self.events: queue.Queue = queue.Queue()
        self.driver: Driver | None = None
        self.run_now: JobRun | None = None
        self.telemetry: dict[str, Any] = {}
        self._handled: set[int] = set()
        self._unacked: list[tuple[int, str, str]] = []
        self._lock = threading.Lock()
        self.outbox = Outbox(self._client(), self.journal, self.on_commands, self.stop)

    def _client(self) -> HubClient:
        return HubClient(self.config.hub_url, self.config.token)

    # -- life cycle -------------------------------------------------------------------
    def run(self) -> None:
        """Run until :attr:`stop` is set (SIGTERM): recover, start the threads, claim jobs."""
        for view in self.journal.unfinished():
            if recover(view, self.config, self.key):
                self.outbox.add(view)
            else:
                self.journal.close(view)
        threads = [threading.Thread(target=self.outbox.run, name="outbox", daemon=True),
                   threading.Thread(target=self._heartbeats, name="heartbeat", daemon=True),
                   threading.Thread(target=self._commands, name="commands", daemon=True)]
        for thread in threads:
            thread.start()
        log.info("node agent started", extra={"node_id": self.config.node_id,
                                              "machine_id": self.config.machine_id,
                                              "hub": self.config.hub_url})
        client = self._client()
        try:
            while not self.stop.is_set():
                if not self._driver_ready():
                    self.stop.wait(RECONNECT_INTERVAL_S)
                    continue
                if self.outbox.ending():  # the hub must know how the last job ended first
                    self.stop.wait(CLAIM_INTERVAL_S / 4)
                    continue
                try:
                    claimed = client.claim()
                except (HubUnreachable, HubRefused) as exc:
                    log.warning("claim failed", extra={"detail": str(exc)})
                    self.stop.wait(CLAIM_INTERVAL_S * 2)
                    continue
                if claimed is None:
                    self._drain_telemetry()
                    self.stop.wait(CLAIM_INTERVAL_S)
                    continue
                assert self.driver is not None
                self.run_now = JobRun(self.config, self.key, client, self.driver, self.events,
                                      self.journal, self.outbox, self.stop)
                self.run_now.run(claimed)
                self.run_now = None
        finally:
            self.outbox.drain(client, DRAIN_S)
            if self.driver is not None:
                self.driver.disconnect()
            log.info("node agent stopped")

    def _driver_ready(self) -> bool:
        """Connect (or reconnect after a fault or an unplugged cable) the machine's driver."""
        if self.driver is not None and self.driver.state == ev.IDLE:
            return True
        try:
            if self.driver is None:
                self.driver = open_driver(self.config.port, self.config.firmware,
                                          self.config.baud, events=self.events)
            else:
                self.driver.disconnect()
                self.driver.connect()
            log.info("machine connected", extra={"port": self.config.port,
                                                 "firmware": self.driver.firmware})
            return True
        except DriverError as exc:
            log.warning("machine not reachable", extra={"port": self.config.port,
                                                        "detail": str(exc)})
            return False

    def _drain_telemetry(self) -> None:
        while not self.events.empty():
            event = self.events.get_nowait()
            if isinstance(event, ev.Telemetry):
                self.telemetry = telemetry_event(event)

    # -- heartbeats ---------------------------------------------------------------------
    def machine_state(self) -> str:
        """What the heartbeat says about the machine."""
        if self.driver is None:
            return "offline"
        return MACHINE_STATES.get(self.driver.state, "error")

    def _heartbeats(self) -> None:
        client = self._client()
        while not self.stop.is_set():
            run = self.run_now
            job = {"id": run.job_id, "state": run.state} if run and run.job_id else None
            try:
                answer = client.heartbeat(self.machine_state(), self.telemetry, job)
                self.on_commands(answer.get("commands", []), client)
            except (HubUnreachable, HubRefused) as exc:
                log.warning("heartbeat failed", extra={"detail": str(exc)})
            self.stop.wait(self.config.heartbeat_interval_s)

    # -- commands -------------------------------------------------------------------------
    def _commands(self) -> None:
        client = self._client()
        while not self.stop.is_set():
            try:
                self._retry_acks(client)
                self.on_commands(client.commands(), client)
            except (HubUnreachable, HubRefused) as exc:
                log.warning("command poll failed", extra={"detail": str(exc)})
                self.stop.wait(1.0)

    def on_commands(self, commands: list[dict[str, Any]], client: HubClient) -> None:
        """Carry out commands (emergency stops first), each once, and acknowledge them."""
        ordered = sorted(commands, key=lambda c: c.get("type") != "emergency_stop")
        for command in ordered:
            with self._lock:
                if command["id"] in self._handled:
                    continue
                self._handled.add(command["id"])
            result, detail = self.execute(command)
            try:
                client.ack(command["id"], result, detail)
            except (HubUnreachable, HubRefused):
                with self._lock:
                    self._unacked.append((command["id"], result, detail))

    def execute(self, command: dict[str, Any]) -> tuple[str, str]:
        """Do what a command asks; return ``(result, detail)`` for the acknowledgement."""
        kind, driver, run = command.get("type"), self.driver, self.run_now
        if driver is None:
            return "failed", "the machine is not connected"
        try:
            if kind == "emergency_stop":
                driver.emergency_stop()
                if run is not None:
                    run.emergency = True
                log.warning("EMERGENCY STOP sent to the machine",
                            extra={"command_id": command["id"], "at_monotonic": time.monotonic()})
                return "done", "emergency stop sent"
            if run is None or run.job_id != command.get("job_id"):
                return "failed", f"job {command.get('job_id')} is not running on this node"
            {"pause": driver.pause, "resume": driver.resume, "cancel": run.cancel}[kind]()
        except (DriverError, KeyError) as exc:
            log.warning("command failed", extra={"command": kind, "detail": str(exc)})
            return "failed", str(exc)[:300]
        log.info("command carried out", extra={"command": kind, "job_id": command.get("job_id")})
        return "done", ""

    def _retry_acks(self, client: HubClient) -> None:
        with self._lock:
            waiting, self._unacked = self._unacked, []
        for index, (command_id, result, detail) in enumerate(waiting):
            try:
                client.ack(command_id, result, detail)
            except HubUnreachable:
                with self._lock:
                    self._unacked.extend(waiting[index:])
                raise
            except HubRefused:
                continue
