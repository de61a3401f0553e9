"""Usage receipts: signed by nodes, checked by the hub, recorded once, conflicts flagged."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fabhub.jobs.receipts import ReceiptError, SignedReceipt, UsageReceipt, verify_receipt
from fabhub.ledger import store
from fabhub.ledger.intake import ReceiptConflict, flags, record_receipt
from tests.ledger.conftest import expectation, node_key, receipt, table_counts


def test_signature_covers_every_field() -> None:
    signed = receipt()
    verify_receipt(signed, node_key()[1])
    for name, value in (("busy_s", 2999), ("job_id", 8), ("outcome", "failed"),
                        ("ended_at", "2025-03-01T11:00:01Z"), ("material_mg", 0)):
        forged = SignedReceipt(UsageReceipt(**{**signed.receipt.to_dict(), name: value}),
                               signed.signature)
        with pytest.raises(ReceiptError, match="not signed by node 5"):
            verify_receipt(forged, node_key()[1])
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    with pytest.raises(ReceiptError, match="registered key"):
        verify_receipt(signed, other)


def test_round_trip_through_json() -> None:
    signed = receipt()
    assert SignedReceipt.from_dict(signed.to_dict()) == signed


@pytest.mark.parametrize(("change", "message"), [
    ({"extra": 1}, "unknown receipt field"),
    ({"busy_s": -1}, "busy_s must be at least 0"),
    ({"busy_s": "3000"}, "busy_s must be a whole number"),
    ({"job_id": 0}, "job_id must be at least 1"),
    ({"file_sha256": "xyz"}, "64 lower-case hexadecimal"),
    ({"outcome": "exploded"}, "outcome must be one of"),
    ({"started_at": "yesterday"}, "started_at must look like"),
    ({"ended_at": "2025-03-01T09:00:00Z"}, "before started_at"),
    ({"busy_s": 3600, "paused_s": 600}, "exceeds the 3600 s"),
    ({"ended_at": "2025-02-30T11:00:00Z"}, "not a real date"),
])
def test_malformed_receipts_are_refused(change: dict, message: str) -> None:
    data = receipt().to_dict()
    data["receipt"].update(change)
    with pytest.raises(ReceiptError, match=message):
        SignedReceipt.from_dict(data)


@pytest.mark.parametrize(("data", "message"), [
    ({"receipt": {}}, "must be"),
    ({"receipt": {}, "signature": 5}, "base64 string"),
    ({"receipt": {}, "signature": "!!!"}, "not valid base64"),
    ({"receipt": {}, "signature": base64.b64encode(b"x" * 10).decode()}, "64 bytes"),
])
def test_malformed_envelopes_are_refused(data: dict, message: str) -> None:
    with pytest.raises(ReceiptError, match=message):
        SignedReceipt.from_dict(data)


def test_a_receipt_becomes_use_and_consume_entries(db) -> None:
    use = record_receipt(db, receipt(), node_key()[1], expectation())
    assert use.kind == "use"
    assert use.data["effortQuantity"] == {"hasNumericalValue": 3000, "hasUnit": "om2:second-Time"}
    assert use.data["job"] == 7 and use.data["pausedSeconds"] == 600
    assert use.data["receipt"] == receipt().receipt.to_dict()
    consume = store.get_entry(db, 1)
    assert consume.data["resourceQuantity"]["hasNumericalValue"] == 12500
    assert store.tree_size(db) == 2
    record_receipt(db, receipt(job_id=8, material_mg=0), node_key()[1], expectation(job_id=8))
    assert store.tree_size(db) == 3


def test_the_same_receipt_twice_is_recorded_once(db) -> None:
    first = record_receipt(db, receipt(), node_key()[1], expectation())
    before = table_counts(db)
    again = record_receipt(db, SignedReceipt.from_dict(receipt().to_dict()), node_key()[1],
                           expectation())
    assert again == first
    assert table_counts(db) == before


def test_a_conflicting_receipt_is_refused_and_flagged(db) -> None:
    record_receipt(db, receipt(), node_key()[1], expectation())
    before = table_counts(db)
    with pytest.raises(ReceiptConflict, match="already has a different receipt"):
        record_receipt(db, receipt(busy_s=2500), node_key()[1], expectation())
    after = table_counts(db)
    assert after["ledger_entries"] == before["ledger_entries"]
    assert after["ledger_flags"] == before["ledger_flags"] + 1
    (flag,) = flags(db)
    assert flag["job_id"] == 7 and "entry 0" in flag["reason"]
    assert '"busy_s": 2500' in flag["receipt"]


@pytest.mark.parametrize(("change", "message"), [
    ({"node_id": 6}, "node_id is 5 but the hub expects 6"),
    ({"machine_id": 2}, "machine_id is 1 but the hub expects 2"),
    ({"file_sha256": "cd" * 32}, "file_sha256"),
])
def test_a_receipt_that_disagrees_with_the_job_changes_nothing(db, change, message) -> None:
    before = table_counts(db)
    with pytest.raises(ReceiptError, match=message):
        record_receipt(db, receipt(), node_key()[1], expectation(**change))
    with pytest.raises(ReceiptError, match="job_id is 7 but the hub expects 9"):
        record_receipt(db, receipt(), node_key()[1], expectation(job_id=9))
    assert table_counts(db) == before


def test_bad_signature_or_unknown_member_changes_nothing(db) -> None:
    before = table_counts(db)
    stranger = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    with pytest.raises(ReceiptError, match="not signed"):
        record_receipt(db, receipt(), stranger, expectation())
    with pytest.raises(store.LedgerError, match="no member with id 99"):
        record_receipt(db, receipt(), node_key()[1], expectation(member_id=99))
    assert table_counts(db) == before
