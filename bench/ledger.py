"""Benchmark the commons ledger on a log of 1,000,000 entries built in the run.

Measures, for fabhub: appends per second (transactions of 100 entries), the median
time to build an inclusion proof and to verify it, and a full ``verify`` (every
entry re-hashed, every stored node and checkpoint checked). The peer, measured on
the same entry bytes in the same run, is pymerkle's ``SqliteTree`` (a pure-Python
RFC 9162 Merkle tree on SQLite): its appends (it commits each entry; WAL and
synchronous=NORMAL as fabhub), its proofs, and re-hashing its entries plus its root.
The last line is JSON with ``appends_per_s``, ``proof_ms_median``, ``verify_1m_s``.

    .venv-bench/bin/python bench/ledger.py [--entries N] [--peer-entries N]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fabhub.db import connect
from fabhub.instance import init_instance
from fabhub.jobs.receipts import utc_timestamp
from fabhub.ledger import store
from fabhub.ledger.checkpoints import make_checkpoint
from fabhub.ledger.entries import UseEvent
from fabhub.ledger.keys import load_signer
from fabhub.ledger.verification import verify_ledger

BATCH = 100
CLASSES = ("fdm-small", "fdm-large", "laser", "cnc")


def setup(instance: Path, n_members: int = 200, n_machines: int = 20):
    """An instance with members and machines, and its database."""
    init_instance(instance)
    db = connect(instance / "fabhub.sqlite3")
    password_hash = "not-a-login"
    with db.atomic():
        for i in range(n_members):
            db.execute("INSERT INTO members (username, display_name, role, password_hash, "
                       "created_at) VALUES (?, ?, 'maker', ?, '2025-01-01T00:00:00Z')",
                       [f"m{i}", f"Member {i}", password_hash])
        for i in range(n_machines):
            db.execute("INSERT INTO machines (name, machine_class, kind, created_at) "
                       "VALUES (?, ?, 'fdm', '2025-01-01T00:00:00Z')",
                       [f"machine{i}", CLASSES[i % len(CLASSES)]])
    return db


def events(count: int, seed: int = 7):
    """Deterministic use events spread over members, machines and a year."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(count):
        began = start + timedelta(seconds=i * 30)
        seconds = rng.randint(60, 8 * 3600)
        yield UseEvent(member_id=rng.randint(1, 200), machine_id=rng.randint(1, 20),
                       seconds=seconds, began_at=utc_timestamp(began),
                       ended_at=utc_timestamp(began + timedelta(seconds=seconds)),
                       job_id=i + 1, file_sha256=f"{i:064x}", outcome="completed")


def bench_fabhub(workdir: Path, count: int, proofs: int) -> dict:
    """Build, prove and verify with fabhub; return the figures."""
    instance = workdir / "instance"
    db = setup(instance)
    batch, t0 = [], time.perf_counter()
    for event in events(count):
        batch.append(event)
        if len(batch) == BATCH:
            store.append(db, batch, recorded_at="2026-01-01T00:00:00Z")
            batch = []
    if batch:
        store.append(db, batch, recorded_at="2026-01-01T00:00:00Z")
    append_s = time.perf_counter() - t0
    signer = load_signer(instance)
    checkpoint, _ = make_checkpoint(db, signer)
    rng = random.Random(11)
    build_ms, verify_ms = [], []
    for _ in range(proofs):
        index = rng.randrange(count)
        t = time.perf_counter()
        proof = store.inclusion_proof(db, index, checkpoint.size)
        t1 = time.perf_counter()
        proof.verify()
        t2 = time.perf_counter()
        build_ms.append((t1 - t) * 1000)
        verify_ms.append((t2 - t1) * 1000)
    t = time.perf_counter()
    report = verify_ledger(db, signer.verifier)
    verify_s = time.perf_counter() - t
    assert report.ok, report.summary()
    raw = [bytes(r[0]) for r in db.execute("SELECT entry FROM ledger_entries ORDER BY idx")]
    db.conn.close()
    return {"appends_per_s": count / append_s, "build_ms": statistics.median(build_ms),
            "verify_ms": statistics.median(verify_ms),
            "proof_ms": statistics.median(b + v for b, v in zip(build_ms, verify_ms,
                                                                 strict=True)),
            "verify_s": verify_s, "root": checkpoint.root, "raw": raw}


def bench_pymerkle(workdir: Path, raw: list[bytes], proofs: int) -> dict:
    """The same entries through pymerkle's SqliteTree."""
    from pymerkle import SqliteTree, verify_inclusion

    tree = SqliteTree(str(workdir / "pymerkle.sqlite3"))
    tree.con.execute("PRAGMA journal_mode = WAL")
    tree.con.execute("PRAGMA synchronous = NORMAL")
    t0 = time.perf_counter()
    for entry in raw:
        tree.append_entry(entry)
    append_s = time.perf_counter() - t0
    size = tree.get_size()
    root = tree.get_root()
    rng = random.Random(11)
    build_ms, verify_ms = [], []
    for _ in range(proofs):
        index = rng.randrange(size) + 1
        t = time.perf_counter()
        proof = tree.prove_inclusion(index, size)
        t1 = time.perf_counter()
        verify_inclusion(tree.get_leaf(index), root, proof)
        t2 = time.perf_counter()
        build_ms.append((t1 - t) * 1000)
        verify_ms.append((t2 - t1) * 1000)
    t = time.perf_counter()
    reader = sqlite3.connect(workdir / "pymerkle.sqlite3")
    for entry, digest in reader.execute("SELECT entry, hash FROM leaf ORDER BY id"):
        assert tree.hash_buff(entry) == digest
    reader.close()
    tree.cache_clear()
    assert tree.get_root() == root
    verify_s = time.perf_counter() - t
    tree.close()
    return {"appends_per_s": len(raw) / append_s, "build_ms": statistics.median(build_ms),
            "verify_ms": statistics.median(verify_ms),
            "proof_ms": statistics.median(b + v for b, v in zip(build_ms, verify_ms,
                                                                 strict=True)),
            "verify_s": verify_s, "root": root}


def main() -> None:
    """Run both and print per-item figures, then the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--peer-entries", type=int, default=None,
                        help="entries for pymerkle (default: the same as --entries)")
    parser.add_argument("--proofs", type=int, default=1000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fabhub-bench-ledger-"))
    try:
        ours = bench_fabhub(workdir, args.entries, args.proofs)
        peer_raw = ours["raw"][: args.peer_entries or args.entries]
        peer = bench_pymerkle(workdir, peer_raw, args.proofs)
        same_root = len(peer_raw) == args.entries and peer["root"] == ours["root"]
        print(f"{'':28} {'fabhub':>12} {'pymerkle 7':>12}")
        print(f"{'entries':28} {args.entries:>12,} {len(peer_raw):>12,}")
        for key, label in (("appends_per_s", "appends per second"),
                           ("build_ms", "proof build, median ms"),
                           ("verify_ms", "proof verify, median ms"),
                           ("proof_ms", "proof build+verify, ms"),
                           ("verify_s", "full verify, s")):
            print(f"{label:28} {ours[key]:>12.3f} {peer[key]:>12.3f}")
        print(f"pymerkle's root equals fabhub's: {same_root}"
              + ("" if len(peer_raw) == args.entries else " (not compared: sizes differ)"))
        print(json.dumps({"appends_per_s": round(ours["appends_per_s"], 1),
                          "proof_ms_median": round(ours["proof_ms"], 4),
                          "verify_1m_s": round(ours["verify_s"], 2)}))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
