"""Corrections and contributions: the gatekeepers' ways of adding to the ledger.

A correction never edits an entry: it appends a replacement event that points to
it. A waiver replaces the quantity by zero, a reassignment gives the event to
another member, a fix changes the quantity.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import sqlite_utils

from fabhub.jobs.receipts import utc_timestamp
from fabhub.ledger import store
from fabhub.ledger.entries import (
    ConsumeEvent,
    Correction,
    Event,
    UseEvent,
    WorkEvent,
    facts_of,
)
from fabhub.ledger.pseudonyms import members_by_pseudonym


def event_of(entry: store.LedgerEntry, member_id: int) -> Event:
    """The event an entry records, attributed to ``member_id`` (receipt details dropped)."""
    data, facts = entry.data, facts_of(entry.data)
    if facts.action == "use":
        return UseEvent(member_id, facts.machine_id, facts.seconds, facts.began_at,
                        facts.ended_at, job_id=facts.job_id, file_sha256=data.get("fileSha256"),
                        outcome=data.get("outcome"), paused_s=data.get("pausedSeconds", 0),
                        note=data.get("note"))
    if facts.action == "consume":
        return ConsumeEvent(member_id, facts.machine_id, facts.milligrams, facts.ended_at,
                            job_id=facts.job_id, material=data["resourceClassifiedAs"],
                            note=data.get("note"))
    return WorkEvent(member_id, facts.seconds, facts.work_type, facts.began_at, facts.ended_at,
                     machine_id=facts.machine_id, note=data.get("note"))


def correct(db: sqlite_utils.Database, index: int, reason: str, member_id: int | None = None,
            quantity: int | None = None, note: str | None = None) -> store.LedgerEntry:
    """Append a correction of entry ``index``.

    ``waiver``: the quantity becomes 0. ``reassignment``: the event goes to
    ``member_id``. ``fix``: the quantity (seconds, or milligrams for material)
    becomes ``quantity``. Raises :class:`store.LedgerError` for a bad request.
    """
    entry = store.get_entry(db, index)
    owner = members_by_pseudonym(db).get(facts_of(entry.data).member)
    if owner is None:
        raise store.LedgerError(f"entry {index}'s member is unknown to this hub")
    event = event_of(entry, owner)
    amount = "milligrams" if isinstance(event, ConsumeEvent) else "seconds"
    if reason == "waiver":
        event = replace(event, **{amount: 0})
    elif reason == "reassignment":
        if member_id is None or member_id == owner:
            raise store.LedgerError("a reassignment needs another member")
        event = replace(event, member_id=member_id)
    elif reason == "fix":
        if quantity is None:
            raise store.LedgerError(f"a fix needs the corrected quantity ({amount})")
        event = replace(event, **{amount: quantity})
    return store.append_one(db, Correction(index, reason, event, note))


def record_work(db: sqlite_utils.Database, member_id: int, seconds: int, work_type: str,
                began_at: datetime, ended_at: datetime, machine_id: int | None = None,
                note: str | None = None) -> store.LedgerEntry:
    """Record a member's contribution (maintenance, training, repair, other)."""
    return store.append_one(db, WorkEvent(member_id, seconds, work_type,
                                          utc_timestamp(began_at), utc_timestamp(ended_at),
                                          machine_id=machine_id, note=note))
