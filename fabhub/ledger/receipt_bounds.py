"""Receipts bounded by what the hub saw: a node's receipt must fit the run the hub observed.

A receipt is signed evidence from the node, but its times come from the node's clock.
The hub records machine time only as far as its own observations vouch for it:

- **claimed by this node**: the job has a run (``job_runs``) whose node is the node that
  sent the receipt. A job nobody claimed (say, cancelled while still assigned), or one that
  another node of the same machine claimed, gets no machine time from this node;
- **inside the observed interval** ``[claimed, observed end]``: the receipt's ``started_at``
  is not before the claim, its ``ended_at`` not after the observed end, and its
  ``busy_s + paused_s`` not more than the interval's length, each give or take
  :data:`CLOCK_SKEW_TOLERANCE_S`. (``busy_s + paused_s`` against the receipt's own
  ``ended_at - started_at`` is checked when the receipt is parsed, more strictly:
  :data:`fabhub.jobs.receipts.SPAN_TOLERANCE_S`.)

The observed end depends on whether the hub watched the run to its end:

- **watched** (the job was still assigned, running or paused when the end report arrived,
  so the node kept its lease alive): the observed end is the end report's arrival;
- **not watched** (the job had already ended on the hub without the node: typically the
  lease expired while the node was cut off, the reaper marked the job ``interrupted``,
  and the node reports later from its offline journal): only the node's journal vouches
  for the time after the hub lost sight of it. The event batches the hub received for
  the job (``job_reports``, each event with its node-side ``at``) must be coherent:
  every ``at`` a UTC timestamp within ``[claim - tolerance, arrival + tolerance]``, and
  none earlier than the one received before it by more than the tolerance (a node's
  clock does not run backwards); an incoherent journal vouches for nothing. The observed
  end is then the latest event time, never later than the end report's arrival (with no
  event at all, the claim itself). So a node that ran offline for two hours and
  journaled its batches gets its two hours; a node that claims more than its journal
  shows does not.

The tolerance (two minutes) absorbs what honest nodes really do: receipt timestamps are
cut to whole seconds, and a node's clock may be somewhat off the hub's (a Raspberry Pi
has no real-time clock and relies on NTP; the claim and arrival times are the hub's
clock's). It is small beside a print, at most two minutes more per job, while a receipt
dated years away, or hours beyond what the hub saw, is refused whatever the job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from fabhub.clock import parse_utc
from fabhub.jobs.receipts import ReceiptError, UsageReceipt, parse_timestamp, utc_timestamp
from fabhub.jobs.states import ACTIVE_STATES

# Clock skew between node and hub, whole-second rounding and claim-to-start time (seconds).
CLOCK_SKEW_TOLERANCE_S = 120
REFUSED = ("No machine time was recorded for it, and the receipt is kept as a flag for a "
           "gatekeeper (`fabhub ledger flags`, the ledger page).")
CLOCK_HINT = " If the node's clock is off, set it right (NTP)."


class ReceiptOutOfBounds(ReceiptError):
    """A receipt claims more than the hub saw; it was refused and flagged.

    ``reason`` is what was wrong (what the flag records); ``details`` names the figure,
    its value, the bound and what the hub observed; ``own_run`` says whether the job
    was this node's run, in which case the caller still records how the job ended (the
    machine's next state depends on it), only without a ledger entry.
    """

    def __init__(self, reason: str, details: dict[str, Any], own_run: bool) -> None:
        super().__init__(f"{reason}. {REFUSED}{CLOCK_HINT if own_run else ''}")
        self.reason = reason
        self.details = details
        self.own_run = own_run


@dataclass(frozen=True)
class Observation:
    """What the hub itself saw of one job's run, the frame that the receipt must fit."""

    arrived_at: datetime  # when the end report reached the hub (the hub's clock)
    claimed_by: int | None = None  # the node that claimed the job; None if nobody did
    claimed_at: datetime | None = None
    watched_to_end: bool = True  # the job was still active when the end report arrived
    event_times: tuple[str, ...] = ()  # node-side ``at`` of each event received, in order

    def as_json(self) -> dict[str, Any]:
        """The observation as the refusal's details show it (whole seconds, UTC)."""
        return {"claimed_by_node": self.claimed_by,
                "claimed_at": utc_timestamp(self.claimed_at) if self.claimed_at else None,
                "end_report_at": utc_timestamp(_ceil(self.arrived_at)),
                "watched_to_end": self.watched_to_end,
                "events_received": len(self.event_times)}


def _ceil(moment: datetime) -> datetime:
    """``moment`` rounded up to a whole second (receipts carry whole seconds)."""
    whole = moment.replace(microsecond=0)
    return whole + timedelta(seconds=1) if whole != moment else whole


def observe(db: sqlite_utils.Database, job_id: int, arrived_at: datetime) -> Observation:
    """Read what the hub saw of ``job_id``'s run; call it in the end report's transaction."""
    row = db.execute("SELECT r.node_id, r.claimed_at, j.state FROM jobs j "
                     "LEFT JOIN job_runs r ON r.job_id = j.id WHERE j.id = ?",
                     [job_id]).fetchone()
    if row is None or row[0] is None:
        return Observation(arrived_at)
    watched = row[2] in ACTIVE_STATES
    times: tuple[str, ...] = ()
    if not watched:
        times = tuple(r[0] for r in db.execute(
            "SELECT at FROM job_reports WHERE job_id = ? ORDER BY id", [job_id]))
    return Observation(arrived_at, row[0], parse_utc(row[1]), watched, times)


def _refuse(reason: str, seen: Observation, own_run: bool = True,
            **figures: Any) -> ReceiptOutOfBounds:
    details = {**figures, "tolerance_s": CLOCK_SKEW_TOLERANCE_S, "observed": seen.as_json()}
    return ReceiptOutOfBounds(reason, details, own_run)


def _journal_end(seen: Observation, claimed: datetime) -> datetime:
    """The latest time the received events prove the run lasted (checking they cohere)."""
    tolerance = timedelta(seconds=CLOCK_SKEW_TOLERANCE_S)
    arrived = seen.arrived_at
    latest = previous = claimed
    for number, text in enumerate(seen.event_times, start=1):
        try:
            moment = parse_utc(text)
        except ValueError:
            raise _refuse(f"the node's journal cannot vouch for the receipt: event {number} "
                          f"has the time {text!r}, which is not a UTC timestamp", seen,
                          figure="journal", value=text) from None
        if not claimed - tolerance <= moment <= arrived + tolerance:
            raise _refuse(f"the node's journal cannot vouch for the receipt: event {number} is "
                          f"dated {text}, outside the run the hub saw (claimed at "
                          f"{utc_timestamp(claimed)}, end reported at "
                          f"{utc_timestamp(_ceil(arrived))})", seen, figure="journal",
                          value=text)
        if number > 1 and moment < previous - tolerance:
            raise _refuse(f"the node's journal cannot vouch for the receipt: event {number} "
                          f"({text}) is dated before the event received before it "
                          f"({utc_timestamp(previous)})", seen, figure="journal", value=text)
        previous, latest = moment, max(latest, moment)
    return min(latest, arrived)


def _observed_end(seen: Observation, claimed: datetime) -> tuple[datetime, str]:
    """The end of the observed interval (exact, the hub's clock) and how the hub knows it."""
    arrived = f"{utc_timestamp(_ceil(seen.arrived_at))}"
    if seen.watched_to_end:
        return seen.arrived_at, f"the hub received the end report at {arrived}"
    end = _journal_end(seen, claimed)
    return end, (f"the hub stopped watching the run before the end report arrived at "
                 f"{arrived}, and the events it received from the node's journal reach "
                 f"{utc_timestamp(_ceil(end))}")


def check_receipt(receipt: UsageReceipt, seen: Observation) -> None:
    """Raise :class:`ReceiptOutOfBounds` unless ``receipt`` fits what the hub saw.

    Receipt times are whole seconds, so the earliest start and the latest end are the
    hub's times rounded outwards to whole seconds; ``busy_s + paused_s`` is held to
    the exact observed interval plus the tolerance, so a recorded job never carries
    more than that.
    """
    if seen.claimed_by is None or seen.claimed_at is None:
        raise _refuse(f"job {receipt.job_id} was never claimed by a node, so no machine time "
                      "can be recorded for it", seen, own_run=False,
                      figure="job_id", value=receipt.job_id, bound="a job this node claimed")
    if seen.claimed_by != receipt.node_id:
        raise _refuse(f"job {receipt.job_id} was claimed by node {seen.claimed_by}, not by "
                      f"node {receipt.node_id} that sent this receipt", seen,
                      own_run=False, figure="node_id", value=receipt.node_id,
                      bound=seen.claimed_by)
    tolerance = timedelta(seconds=CLOCK_SKEW_TOLERANCE_S)
    skew = f"(allowing {CLOCK_SKEW_TOLERANCE_S} s of clock skew)"
    claimed = seen.claimed_at
    end, end_known = _observed_end(seen, claimed)
    earliest = claimed.replace(microsecond=0) - tolerance
    if parse_timestamp(receipt.started_at, "started_at") < earliest:
        raise _refuse(f"the receipt's started_at {receipt.started_at} is before "
                      f"{utc_timestamp(earliest)}, the earliest it may be: the hub saw "
                      f"job {receipt.job_id} claimed at {utc_timestamp(claimed)} {skew}", seen,
                      figure="started_at", value=receipt.started_at,
                      bound=utc_timestamp(earliest))
    latest = _ceil(end) + tolerance
    if parse_timestamp(receipt.ended_at, "ended_at") > latest:
        raise _refuse(f"the receipt's ended_at {receipt.ended_at} is after "
                      f"{utc_timestamp(latest)}, the latest it may be: {end_known} {skew}",
                      seen, figure="ended_at", value=receipt.ended_at,
                      bound=utc_timestamp(latest))
    observed_s = max(0, math.floor((end - claimed).total_seconds()))
    claimed_s = receipt.busy_s + receipt.paused_s
    if claimed_s > observed_s + CLOCK_SKEW_TOLERANCE_S:
        raise _refuse(f"the receipt's busy_s + paused_s ({claimed_s} s) exceeds "
                      f"{observed_s + CLOCK_SKEW_TOLERANCE_S} s, the most it may be: the hub "
                      f"saw job {receipt.job_id} claimed at {utc_timestamp(claimed)} and "
                      f"{end_known}, {observed_s} s later {skew}", seen,
                      figure="busy_s + paused_s", value=claimed_s,
                      bound=observed_s + CLOCK_SKEW_TOLERANCE_S)
