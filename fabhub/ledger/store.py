"""The ledger in SQLite: appending entries, reading them, roots and proofs.

An append costs O(log n): the new leaf plus the perfect nodes it completes (two on
average) are inserted, and the tree's frontier is read back as at most log2(n)
nodes. A root or a proof is a fold of O(log n) perfect nodes fetched in one query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from fabhub.clock import utc_now
from fabhub.db import write_transaction
from fabhub.jobs.canonical import canonical_bytes, parse_canonical
from fabhub.jobs.receipts import utc_timestamp
from fabhub.ledger.entries import (
    Context,
    Correction,
    Event,
    WorkEvent,
    build_entry,
    facts_of,
)
from fabhub.ledger.merkle import (
    Node,
    TreeBuilder,
    consistency_ranges,
    fold,
    inclusion_ranges,
    leaf_hash,
    perfect_nodes,
)
from fabhub.ledger.proofs import ConsistencyProof, InclusionProof
from fabhub.ledger.pseudonyms import pseudonym_for

NODE_KEY_SHIFT = 48


class LedgerError(ValueError):
    """A ledger operation was refused; the message says why and what to do."""


@dataclass(frozen=True)
class LedgerEntry:
    """One stored entry: its position, decoded object, canonical bytes and leaf hash."""

    index: int
    data: dict[str, Any]
    raw: bytes
    leaf_hash: bytes

    @property
    def kind(self) -> str:
        """``use``, ``consume``, ``work`` or ``correction``."""
        return self.data["kind"]


def stored_bytes(value: object) -> bytes:
    """A stored BLOB as bytes; a tampered row may hold TEXT (or anything) instead."""
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def node_key(level: int, index: int) -> int:
    """The ``ledger_nodes`` key of perfect node ``(level, index)``."""
    return (level << NODE_KEY_SHIFT) | index


def tree_size(db: sqlite_utils.Database) -> int:
    """How many entries the ledger holds."""
    return db.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM ledger_entries").fetchone()[0]


def node_hashes(db: sqlite_utils.Database, nodes: Sequence[Node]) -> list[bytes]:
    """The stored hashes of ``nodes``, in order, in one query."""
    if not nodes:
        return []
    keys = [node_key(level, index) for level, index in nodes]
    unique = sorted(set(keys))
    found: dict[int, bytes] = {}
    for start in range(0, len(unique), 500):
        chunk = unique[start:start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(db.execute(f"SELECT id, hash FROM ledger_nodes WHERE id IN ({marks})",
                                chunk).fetchall())
    missing = [node for node, key in zip(nodes, keys, strict=True) if key not in found]
    if missing:
        raise LedgerError(f"the stored tree lacks node(s) {missing[:3]}: run "
                          "`fabhub ledger verify`")
    return [found[key] for key in keys]


def range_hashes(db: sqlite_utils.Database, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """The hash of each leaf range, from one fetch of all the perfect nodes they need."""
    parts = [perfect_nodes(start, end) for start, end in ranges]
    flat = node_hashes(db, [node for part in parts for node in part])
    out, at = [], 0
    for part in parts:
        out.append(fold(flat[at:at + len(part)]))
        at += len(part)
    return out


def _check_size(db: sqlite_utils.Database, size: int | None) -> int:
    current = tree_size(db)
    if size is None:
        return current
    if not 0 <= size <= current:
        raise LedgerError(f"the ledger has {current} entries; there is no tree of size {size}")
    return size


def root_hash(db: sqlite_utils.Database, size: int | None = None) -> bytes:
    """The root hash of the first ``size`` entries (default: all)."""
    size = _check_size(db, size)
    return range_hashes(db, [(0, size)])[0]


def _context(db: sqlite_utils.Database, event: Event, cache: dict) -> Context:
    key = (event.member_id, getattr(event, "machine_id", None))
    if key in cache:
        return cache[key]
    if db.execute("SELECT 1 FROM members WHERE id = ?", [event.member_id]).fetchone() is None:
        raise LedgerError(f"no member with id {event.member_id}; see `fabhub user list`")
    machine_class = None
    if key[1] is not None:
        row = db.execute("SELECT machine_class FROM machines WHERE id = ?", [key[1]]).fetchone()
        if row is None:
            raise LedgerError(f"no machine with id {key[1]}")
        machine_class = row[0]
    elif not isinstance(event, WorkEvent):
        raise LedgerError(f"a {event.action} event needs a machine")
    cache[key] = Context(pseudonym_for(db, event.member_id), machine_class)
    return cache[key]


def _check_correction(db: sqlite_utils.Database, item: Correction, size: int,
                      batch: list[dict]) -> None:
    target = item.corrects
    if not 0 <= target < size + len(batch):
        raise LedgerError(f"entry {target} does not exist; a correction must point to one")
    data = batch[target - size] if target >= size else get_entry(db, target).data
    if data["kind"] == "correction":
        raise LedgerError(f"entry {target} is itself a correction; correct the entry it "
                          "corrects instead")
    if data["action"] != item.replacement.action:
        raise LedgerError(f"entry {target} is a {data['action']} event; its correction must "
                          f"be one too, not {item.replacement.action}")


def append(db: sqlite_utils.Database, items: Sequence[Event | Correction],
           recorded_at: str | None = None) -> list[LedgerEntry]:
    """Append ``items`` in one transaction; all or nothing.

    Raises :class:`LedgerError` for an unknown member or machine or a bad correction,
    and :class:`fabhub.ledger.entries.EntryError` for a malformed event.
    """
    recorded_at = recorded_at or utc_timestamp(utc_now())
    with write_transaction(db):
        size = tree_size(db)
        builder = TreeBuilder.resume(size, node_hashes(db, perfect_nodes(0, size)))
        cache: dict = {}
        made: list[LedgerEntry] = []
        batch: list[dict] = []
        entry_rows, node_rows, fact_rows = [], [], []
        for offset, item in enumerate(items):
            index = size + offset
            event = item.replacement if isinstance(item, Correction) else item
            ctx = _context(db, event, cache)
            if isinstance(item, Correction):
                _check_correction(db, item, size, batch)
            data = build_entry(index, recorded_at, item, ctx)
            batch.append(data)
            raw = canonical_bytes(data)
            leaf = leaf_hash(raw)
            entry_rows.append((index, raw))
            node_rows.extend((node_key(*node), h) for node, h in builder.push(leaf))
            f = facts_of(data)
            fact_rows.append((index, f.kind, f.action, event.member_id, f.machine_id,
                              f.machine_class, f.seconds, f.milligrams, f.began_at, f.ended_at,
                              f.job_id, f.corrects, f.work_type))
            made.append(LedgerEntry(index, data, raw, leaf))
        db.conn.executemany("INSERT INTO ledger_entries (idx, entry) VALUES (?, ?)", entry_rows)
        db.conn.executemany("INSERT INTO ledger_nodes (id, hash) VALUES (?, ?)", node_rows)
        db.conn.executemany("INSERT INTO ledger_facts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                            fact_rows)
    return made


def append_one(db: sqlite_utils.Database, item: Event | Correction) -> LedgerEntry:
    """Append a single event or correction."""
    return append(db, [item])[0]


def get_entry(db: sqlite_utils.Database, index: int) -> LedgerEntry:
    """Entry ``index``, or :class:`LedgerError` naming the valid range."""
    row = db.execute("SELECT entry FROM ledger_entries WHERE idx = ?", [index]).fetchone()
    if row is None:
        size = tree_size(db)
        valid = f"0 to {size - 1}" if size else "none yet"
        raise LedgerError(f"there is no entry {index}; the ledger's entries are {valid}")
    raw = bytes(row[0])
    return LedgerEntry(index, parse_canonical(raw), raw, leaf_hash(raw))


def inclusion_proof(db: sqlite_utils.Database, index: int,
                    size: int | None = None) -> InclusionProof:
    """Proof that entry ``index`` is in the tree of ``size`` entries (default: all)."""
    size = _check_size(db, size)
    if not 0 <= index < size:
        raise LedgerError(f"there is no entry {index} in a tree of {size} entries")
    ranges = inclusion_ranges(index, size)
    hashes = range_hashes(db, [(index, index + 1), *ranges, (0, size)])
    return InclusionProof(index, size, hashes[0], tuple(hashes[1:-1]), hashes[-1])


def consistency_proof(db: sqlite_utils.Database, old_size: int,
                      new_size: int | None = None) -> ConsistencyProof:
    """Proof that the tree of ``old_size`` is a prefix of the tree of ``new_size``."""
    new_size = _check_size(db, new_size)
    if not 0 <= old_size <= new_size:
        raise LedgerError(f"size {old_size} is not between 0 and {new_size}")
    ranges = consistency_ranges(old_size, new_size)
    hashes = range_hashes(db, [*ranges, (0, old_size), (0, new_size)])
    return ConsistencyProof(old_size, new_size, tuple(hashes[:-2]), hashes[-2], hashes[-1])

