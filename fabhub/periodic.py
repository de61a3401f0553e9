"""The hub's periodic work: one APScheduler BackgroundScheduler per hub.

The web server may run several processes; a non-blocking exclusive lock on
``periodic.lock`` in the instance folder lets exactly one of them run the periodic
jobs. Jobs are registered by name with an interval; each opens its own database
connection. :func:`build` registers the standard jobs (ledger checkpoint, lease and
silent-node reapers) and the scheduler loop (:class:`fabhub.dispatcher.Dispatcher`), a
thread of its own that runs scheduling passes when changes ask for them and every
``SCHEDULER_INTERVAL_S``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from fabhub.config import ConfigError
from fabhub.db import opened
from fabhub.dispatcher import Dispatcher
from fabhub.ledger.checkpoints import make_checkpoint
from fabhub.ledger.keys import load_signer
from fabhub.nodes.runs import reap_expired
from fabhub.nodes.silence import reap_silent
from fabhub.scheduling import request_pass

LOCK_FILE = "periodic.lock"
LEASE_CHECK_S = 2.0
log = logging.getLogger("fabhub.periodic")


class Periodic:
    """The periodic jobs of one hub, run by at most one process at a time."""

    def __init__(self, instance: Path) -> None:
        self.instance = instance
        self._scheduler = BackgroundScheduler(timezone="UTC")
        self._lock_fd: int | None = None
        self._loops: dict[str, Dispatcher] = {}

    def register(self, name: str, func: Callable[[], None], interval_s: float) -> None:
        """Run ``func`` every ``interval_s`` seconds (never two runs of it at once)."""
        if interval_s <= 0:
            raise ValueError(f"job {name!r}: the interval must be positive, not {interval_s}")
        self._scheduler.add_job(_logged(name, func), "interval", seconds=interval_s, id=name,
                                max_instances=1, coalesce=True, replace_existing=True)

    def register_loop(self, name: str, loop: Dispatcher) -> None:
        """Run ``loop`` (its own thread) while this process runs the jobs."""
        self._loops[name] = loop

    def job_names(self) -> list[str]:
        """Names of the registered jobs and loops."""
        return sorted([job.id for job in self._scheduler.get_jobs()] + list(self._loops))

    @property
    def running(self) -> bool:
        """True while this process runs the jobs."""
        return self._scheduler.running

    def start(self) -> bool:
        """Take the instance's lock and start; False if another process already runs them."""
        if self.running:
            return True
        fd = os.open(self.instance / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        self._scheduler.start()
        for loop in self._loops.values():
            loop.start()
        return True

    def shutdown(self) -> None:
        """Stop the jobs and loops (waiting for a running one) and release the lock."""
        for loop in self._loops.values():
            loop.stop()
        if self.running:
            self._scheduler.shutdown(wait=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None


def _logged(name: str, func: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        """Run the job; log its failure instead of letting it stop the scheduler."""
        try:
            func()
        except Exception:
            log.exception("periodic job %s failed", name)
    return run


def checkpoint_job(instance: Path, settings: Mapping[str, Any]) -> Callable[[], None]:
    """The job that signs a ledger checkpoint when the ledger has grown."""
    def run() -> None:
        """Sign a checkpoint if the ledger grew since the last one."""
        signer = load_signer(instance)
        with opened(settings["DATABASE"], settings["SQLITE_BUSY_TIMEOUT_MS"]) as db:
            checkpoint, new = make_checkpoint(db, signer)
        if new:
            log.info("signed ledger checkpoint %d at size %d", checkpoint.id, checkpoint.size)
    return run


def lease_job(settings: Mapping[str, Any]) -> Callable[[], None]:
    """The job that interrupts jobs whose node went silent (time the hub was down excepted)."""
    not_before = time.time() + settings["NODE_LEASE_TTL_S"]

    def run() -> None:
        """Interrupt jobs whose lease expired, then let the scheduler use what freed up."""
        with opened(settings["DATABASE"], settings["SQLITE_BUSY_TIMEOUT_MS"]) as db:
            reaped = reap_expired(db, time.time(), not_before)
            if reaped:
                log.warning("interrupted jobs %s: their nodes stopped reporting", reaped)
                request_pass(db)
    return run


def silence_job(settings: Mapping[str, Any]) -> Callable[[], None]:
    """The job that takes machines offline whose nodes went silent, and frees their jobs."""
    not_before = time.time() + settings["NODE_SILENT_S"]

    def run() -> None:
        """Take silent nodes' machines offline, then let the scheduler reassign their jobs."""
        with opened(settings["DATABASE"], settings["SQLITE_BUSY_TIMEOUT_MS"]) as db:
            taken = reap_silent(db, time.time(), settings["NODE_SILENT_S"], not_before)
            if taken:
                log.warning("machines %s offline: their nodes went silent", taken)
                request_pass(db)
    return run


def build(instance: Path, settings: Mapping[str, Any],
          dispatcher: Dispatcher | None = None) -> Periodic:
    """A :class:`Periodic` with the hub's standard jobs registered (not yet started).

    ``dispatcher`` is the scheduler loop to run (the app's own; a new one if None).
    """
    interval = settings["LEDGER_CHECKPOINT_INTERVAL_S"]
    if interval <= 0:
        raise ConfigError(f"LEDGER_CHECKPOINT_INTERVAL_S must be a positive number of "
                          f"seconds, got {interval}")
    periodic = Periodic(instance)
    periodic.register("ledger-checkpoint", checkpoint_job(instance, settings), interval)
    if settings["SCHEDULER_INTERVAL_S"] <= 0:
        raise ConfigError("SCHEDULER_INTERVAL_S must be a positive number of seconds, got "
                          f"{settings['SCHEDULER_INTERVAL_S']}")
    periodic.register_loop("scheduling-pass", dispatcher or Dispatcher(settings))
    periodic.register("lease-reaper", lease_job(settings), LEASE_CHECK_S)
    periodic.register("silent-node-reaper", silence_job(settings), LEASE_CHECK_S)
    return periodic


def init_app(app: Any) -> Periodic | None:
    """Give the app its scheduler loop; start the periodic jobs when ``PERIODIC`` is on
    and not TESTING (a test runs the loop's steps itself: ``Dispatcher.run_pending``)."""
    dispatcher = Dispatcher(app.config)
    app.extensions["fabhub.dispatcher"] = dispatcher
    if not app.config["PERIODIC"] or app.config.get("TESTING"):
        return None
    periodic = build(Path(app.instance_path), app.config, dispatcher)
    if not periodic.start():
        app.logger.info("another process runs the periodic jobs")
        return None
    app.extensions["fabhub.periodic"] = periodic
    return periodic
