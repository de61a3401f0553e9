"""Fixtures for the ledger: an initialised instance with members and machines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils

from fabhub.db import connect
from fabhub.instance import init_instance
from fabhub.ledger.entries import UseEvent

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO.parent / "shared" / "ledger" / "rfc6962-vectors.json"


@pytest.fixture(scope="session")
def vectors() -> dict:
    """The RFC 6962 reference vectors shared beside the clone."""
    assert VECTORS.exists(), f"missing {VECTORS}: shared/ must sit beside the clone"
    return json.loads(VECTORS.read_text())


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    """An instance with members ada (1), bob (2), gina (3) and machines 1-3."""
    path = tmp_path / "instance"
    init_instance(path)
    db = connect(path / "fabhub.sqlite3")
    try:
        with db.atomic():
            # Direct inserts: the ledger never logs anyone in, so no slow password hashing.
            for username, role in (("ada", "maker"), ("bob", "maker"), ("gina", "gatekeeper")):
                db.execute("INSERT INTO members (username, display_name, role, password_hash, "
                           "created_at) VALUES (?, ?, ?, 'no-login', '2025-01-01T00:00:00Z')",
                           [username, username.title(), role])
            for name, cls, kind in (("mk4", "fdm-small", "fdm"), ("beam", "laser", "laser"),
                                    ("mill", "cnc", "cnc")):
                db.execute("INSERT INTO machines (name, machine_class, kind, created_at) "
                           "VALUES (?, ?, ?, '2025-01-01T00:00:00Z')", [name, cls, kind])
    finally:
        db.conn.close()
    return path


@pytest.fixture
def db(instance: Path) -> Iterator[sqlite_utils.Database]:
    """A connection to the instance's database."""
    database = connect(instance / "fabhub.sqlite3")
    yield database
    database.conn.close()


def use(member_id: int = 1, machine_id: int = 1, seconds: int = 3600,
        began_at: str = "2025-03-01T10:00:00Z", ended_at: str | None = None,
        job_id: int | None = None) -> UseEvent:
    """A use event; the end defaults to the beginning plus ``seconds``."""
    from datetime import timedelta

    from fabhub.jobs.receipts import parse_timestamp, utc_timestamp

    end = ended_at or utc_timestamp(parse_timestamp(began_at) + timedelta(seconds=seconds))
    return UseEvent(member_id, machine_id, seconds, began_at, end, job_id=job_id)


def table_counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Row counts of every ledger table (to show that a refusal changed nothing)."""
    from fabhub.ledger.schema import APPEND_ONLY_TABLES

    return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in APPEND_ONLY_TABLES}


NODE_SEED = bytes(range(32))
FILE_SHA = "ab" * 32


def node_key():
    """A fixed Ed25519 node key (private key object, public bytes)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    private = Ed25519PrivateKey.from_private_bytes(NODE_SEED)
    return private, private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def receipt(job_id: int = 7, busy_s: int = 3000, material_mg: int = 12500, **changes):
    """A usage receipt for job ``job_id`` on machine 1 by node 5, signed by :func:`node_key`."""
    from fabhub.jobs.receipts import UsageReceipt, sign_receipt

    fields = {"job_id": job_id, "node_id": 5, "machine_id": 1, "file_sha256": FILE_SHA,
              "started_at": "2025-03-01T10:00:00Z", "ended_at": "2025-03-01T11:00:00Z",
              "busy_s": busy_s, "paused_s": 600, "material_mg": material_mg,
              "outcome": "completed", **changes}
    return sign_receipt(UsageReceipt(**fields), node_key()[0])


def observed(claimed_at: str = "2025-03-01T09:59:00Z", arrived_at: str = "2025-03-01T11:00:30Z",
             claimed_by: int | None = 5, **changes):
    """What the hub saw of the run: by default node 5 claimed it just before :func:`receipt`
    started, and the end report arrived just after it ended, with the hub watching."""
    from fabhub.clock import parse_utc
    from fabhub.ledger.receipt_bounds import Observation

    return Observation(parse_utc(arrived_at), claimed_by,
                       parse_utc(claimed_at) if claimed_by is not None else None, **changes)


def expectation(job_id: int = 7, member_id: int = 1, **changes):
    """What the hub expects of job ``job_id``'s receipt."""
    from fabhub.ledger.intake import ReceiptExpectation

    fields = {"job_id": job_id, "member_id": member_id, "machine_id": 1, "node_id": 5,
              "file_sha256": FILE_SHA, "observed": observed(), **changes}
    return ReceiptExpectation(**fields)
