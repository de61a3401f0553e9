"""Bells: wake waiting threads in every hub process when something changed.

The web server runs several worker processes that share only the database. A bell
is a small file beside the database (its name ends in the bell's suffix): whoever
rings it rewrites the file and wakes this process's waiters at once; the other
processes learn of it from one watcher thread per bell and process, which reads the
file every ``watch_s`` (:data:`WATCH_S` by default) while someone listens, and wakes
their waiters when it changed. A lost ring only delays the waiter until its own timeout.

Two bells ring today: the command bell (:mod:`fabhub.nodes.doorbell`, for long polls)
and the schedule bell (:mod:`fabhub.scheduling`, for the scheduler loop).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import sqlite_utils

WATCH_S = 0.05
IDLE_EXIT_S = 30.0


def _read(bell: Path) -> bytes:
    try:
        return bell.read_bytes()
    except FileNotFoundError:
        return b""


class Bell:
    """One kind of ring, across the processes that share a database."""

    def __init__(self, suffix: str, watch_s: float = WATCH_S) -> None:
        self.suffix = suffix
        self.watch_s = watch_s
        self._rung = threading.Condition()
        self._generation = 0  # rings seen by this process; guarded by _rung
        self._lock = threading.Lock()
        self._files: dict[Path, bytes] = {}  # bell file -> what it held when last read
        self._last_watch = 0.0
        self._watcher: threading.Thread | None = None

    def path_of(self, db: sqlite_utils.Database) -> Path | None:
        """The bell file of ``db``'s database (None for an in-memory database)."""
        file = db.execute("PRAGMA database_list").fetchone()[2]
        return Path(file + self.suffix) if file else None

    def ring(self, db: sqlite_utils.Database) -> None:
        """Wake waiters here at once, and in the other processes through the bell file."""
        bell = self.path_of(db)
        if bell is not None:
            # Overwritten in place at a fixed width: truncating costs a journal write.
            fd = os.open(bell, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                os.pwrite(fd, f"{time.time_ns():020d}".encode(), 0)
            finally:
                os.close(fd)
        self.nudge()

    def nudge(self) -> None:
        """Wake this process's waiters only."""
        with self._rung:
            self._generation += 1
            self._rung.notify_all()

    def rings(self) -> int:
        """The rings this process has seen so far (a counter to compare, for :meth:`wait`)."""
        with self._rung:
            return self._generation

    def watch(self, bell: Path | None) -> int:
        """Listen to the file ``bell`` too (from now on); return :meth:`rings`.

        Call it before looking at what the bell announces, so a ring between the
        look and the wait is not lost; call it again at least every
        :data:`IDLE_EXIT_S`, or the watcher stops reading the file.
        """
        if bell is not None:
            with self._lock:
                self._last_watch = time.monotonic()
                if bell not in self._files:
                    self._files[bell] = _read(bell)
                if self._watcher is None:
                    self._watcher = threading.Thread(
                        target=self._watch, name=f"fabhub-bell{self.suffix}", daemon=True)
                    self._watcher.start()
        return self.rings()

    def wait(self, seen: int, timeout_s: float) -> None:
        """Sleep until a ring after ``seen`` (from :meth:`watch`), or ``timeout_s``."""
        with self._rung:
            self._rung.wait_for(lambda: self._generation != seen, timeout=timeout_s)

    def _watch(self) -> None:
        """Read the bell files while someone listens; wake the waiters when one changed."""
        while True:
            with self._lock:
                if time.monotonic() - self._last_watch > IDLE_EXIT_S:
                    self._files.clear()
                    self._watcher = None
                    return
                files = list(self._files.items())
            changed = False
            for bell, seen in files:
                now = _read(bell)
                if now != seen:
                    with self._lock:
                        self._files[bell] = now
                    changed = True
            if changed:
                self.nudge()
            time.sleep(self.watch_s)
