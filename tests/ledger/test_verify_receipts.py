"""`fabhub ledger verify --receipts`: every use entry's receipt against the node keys."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fabhub.cli import main
from fabhub.jobs.receipts import sign_receipt
from fabhub.ledger import store
from fabhub.ledger.entries import UseEvent
from fabhub.ledger.intake import flags, record_receipt
from fabhub.ledger.verification import verify_receipts
from tests.ledger.conftest import expectation, node_key, receipt, use


def verify(instance: Path, *args: str):
    return CliRunner().invoke(main, ["--instance", str(instance), "ledger", "verify", *args])


@pytest.fixture
def honest(db):
    """Node 5 of machine 1 with its real key, and two receipts it signed on the ledger."""
    db.execute("INSERT INTO nodes (id, machine_id, name, public_key, created_at) "
               "VALUES (5, 1, 'pi', ?, '2025-01-01T00:00:00Z')", [node_key()[1]])
    db.conn.commit()
    record_receipt(db, receipt(), node_key()[1], expectation())
    record_receipt(db, receipt(job_id=8, material_mg=0), node_key()[1], expectation(job_id=8))
    return db


def forged_use(signed, **changes) -> UseEvent:
    """A use entry built from ``signed`` as intake builds it, with ``changes``."""
    r = signed.receipt
    fields = {"member_id": 1, "machine_id": r.machine_id, "seconds": r.busy_s,
              "began_at": r.started_at, "ended_at": r.ended_at, "job_id": r.job_id,
              "file_sha256": r.file_sha256, "outcome": r.outcome, "paused_s": r.paused_s,
              "receipt": r.to_dict(), "receipt_signature": signed.to_dict()["signature"],
              **changes}
    return UseEvent(**fields)


def test_an_honest_ledger_verifies_with_receipts(honest, instance: Path) -> None:
    done = verify(instance, "--receipts")
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        "OK: 3 entries and 0 checkpoints verified",
        "receipts OK: 2 use entries carry a receipt signed by the node they name, "
        "and agree with it"]
    assert verify(instance).output.strip() == "OK: 3 entries and 0 checkpoints verified"


def test_a_use_entry_whose_receipt_signature_fails_is_named(honest, instance: Path) -> None:
    stranger = sign_receipt(receipt(job_id=9).receipt, Ed25519PrivateKey.generate())
    store.append_one(honest, forged_use(stranger))  # index 3: signed by another key
    done = verify(instance, "--receipts")
    assert done.exit_code == 1
    lines = done.output.splitlines()
    assert lines[0] == "OK: 4 entries and 0 checkpoints verified"  # the hashes are all fine
    assert lines[1] == "receipts FAILED: 1 of 3 use entries: 3"
    assert lines[2] == ("entry 3: its receipt's signature does not verify with the key of "
                        "node 5")
    assert verify(instance).exit_code == 0  # without --receipts the forgery goes unseen


def test_each_way_of_forging_a_use_entry_is_reported(honest) -> None:
    real = receipt(job_id=10)
    bad_sig = base64.b64encode(bytes(64)).decode()
    store.append(honest, [
        forged_use(real, seconds=999_999),  # 3: figures inflated, receipt honest
        forged_use(receipt(job_id=11, node_id=6)),  # 4: a node that does not exist
        forged_use(real, receipt_signature=bad_sig),  # 5: a signature over nothing
        forged_use(real, receipt={**real.receipt.to_dict(), "busy_s": "lots"}),  # 6
        use(job_id=12),  # 7: no receipt at all
        forged_use(real),  # 8: honest copy of a genuine receipt
    ])
    report = verify_receipts(honest)
    assert report.checked == 8 and not report.ok
    why = dict(report.failures)
    assert sorted(why) == [3, 4, 5, 6, 7]
    assert "effortQuantity.hasNumericalValue is 999999 but the receipt's busy_s is 3000" \
        in why[3]
    assert "names node 6, which has no registered key" in why[4]
    assert "does not verify with the key of node 5" in why[5]
    assert "malformed: busy_s must be a whole number" in why[6]
    assert why[7] == "a use entry without a node's signed receipt"


def test_flags_command_lists_receipts_out_of_bounds(db, instance: Path) -> None:
    from fabhub.ledger.receipt_bounds import ReceiptOutOfBounds

    with pytest.raises(ReceiptOutOfBounds):
        record_receipt(db, receipt(ended_at="2099-12-31T23:59:59Z", busy_s=1),
                       node_key()[1], expectation())
    shown = CliRunner().invoke(main, ["--instance", str(instance), "ledger", "flags"])
    assert shown.exit_code == 0
    assert "job 7 node 5: the receipt's ended_at 2099-12-31T23:59:59Z is after " \
        "2025-03-01T11:02:30Z" in shown.output
    assert len(flags(db)) == 1
