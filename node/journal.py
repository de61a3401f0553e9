"""The offline journal: one append-only, fsync'd JSON-lines file per job on local disk.

Records, in the order they happen:

- ``claim``: the job as the hub described it (before anything else);
- ``begin``: the first line is about to go to the machine (wall-clock epoch);
- ``batch``: a numbered batch of events, written before it is sent;
- ``end``: the end report with its signed receipt, written before it is sent;
- ``sent``: the hub has the batch (or the end) with that number.

A job whose file holds an ``end`` that was sent is finished and its file moves to
``done/``. Anything else found at start-up is a job this node did not finish.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

END = "end"  # the key of the end report in ``sent`` records


@dataclass
class JobJournal:
    """What the journal of one job says (read back at start-up, or kept while running)."""

    job_id: int
    path: Path
    claim: dict[str, Any] = field(default_factory=dict)
    begin: dict[str, Any] | None = None
    batches: list[dict[str, Any]] = field(default_factory=list)
    end: dict[str, Any] | None = None
    sent: set[Any] = field(default_factory=set)
    last_epoch: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def append(self, record: dict[str, Any]) -> None:
        """Write one record durably (fsync) and apply it to this view."""
        record = {**record, "epoch": time.time()}
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._apply(record)

    def _apply(self, record: dict[str, Any]) -> None:
        kind = record.get("t")
        self.last_epoch = max(self.last_epoch, float(record.get("epoch", 0.0)))
        if kind == "claim":
            self.claim = record["job"]
        elif kind == "begin":
            self.begin = record
        elif kind == "batch":
            self.batches.append({"batch": record["batch"], "events": record["events"]})
        elif kind == "end":
            self.end = record["body"]
        elif kind == "sent":
            self.sent.add(record["what"])

    def unsent(self) -> list[tuple[Any, dict[str, Any]]]:
        """What the hub has not confirmed yet, in order: ``(batch number | END, body)``."""
        with self._lock:
            items: list[tuple[Any, dict[str, Any]]] = [
                (b["batch"], b) for b in self.batches if b["batch"] not in self.sent]
            if self.end is not None and END not in self.sent:
                items.append((END, self.end))
        return items

    @property
    def finished(self) -> bool:
        """The end report was delivered."""
        return END in self.sent

    def events(self) -> list[dict[str, Any]]:
        """Every journaled event, in order."""
        return [e for b in self.batches for e in b["events"]]


class Journal:
    """The journal folder: one file per job, finished ones in ``done/``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.done = folder / "done"
        self.done.mkdir(parents=True, exist_ok=True)
        self._views: dict[int, JobJournal] = {}
        self._lock = threading.Lock()

    def open_job(self, job: dict[str, Any]) -> JobJournal:
        """Start (or continue) the journal of a claimed job; one view per job at a time."""
        view = self.view(self.folder / f"job-{int(job['id'])}.jsonl")
        if not view.claim:
            view.append({"t": "claim", "job": job})
        return view

    def view(self, path: Path) -> JobJournal:
        """The live view of one job's journal (read from disk the first time)."""
        job_id = int(path.stem.split("-", 1)[1])
        with self._lock:
            if job_id not in self._views:
                self._views[job_id] = self.read(path)
            return self._views[job_id]

    def read(self, path: Path) -> JobJournal:
        """Read one job's journal; a torn last line (power cut mid-write) is ignored."""
        job_id = int(path.stem.split("-", 1)[1])
        view = JobJournal(job_id, path)
        if path.exists():
            for line in path.read_bytes().splitlines():
                try:
                    view._apply(json.loads(line))
                except (ValueError, KeyError):
                    continue
        return view

    def unfinished(self) -> list[JobJournal]:
        """Journals of jobs whose end the hub has not confirmed, oldest job first."""
        paths = sorted(self.folder.glob("job-*.jsonl"), key=lambda p: int(p.stem[4:]))
        return [view for view in map(self.view, paths) if not view.finished]

    def close(self, view: JobJournal) -> None:
        """Move a delivered job's journal to ``done/``."""
        with self._lock:
            self._views.pop(view.job_id, None)
            if view.path.exists():
                os.replace(view.path, self.done / view.path.name)
