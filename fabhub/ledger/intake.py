"""Accepting usage receipts from nodes into the ledger.

The hub appends a ``use`` entry (and a ``consume`` entry when material was used)
only for a receipt whose signature verifies with the node's registered key, whose
node, machine, job and file agree with what the hub expects, and which fits what the
hub saw of the run (:mod:`fabhub.ledger.receipt_bounds`: claimed by this node, within
the observed interval). The same receipt twice is accepted once; a different receipt
for a job already recorded, or one beyond what the hub saw, is refused and kept as a
flag for the gatekeepers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlite_utils

from fabhub.clock import utc_now_iso
from fabhub.db import write_transaction
from fabhub.jobs.receipts import ReceiptError, SignedReceipt, verify_receipt
from fabhub.ledger import store
from fabhub.ledger.entries import ConsumeEvent, UseEvent
from fabhub.ledger.receipt_bounds import Observation, ReceiptOutOfBounds, check_receipt


class ReceiptConflict(ReceiptError):
    """A different receipt was already recorded for this job; the new one was flagged."""


@dataclass(frozen=True)
class ReceiptExpectation:
    """What the hub knows about the job that a receipt must agree with."""

    job_id: int
    member_id: int
    machine_id: int
    node_id: int
    file_sha256: str
    observed: Observation  # what the hub saw of the run (receipt_bounds.observe)


def _check_agrees(signed: SignedReceipt, expected: ReceiptExpectation) -> None:
    receipt = signed.receipt
    for name in ("job_id", "node_id", "machine_id", "file_sha256"):
        got, want = getattr(receipt, name), getattr(expected, name)
        if got != want:
            raise ReceiptError(f"the receipt's {name} is {got!r} but the hub expects {want!r} "
                               f"for job {expected.job_id}")


def _flag(db: sqlite_utils.Database, signed: SignedReceipt, reason: str) -> None:
    db.execute("INSERT INTO ledger_flags (job_id, node_id, reason, receipt, created_at) "
               "VALUES (?, ?, ?, ?, ?)",
               [signed.receipt.job_id, signed.receipt.node_id, reason,
                json.dumps(signed.to_dict(), sort_keys=True), utc_now_iso()])


def _append(db: sqlite_utils.Database, signed: SignedReceipt, expected: ReceiptExpectation
            ) -> store.LedgerEntry:
    """Append the receipt's ``use`` entry (and ``consume`` entry) and remember the receipt."""
    receipt = signed.receipt
    items: list[UseEvent | ConsumeEvent] = [UseEvent(
        member_id=expected.member_id, machine_id=receipt.machine_id,
        seconds=receipt.busy_s, began_at=receipt.started_at,
        ended_at=receipt.ended_at, job_id=receipt.job_id,
        file_sha256=receipt.file_sha256, outcome=receipt.outcome,
        paused_s=receipt.paused_s, receipt=receipt.to_dict(),
        receipt_signature=signed.to_dict()["signature"])]
    if receipt.material_mg:
        items.append(ConsumeEvent(
            member_id=expected.member_id, machine_id=receipt.machine_id,
            milligrams=receipt.material_mg, at=receipt.ended_at,
            job_id=receipt.job_id))
    use = store.append(db, items)[0]
    db.execute("INSERT INTO ledger_receipts (job_id, receipt_sha256, entry_idx, node_id) "
               "VALUES (?, ?, ?, ?)", [receipt.job_id, receipt.digest(), use.index,
                                       receipt.node_id])
    return use


def record_receipt(db: sqlite_utils.Database, signed: SignedReceipt, node_public_key: bytes,
                   expected: ReceiptExpectation) -> store.LedgerEntry:
    """Verify ``signed`` and append its ``use`` entry; return that entry.

    Raises :class:`ReceiptError` for a bad signature or a receipt that disagrees with
    ``expected`` (nothing changes); :class:`ReceiptConflict` for a second, different
    receipt for the same job, and :class:`ReceiptOutOfBounds` for a first receipt that
    does not fit what the hub saw (``expected.observed``): either way no entry, and a
    flag is recorded; :class:`store.LedgerError` for an unknown member or machine.
    Called inside the caller's transaction (to record the job's final state with the
    entry), it uses a savepoint, and the caller's commit or rollback decides whether
    the entry or the flag is kept.
    """
    verify_receipt(signed, node_public_key)
    _check_agrees(signed, expected)
    receipt = signed.receipt
    refusal: ReceiptError
    with write_transaction(db):
        row = db.execute("SELECT receipt_sha256, entry_idx FROM ledger_receipts "
                         "WHERE job_id = ?", [receipt.job_id]).fetchone()
        if row is not None and row[0] == receipt.digest():
            return store.get_entry(db, row[1])
        if row is not None:
            reason = f"conflicts with the receipt recorded as entry {row[1]}"
            refusal = ReceiptConflict(f"job {receipt.job_id} already has a different receipt "
                                      f"(entry {row[1]}); this one was refused and flagged "
                                      "for a gatekeeper")
        else:
            try:
                check_receipt(receipt, expected.observed)
            except ReceiptOutOfBounds as exc:
                reason, refusal = exc.reason, exc
            else:
                return _append(db, signed, expected)
        _flag(db, signed, reason)
    raise refusal


def flags(db: sqlite_utils.Database) -> list[dict]:
    """Every flagged receipt (conflicting or beyond what the hub saw), oldest first."""
    rows = db.execute("SELECT id, job_id, node_id, reason, receipt, created_at "
                      "FROM ledger_flags ORDER BY id").fetchall()
    return [dict(r) for r in rows]


def recent_flags(db: sqlite_utils.Database, limit: int) -> list[dict]:
    """The ``limit`` most recent flagged receipts, newest first."""
    rows = db.execute("SELECT id, job_id, node_id, reason, receipt, created_at "
                      "FROM ledger_flags ORDER BY id DESC LIMIT ?", [limit]).fetchall()
    return [dict(r) for r in rows]
