"""One claimed job on the machine: download, check the hash, stream, report, end with a receipt.

Events from the driver are gathered into numbered batches (one a second, progress
and telemetry coalesced in place), each journaled before the outbox sends it, so
streaming never waits for the hub. The node measures the streaming time and the
paused time itself; they become the receipt's ``busy_s`` and ``paused_s``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fabhub.drivers import Driver, DriverError
from fabhub.drivers import events as ev
from fabhub.node.client import HubClient, HubRefused, HubUnreachable
from fabhub.node.config import NodeConfig
from fabhub.node.journal import JobJournal, Journal
from fabhub.node.outbox import Outbox
from fabhub.node.receipt import Measured, end_report

log = logging.getLogger("fabhub.node.job")
BATCH_INTERVAL_S = 1.0
STOP_WAIT_S = 30.0
MAX_TEXT = 1000  # the hub refuses longer free text in events (docs/node-protocol.md)
DRIVER_OUTCOMES = {ev.COMPLETED: "completed", ev.CANCELLED: "cancelled", ev.FAILED: "failed",
                   ev.EMERGENCY_STOPPED: "cancelled"}


def now_iso() -> str:
    """The current UTC time as ISO 8601 with ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def material_mg(path: Path) -> int:
    """Filament the whole file extrudes, in milligrams (0 for lasers and mills)."""
    from fabhub.jobs.analysis import analyze_file

    try:
        return round(analyze_file(path).filament_mass_g * 1000)
    except (ValueError, OSError) as exc:
        log.warning("cannot estimate material", extra={"detail": str(exc)})
        return 0


def progress_event(progress: ev.Progress) -> dict[str, Any]:
    """A driver's Progress as a protocol ``progress`` event."""
    total = max(progress.bytes_total, 1)
    return {"type": "progress", "at": now_iso(), "lines_acked": progress.lines_acked,
            "lines_total": progress.lines_total, "bytes_acked": progress.bytes_acked,
            "bytes_total": progress.bytes_total, "current_line": progress.current_line,
            "percent": round(100.0 * progress.bytes_acked / total, 2)}


def telemetry_event(telemetry: ev.Telemetry) -> dict[str, Any]:
    """A driver's Telemetry as a protocol ``telemetry`` event."""
    return {"type": "telemetry", "at": now_iso(), "machine_state": telemetry.machine_state,
            "temperatures": {k: list(v) for k, v in telemetry.temperatures.items()},
            "position": telemetry.position}


class JobRun:
    """Run one claimed job to its end; ``state`` is what the heartbeat reports."""

    def __init__(self, config: NodeConfig, key: Ed25519PrivateKey, client: HubClient,
                 driver: Driver, events: queue.Queue, journal: Journal, outbox: Outbox,
                 stop: threading.Event) -> None:
        self.config, self.key, self.client, self.driver = config, key, client, driver
        self.events, self.journal, self.outbox, self.stop = events, journal, outbox, stop
        self.job: dict[str, Any] = {}
        self.state = "assigned"
        self.emergency = False
        self._view: JobJournal | None = None
        self._pending: list[dict[str, Any]] = []
        self._progress: ev.Progress | None = None
        self._paused_since: float | None = None
        self._paused_s = 0.0

    @property
    def job_id(self) -> int | None:
        """The job's id once claimed."""
        return int(self.job["id"]) if self.job else None

    def run(self, claimed: dict[str, Any]) -> None:
        """Carry the claimed job to its end report (or leave it unstarted if the node stops)."""
        self.job = claimed["job"]
        self._view = view = self.journal.open_job(self.job)
        if view.begin is not None or view.end is not None:
            log.info("job already handled; its report is on its way", extra={
                "job_id": self.job_id})
            return
        log.info("job claimed", extra={"job_id": self.job_id, "job_name": self.job.get("name")})
        path = Path(self.config.journal_dir) / f"job-{self.job_id}.gcode"
        if not self._download(path):
            return
        total_mg = material_mg(path)
        while not self.events.empty():  # stale events from before this job
            self.events.get_nowait()
        view.append({"t": "begin", "material_mg_total": total_mg})
        started_epoch, t0 = time.time(), time.monotonic()
        try:
            self.driver.start_job(path)
        except DriverError as exc:
            self._end("interrupted", f"the machine refused the job: {exc}",
                      Measured(started_epoch, 0.0, 0.0, 0, 0))
            return
        self.state = "running"
        self._add({"type": "started", "at": now_iso()})
        self._flush()
        finished = self._stream()
        elapsed = time.monotonic() - t0
        if self._paused_since is not None:
            self._paused_s += time.monotonic() - self._paused_since
        if self._progress is not None:
            self._add(progress_event(self._progress), coalesce=True)
        self._flush()
        fraction = 1.0 if finished.outcome == ev.COMPLETED else (
            self._progress.bytes_acked / max(self._progress.bytes_total, 1)
            if self._progress else 0.0)
        self.emergency = self.emergency or finished.outcome == ev.EMERGENCY_STOPPED
        reason = finished.reason or finished.outcome
        if finished.outcome == ev.EMERGENCY_STOPPED:
            reason = f"emergency stop: {reason}"
        self._end(DRIVER_OUTCOMES.get(finished.outcome, "failed"), reason,
                  Measured(started_epoch, elapsed, self._paused_s, finished.lines_acked,
                           round(total_mg * fraction)))
        path.unlink(missing_ok=True)

    def _download(self, path: Path) -> bool:
        """Fetch and check the file; False when the job cannot (or should not) start."""
        while not self.stop.is_set():
            try:
                digest = self.client.download(int(self.job["id"]), path)
            except HubUnreachable as exc:
                log.warning("download failed; retrying", extra={"detail": str(exc)})
                self.stop.wait(1.0)
                continue
            except HubRefused as exc:
                self._end("interrupted", f"the hub refused the file: {exc}",
                          Measured(time.time(), 0.0, 0.0, 0, 0))
                return False
            if digest != self.job["file_sha256"]:
                log.error("file hash mismatch; refusing to run it",
                          extra={"job_id": self.job_id, "got": digest})
                self._end("interrupted", f"the downloaded file's SHA-256 {digest} is not the "
                          "job's; the node refused to run it", Measured(time.time(), 0, 0, 0, 0))
                path.unlink(missing_ok=True)
                return False
            return True
        return False

    def _stream(self) -> ev.JobFinished:
        """Gather driver events into batches until the job finishes."""
        next_flush = time.monotonic() + BATCH_INTERVAL_S
        stopping = False
        while True:
            try:
                event = self.events.get(timeout=max(0.0, next_flush - time.monotonic()))
            except queue.Empty:
                event = None
            if isinstance(event, ev.JobFinished):
                return event
            if event is not None:
                self._handle(event)
            if time.monotonic() >= next_flush:
                if self._progress is not None:
                    self._add(progress_event(self._progress), coalesce=True)
                self._flush()
                next_flush = time.monotonic() + BATCH_INTERVAL_S
            if self.stop.is_set() and not stopping:
                stopping = True
                log.warning("the agent is stopping: cancelling the job", extra={
                    "job_id": self.job_id})
                self.cancel()

    def cancel(self) -> None:
        """Stop the job safely (the firmware profile's cancel sequence)."""
        try:
            self.driver.cancel()
        except DriverError as exc:
            log.warning("cancel refused", extra={"detail": str(exc)})

    def _handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.Progress):
            self._progress = event
        elif isinstance(event, ev.StateChanged):
            now = time.monotonic()
            if event.new in (ev.PAUSED, ev.HELD) and self._paused_since is None:
                self._paused_since, self.state = now, "paused"
                self._add({"type": "paused", "at": now_iso(),
                           "reason": event.reason[:MAX_TEXT]})
            elif event.new == ev.STREAMING and self._paused_since is not None:
                self._paused_s += now - self._paused_since
                self._paused_since, self.state = None, "running"
                self._add({"type": "resumed", "at": now_iso()})
        elif isinstance(event, ev.Telemetry):
            self._add(telemetry_event(event), coalesce=True)
        elif isinstance(event, ev.FirmwareError):
            self._add({"type": "firmware_error", "at": now_iso(),
                       "message": event.message[:MAX_TEXT],
                       "recoverable": not event.fatal, "line": event.line})
        elif isinstance(event, ev.DriverWarning):
            self._add({"type": "log", "at": now_iso(), "message": event.message[:300]},
                      coalesce=True)

    def _add(self, event: dict[str, Any], coalesce: bool = False) -> None:
        """Queue an event for the next batch; a coalescing one replaces its own kind at the end."""
        if coalesce and self._pending and self._pending[-1]["type"] == event["type"]:
            self._pending[-1] = event
        else:
            self._pending.append(event)

    def _flush(self) -> None:
        """Journal the pending events as the next batch and hand it to the outbox."""
        if not self._pending or self._view is None:
            return
        number = len(self._view.batches) + 1
        self._view.append({"t": "batch", "batch": number, "events": self._pending})
        self._pending = []
        self.outbox.add(self._view)

    def _end(self, outcome: str, reason: str, measured: Measured) -> None:
        assert self._view is not None
        body = end_report(self.job, self.config.node_id, self.config.machine_id, self.key,
                          outcome, reason, measured, self.emergency)
        self._view.append({"t": "end", "body": body})
        self.state = outcome
        log.info("job ended", extra={"job_id": self.job_id, "outcome": outcome,
                                     "reason": reason, "busy_s": body["receipt"]["receipt"][
                                         "busy_s"], "lines_acked": measured.lines_acked})
        self.outbox.add(self._view)


def recover(view: JobJournal, config: NodeConfig, key: Ed25519PrivateKey) -> bool:
    """A job this node did not finish before it stopped: report it interrupted, never resume.

    Returns False when nothing was streamed (the journal can go; the hub will hand
    the job out again), True when an end report was journaled for the outbox.
    """
    if view.end is not None:
        return True
    if view.begin is None:
        return False
    events = view.events()
    if not events:
        view.append({"t": "batch", "batch": 1, "events": [{"type": "started", "at": now_iso()}]})
    progress = [e for e in events if e["type"] == "progress"]
    last = progress[-1] if progress else {}
    paused_s, since = 0.0, None
    for event in events:
        at = datetime.fromisoformat(event["at"].replace("Z", "+00:00")).timestamp()
        if event["type"] == "paused" and since is None:
            since = at
        elif event["type"] == "resumed" and since is not None:
            paused_s, since = paused_s + at - since, None
    begin = float(view.begin["epoch"])
    if since is not None:
        paused_s += view.last_epoch - since
    fraction = float(last.get("bytes_acked") or 0) / max(float(last.get("bytes_total") or 1), 1)
    lines = int(last.get("lines_acked") or 0)
    body = end_report(view.claim, config.node_id, config.machine_id, key, "interrupted",
                      f"the node agent restarted mid-job after {lines} acknowledged lines; "
                      "it does not resume streaming",
                      Measured(begin, view.last_epoch - begin, paused_s, lines,
                               round(int(view.begin.get("material_mg_total", 0)) * fraction)))
    view.append({"t": "end", "body": body})
    log.warning("unfinished job reported interrupted", extra={"job_id": view.job_id,
                                                              "lines_acked": lines})
    return True
