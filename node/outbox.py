"""Deliver journaled batches and end reports to the hub, in order, whatever the network does.

One thread works through the unfinished journals, oldest job first, and within a
job batch by batch, then the end report. A hub that cannot be reached is retried
with a short back-off (streaming never waits for this); a batch the hub already
has (409 ``replayed_batch``) counts as delivered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from fabhub.node.client import HubClient, HubRefused, HubUnreachable
from fabhub.node.journal import END, JobJournal, Journal

log = logging.getLogger("fabhub.node.outbox")
BACKOFF_MIN_S = 0.2
BACKOFF_MAX_S = 2.0
CommandSink = Callable[[list[dict[str, Any]], HubClient], None]


class Outbox:
    """The sender thread and the journals it still has to deliver."""

    def __init__(self, client: HubClient, journal: Journal, on_commands: CommandSink,
                 stop: threading.Event) -> None:
        self.client = client
        self.journal = journal
        self.on_commands = on_commands
        self.stop = stop
        self._views: list[JobJournal] = []
        self._wake = threading.Condition()

    def add(self, view: JobJournal) -> None:
        """Deliver this job's journal (call again after appending to it)."""
        with self._wake:
            if view not in self._views:
                self._views.append(view)
            self._wake.notify_all()

    def run(self) -> None:
        """The sender loop, until ``stop`` is set (then :meth:`drain` delivers what is left)."""
        backoff = BACKOFF_MIN_S
        while not self.stop.is_set():
            with self._wake:  # re-entrant: _next takes it too, so no add() slips between
                item = self._next()
                if item is None:
                    self._wake.wait(timeout=0.5)
                    continue
            view, what, body = item
            try:
                self._send(view, what, body, self.client)
                backoff = BACKOFF_MIN_S
            except HubUnreachable as exc:
                log.warning("hub unreachable; will retry", extra={"job_id": view.job_id,
                                                                  "detail": str(exc)})
                self.stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)

    def ending(self) -> bool:
        """An end report is waiting for the hub (the main loop claims nothing meanwhile)."""
        with self._wake:
            return any(v.end is not None and not v.finished for v in self._views)

    def drain(self, client: HubClient, timeout_s: float) -> None:
        """On the way out: send what is left until done, the hub fails, or time is up."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            item = self._next()
            if item is None:
                return
            try:
                self._send(item[0], item[1], item[2], client)
            except HubUnreachable:
                return

    def _next(self) -> tuple[JobJournal, Any, dict[str, Any]] | None:
        with self._wake:
            for view in list(self._views):
                unsent = view.unsent()
                if unsent:
                    return view, *unsent[0]
                if view.finished:
                    self._views.remove(view)
                    self.journal.close(view)
        return None

    def _send(self, view: JobJournal, what: Any, body: dict[str, Any],
              client: HubClient) -> None:
        try:
            if what == END:
                answer = client.end(view.job_id, body)
                log.info("job end delivered", extra={"job_id": view.job_id,
                                                     "outcome": body["outcome"],
                                                     "ledger_entry": answer.get("ledger_entry")})
            else:
                answer = client.events(view.job_id, what, body["events"])
                self.on_commands(answer.get("commands", []), client)
        except HubRefused as exc:
            if exc.status == 401:
                raise HubUnreachable(f"the hub refused this node's token: {exc}") from None
            if exc.code == "out_of_order" and isinstance(exc.details.get("expected"), int) \
                    and exc.details["expected"] < what:
                self._resend(view, exc.details["expected"], what, client)
                return
            if exc.code != "replayed_batch":
                log.error("the hub refused a report; it is kept in the journal only",
                          extra={"job_id": view.job_id, "what": what, "detail": str(exc)})
        view.append({"t": "sent", "what": what})

    def _resend(self, view: JobJournal, first: int, upto: int, client: HubClient) -> None:
        """The hub lacks batches before ``upto``: send them again from ``first``."""
        for batch in view.batches:
            if first <= batch["batch"] < upto:
                try:
                    client.events(view.job_id, batch["batch"], batch["events"])
                except HubRefused as exc:
                    if exc.code != "replayed_batch":
                        raise HubUnreachable(f"resending batch {batch['batch']}: {exc}") from None
