"""The stored tree: roots and proofs equal the reference, appends are all-or-nothing, and
the ledger's tables refuse every UPDATE and DELETE."""

from __future__ import annotations

import sqlite3

import pytest

from fabhub.ledger import merkle, store
from fabhub.ledger.checkpoints import make_checkpoint
from fabhub.ledger.entries import ConsumeEvent, Correction, EntryError, WorkEvent
from fabhub.ledger.intake import ReceiptConflict, record_receipt
from fabhub.ledger.keys import load_signer
from fabhub.ledger.schema import APPEND_ONLY_TABLES
from tests.ledger.conftest import expectation, node_key, receipt, table_counts, use

SIZE = 50


def _raw(db) -> list[bytes]:
    return [bytes(r[0]) for r in db.execute("SELECT entry FROM ledger_entries ORDER BY idx")]


def test_stored_roots_and_proofs_match_the_reference(db) -> None:
    for i in range(SIZE):
        # single appends and batches both build the same tree
        if i % 10 == 0:
            store.append(db, [use(member_id=1 + i % 3, seconds=60 + j) for j in range(5)])
        store.append_one(db, use(member_id=1 + i % 3, seconds=60 + i))
    raw = _raw(db)
    size = store.tree_size(db)
    assert size == len(raw) == SIZE + 5 * (SIZE // 10)
    for n in range(size + 1):
        assert store.root_hash(db, n) == merkle.root_of(raw[:n])
    for n in (1, 2, 7, 64, size):
        for index in range(n):
            proof = store.inclusion_proof(db, index, n)
            assert proof.leaf == merkle.leaf_hash(raw[index])
            assert proof.root == merkle.root_of(raw[:n])
            proof.verify()
        for old in range(n + 1):
            store.consistency_proof(db, old, n).verify()


def test_entries_carry_index_pseudonym_and_machine_class(db) -> None:
    first = store.append_one(db, use(member_id=2, machine_id=2, job_id=9))
    again = store.append_one(db, use(member_id=2, machine_id=3))
    assert first.index == 0 and again.index == 1
    assert first.data["resourceClassifiedAs"] == "laser"
    assert first.data["receiver"] == again.data["receiver"]
    assert first.data["receiver"].startswith("urn:fabhub:member:")
    assert "bob" not in first.raw.decode()
    assert store.get_entry(db, 0) == first


def test_unknown_member_or_machine_changes_nothing(db) -> None:
    store.append_one(db, use())
    before = table_counts(db)
    with pytest.raises(store.LedgerError, match="no member with id 99"):
        store.append(db, [use(), use(member_id=99)])
    with pytest.raises(store.LedgerError, match="no machine with id 42"):
        store.append_one(db, ConsumeEvent(1, 42, 1000, "2025-03-01T10:00:00Z"))
    with pytest.raises(EntryError, match="before the beginning"):
        store.append_one(db, use(began_at="2025-03-01T10:00:00Z", ended_at="2025-03-01T09:00:00Z"))
    with pytest.raises(EntryError, match="work type"):
        store.append_one(db, WorkEvent(1, 60, "juggling", "2025-03-01T10:00:00Z",
                                       "2025-03-01T10:01:00Z"))
    assert table_counts(db) == before


def test_proof_requests_for_what_does_not_exist_are_clear(db) -> None:
    store.append(db, [use() for _ in range(3)])
    with pytest.raises(store.LedgerError, match=r"there is no entry 3; .* 0 to 2"):
        store.get_entry(db, 3)
    with pytest.raises(store.LedgerError, match="no entry 5 in a tree of 3"):
        store.inclusion_proof(db, 5)
    with pytest.raises(store.LedgerError, match="no tree of size 4"):
        store.inclusion_proof(db, 0, 4)
    with pytest.raises(store.LedgerError, match="size 3 is not between 0 and 2"):
        store.consistency_proof(db, 3, 2)


def test_corrections_point_back_and_keep_the_action(db) -> None:
    store.append_one(db, use())
    fixed = store.append_one(db, Correction(0, "fix", use(seconds=1800), "meter was wrong"))
    assert fixed.data["corrects"] == "urn:fabhub:entry:0"
    assert fixed.data["kind"] == "correction" and fixed.data["action"] == "use"
    with pytest.raises(store.LedgerError, match="itself a correction"):
        store.append_one(db, Correction(1, "fix", use(seconds=60)))
    with pytest.raises(store.LedgerError, match="must be one too"):
        store.append_one(db, Correction(0, "fix", WorkEvent(
            1, 60, "repair", "2025-03-01T10:00:00Z", "2025-03-01T10:01:00Z")))
    with pytest.raises(store.LedgerError, match="entry 7 does not exist"):
        store.append_one(db, Correction(7, "waiver", use()))
    with pytest.raises(EntryError, match="reason"):
        store.append_one(db, Correction(0, "because", use()))


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_ledger_tables_refuse_update_and_delete(db, instance, table: str) -> None:
    record_receipt(db, receipt(), node_key()[1], expectation())
    with pytest.raises(ReceiptConflict):
        record_receipt(db, receipt(busy_s=10), node_key()[1], expectation())
    make_checkpoint(db, load_signer(instance))
    assert all(table_counts(db).values())
    for statement in (f"UPDATE {table} SET rowid = rowid", f"DELETE FROM {table}"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(statement)
