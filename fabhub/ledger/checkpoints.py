"""Signing checkpoints: periodic or on demand, never one inconsistent with the last.

Before signing a new tree head the hub checks the previous checkpoint's signature,
recomputes its root from the stored tree, and verifies a consistency proof from it
to the new size; any failure refuses the checkpoint and says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from fabhub.clock import utc_now_iso
from fabhub.db import write_transaction
from fabhub.ledger import store
from fabhub.ledger.merkle import ProofError
from fabhub.ledger.note import (
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    open_checkpoint,
    sign_checkpoint,
)


class CheckpointError(ValueError):
    """A checkpoint was refused or cannot be read."""


@dataclass(frozen=True)
class StoredCheckpoint:
    """A signed checkpoint as kept by the hub."""

    id: int
    size: int
    root: bytes
    note: str
    created_at: str


def _row(row) -> StoredCheckpoint:
    return StoredCheckpoint(row[0], row[1], bytes(row[2]), row[3], row[4])


def latest(db: sqlite_utils.Database) -> StoredCheckpoint | None:
    """The most recent checkpoint, if any."""
    row = db.execute("SELECT id, size, root, note, created_at FROM ledger_checkpoints "
                     "ORDER BY id DESC LIMIT 1").fetchone()
    return _row(row) if row else None


def all_checkpoints(db: sqlite_utils.Database) -> list[StoredCheckpoint]:
    """Every checkpoint, oldest first."""
    rows = db.execute("SELECT id, size, root, note, created_at FROM ledger_checkpoints "
                      "ORDER BY id").fetchall()
    return [_row(r) for r in rows]


def _check_previous(db: sqlite_utils.Database, previous: StoredCheckpoint, size: int,
                    new_root: bytes, verifier: Verifier) -> None:
    try:
        signed = open_checkpoint(previous.note, verifier)
    except NoteError as exc:
        raise CheckpointError(f"the previous checkpoint ({previous.id}) does not verify: "
                              f"{exc}; run `fabhub ledger verify`") from exc
    if (signed.size, signed.root) != (previous.size, previous.root):
        raise CheckpointError(f"checkpoint {previous.id}'s note disagrees with its stored "
                              "size or root; run `fabhub ledger verify`")
    if size < previous.size:
        raise CheckpointError(f"the ledger has {size} entries, fewer than the {previous.size} "
                              f"that checkpoint {previous.id} covers: entries were removed")
    proof = store.consistency_proof(db, previous.size, size)
    try:
        if proof.old_root != previous.root or proof.new_root != new_root:
            raise ProofError("the stored tree no longer yields the signed root")
        proof.verify()
    except ProofError as exc:
        raise CheckpointError(f"refusing to sign: size {size} is not consistent with "
                              f"checkpoint {previous.id} (size {previous.size}): {exc}") from exc


def make_checkpoint(db: sqlite_utils.Database, signer: Signer,
                    force: bool = False) -> tuple[StoredCheckpoint, bool]:
    """Sign and store a checkpoint of the current tree; return it and whether it is new.

    Without ``force``, a ledger that has not grown since the last checkpoint keeps
    that one. Raises :class:`CheckpointError` if the new head would not be
    consistent with the previous checkpoint.
    """
    with write_transaction(db):
        size = store.tree_size(db)
        previous = latest(db)
        if previous is not None and previous.size == size and not force:
            return previous, False
        root = store.root_hash(db, size)
        if previous is not None:
            _check_previous(db, previous, size, root, signer.verifier)
        note = sign_checkpoint(Checkpoint(signer.name, size, root), signer)
        now = utc_now_iso()
        cursor = db.execute("INSERT INTO ledger_checkpoints (size, root, note, created_at) "
                            "VALUES (?, ?, ?, ?)", [size, root, note, now])
        created = StoredCheckpoint(cursor.lastrowid, size, root, note, now)
    return created, True
