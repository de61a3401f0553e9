"""The scheduler loop: the one place where scheduling passes run.

Changes ring the schedule bell (:func:`fabhub.scheduling.request_pass`). The
:class:`Dispatcher` of the process that holds the periodic lock runs two threads:

- the **assigner** waits for a ring or the ``SCHEDULER_INTERVAL_S`` tick, takes every
  ring that arrived as one request and makes the assignments
  (:func:`fabhub.scheduling.assign_now`: it reads only the classes that have an idle
  machine, so it stays short however long the queue). A ring during a pass brings the
  next pass at once.
- the **explainer** rewrites why every waiting job waits
  (:func:`fabhub.scheduling.explain_now`: the whole queue, read from a snapshot) once
  no change came for :data:`EXPLAIN_QUIET_S`, and at least every
  ``SCHEDULER_INTERVAL_S`` while changes keep coming. It runs beside the assigner,
  so a new assignment never waits for the long work of explaining the queue.

A failing pass is logged and retried after a growing delay; the rings it served stay
pending, so nothing is lost and no request ever sees the failure.

Every hub app holds a dispatcher in ``app.extensions["fabhub.dispatcher"]``; only the
periodic process starts its threads. :meth:`Dispatcher.run_pending` does what the rings
asked for at once (assignments, then reasons), for a caller without the threads, such
as a test driving the app.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from fabhub.db import Database, connect
from fabhub.scheduling import SCHEDULE, assign_now, explain_now, run_now

RETRY_FIRST_S = 0.25
RETRY_MAX_S = 30.0
EXPLAIN_QUIET_S = 0.3
WAIT_SLICE_S = 10.0  # wake at least this often, to keep the bell's watcher reading
log = logging.getLogger("fabhub.dispatcher")


def retry_delay(failures: int) -> float:
    """Seconds to wait after ``failures`` failed passes in a row (doubling, capped)."""
    return min(RETRY_FIRST_S * 2 ** max(failures - 1, 0), RETRY_MAX_S)


class Dispatcher:
    """Coalesces the schedule bell's rings into passes, one at a time."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self._settings = settings
        self._interval = settings["SCHEDULER_INTERVAL_S"]
        self._seen = SCHEDULE.rings()  # rings served by the last successful pass
        self._pass_lock = threading.Lock()
        self._local = threading.local()  # one connection per thread that runs passes
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._asked = threading.Condition()
        self._first_ask: float | None = None  # when reasons went stale; guarded by _asked
        self._last_ask = 0.0
        self.failures = 0

    def run_pending(self) -> bool:
        """Run one full pass if a ring arrived since the last successful pass.

        Returns False when the pass failed (logged; the rings stay pending).
        """
        rings = SCHEDULE.rings()
        if rings == self._seen:
            return True
        with self._pass_lock:
            try:
                run_now(self._db(), self._settings)
            except Exception:
                self._failed("scheduling pass")
                return False
            self._served(rings)
        return True

    def _db(self) -> Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self._settings["DATABASE"], self._settings["SQLITE_BUSY_TIMEOUT_MS"])
            self._local.db = db
        return db

    def _drop_db(self) -> None:
        db = getattr(self._local, "db", None)
        self._local.db = None
        if db is not None:
            db.conn.close()

    def _failed(self, what: str) -> None:
        """Log the failure that is being handled; the next try gets a fresh connection."""
        self.failures += 1
        self._drop_db()
        log.exception("%s failed (%d in a row); retrying in %.2f s", what, self.failures,
                      retry_delay(self.failures))

    def _served(self, rings: int) -> None:
        self.failures = 0
        self._seen = max(self._seen, rings)

    @property
    def running(self) -> bool:
        """True while the loop's threads run."""
        return any(thread.is_alive() for thread in self._threads)

    def start(self) -> None:
        """Start the assigner and the explainer (the periodic process does this)."""
        if self.running:
            return
        self._stop.clear()
        self._threads = [threading.Thread(target=target, name=name, daemon=True)
                         for target, name in ((self._assigner, "fabhub-scheduler"),
                                              (self._explainer, "fabhub-explainer"))]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop both threads, letting a running pass finish."""
        self._stop.set()
        SCHEDULE.nudge()
        with self._asked:
            self._asked.notify_all()
        for thread in self._threads:
            thread.join()
        self._threads = []

    def _ask_explain(self, at_once: bool) -> None:
        """Reasons are stale: explain once changes pause (``at_once``: now)."""
        now = time.monotonic()
        with self._asked:
            if self._first_ask is None or at_once:
                self._first_ask = now - self._interval if at_once else now
            self._last_ask = now
            self._asked.notify()

    def _assigner(self) -> None:
        """Assignments for every batch of rings, and at every tick."""
        bell = None
        tick_due = 0.0  # a first pass at start
        try:
            while not self._stop.is_set():
                try:
                    if bell is None:
                        bell = SCHEDULE.path_of(self._db())
                    rings = SCHEDULE.watch(bell)
                except Exception:
                    self._failed("reading the schedule bell")
                    self._stop.wait(retry_delay(self.failures))
                    continue
                now = time.monotonic()
                if rings == self._seen and now < tick_due:
                    SCHEDULE.wait(rings, min(tick_due - now, WAIT_SLICE_S))
                    continue
                with self._pass_lock:
                    try:
                        summary = assign_now(self._db(), self._settings)
                    except Exception:
                        self._failed("scheduling pass")
                        summary = None
                    else:
                        self._served(rings)
                if summary is None:
                    self._stop.wait(retry_delay(self.failures))
                    continue
                if summary.assigned:
                    log.info("scheduling pass assigned %s", summary.assigned)
                ticked = now >= tick_due
                if ticked:
                    tick_due = time.monotonic() + self._interval
                if not summary.explained:
                    self._ask_explain(at_once=ticked)
        finally:
            self._drop_db()

    def _explainer(self) -> None:
        """Why every job waits, rewritten once changes pause (or grow too old)."""
        failures = 0
        try:
            while not self._stop.is_set():
                with self._asked:
                    if self._first_ask is None:
                        self._asked.wait(WAIT_SLICE_S)
                        continue
                    due = min(self._last_ask + EXPLAIN_QUIET_S,
                              self._first_ask + self._interval)
                    if time.monotonic() < due:
                        self._asked.wait(due - time.monotonic())
                        continue
                    self._first_ask = None
                try:
                    explain_now(self._db(), self._settings)
                    failures = 0
                except Exception:
                    failures += 1
                    self._drop_db()
                    log.exception("explaining the queue failed (%d in a row); retrying",
                                  failures)
                    self._stop.wait(retry_delay(failures))
                    self._ask_explain(at_once=True)
        finally:
            self._drop_db()
