"""Tampering: a changed byte, a deleted or reordered entry, a replaced checkpoint make
`fabhub ledger verify` fail and name the first bad entry or checkpoint, and the standalone
verifier gives the same answer on an export."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fabhub.cli import main
from fabhub.db import connect
from fabhub.ledger import store
from fabhub.ledger.checkpoints import make_checkpoint
from fabhub.ledger.keys import VERIFIER_KEY_FILE, load_signer
from fabhub.ledger.note import generate_signer
from fabhub.ledger.schema import APPEND_ONLY_TABLES
from tests.ledger.conftest import use

ENTRIES = 30


@pytest.fixture
def built(instance: Path) -> Path:
    """A ledger of 30 entries with checkpoints at sizes 10, 20 and 30."""
    db = connect(instance / "fabhub.sqlite3")
    signer = load_signer(instance)
    for start in range(0, ENTRIES, 10):
        store.append(db, [use(member_id=1 + i % 3, machine_id=1 + i % 3, seconds=600 + i)
                          for i in range(start, start + 10)])
        make_checkpoint(db, signer)
    db.conn.close()
    return instance


def tamper(instance: Path, *statements: tuple[str, list]) -> None:
    """Drop the append-only triggers (as an attacker with the file would) and run SQL."""
    db = connect(instance / "fabhub.sqlite3")
    for table in APPEND_ONLY_TABLES:
        for action in ("update", "delete"):
            db.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
    with db.atomic():
        for sql, params in statements:
            db.execute(sql, params)
    db.conn.close()


def entry_bytes(instance: Path, index: int) -> bytes:
    db = connect(instance / "fabhub.sqlite3")
    try:
        return bytes(db.execute("SELECT entry FROM ledger_entries WHERE idx = ?",
                                [index]).fetchone()[0])
    finally:
        db.conn.close()


def firsts(output: str) -> dict[str, int]:
    """{"entry": n, "checkpoint": m} from a verify summary."""
    return {kind: int(n) for kind, n in re.findall(r"first bad (entry|checkpoint): (\d+)",
                                                   output)}


def verify_both(instance: Path, tmp_path: Path) -> tuple[dict, dict]:
    """Run `fabhub ledger verify` and the standalone verifier on fresh exports."""
    runner = CliRunner()
    hub = runner.invoke(main, ["--instance", str(instance), "ledger", "verify"])
    assert hub.exit_code == 1 and "FAILED" in hub.output, (hub.output, hub.exception)
    answers = []
    for fmt in ("jsonld", "csv"):
        out = tmp_path / f"export.{fmt}"
        done = runner.invoke(main, ["--instance", str(instance), "ledger", "export",
                                    "--format", fmt, "--output", str(out)])
        assert done.exit_code == 0, done.output
        args = [sys.executable, "-m", "fabhub.ledger.offline", "export", str(out),
                "--key", str(instance / VERIFIER_KEY_FILE)]
        if fmt == "csv":  # a CSV export embeds no checkpoints: pass the hub's as files
            db = connect(instance / "fabhub.sqlite3")
            notes = [r[0] for r in db.execute("SELECT note FROM ledger_checkpoints ORDER BY id")]
            db.conn.close()
            for i, text in enumerate(notes):
                (path := tmp_path / f"cp{i}.txt").write_text(text)
                args += ["--checkpoint", str(path)]
        result = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert result.returncode == 1, result.stdout + result.stderr
        answers.append(firsts(result.stdout))
    assert answers[0] == answers[1]
    return firsts(hub.output), answers[0]


def test_untouched_ledger_verifies_everywhere(built: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--instance", str(built), "ledger", "verify"])
    assert result.exit_code == 0 and "OK: 30 entries and 3 checkpoints" in result.output
    out = tmp_path / "export.jsonld"
    runner.invoke(main, ["--instance", str(built), "ledger", "export", "--format", "jsonld",
                         "--output", str(out)])
    standalone = subprocess.run(
        [sys.executable, "-m", "fabhub.ledger.offline", "export", str(out),
         "--key", str(built / VERIFIER_KEY_FILE)], capture_output=True, text=True, timeout=60)
    assert standalone.returncode == 0, standalone.stderr
    assert "OK: 30 entries and 3 checkpoints" in standalone.stdout


@pytest.mark.parametrize("index", [0, 13, 29])
def test_one_changed_byte_names_the_entry(built: Path, tmp_path: Path, index: int) -> None:
    raw = entry_bytes(built, index)
    at = raw.index(b'"hasNumericalValue":') + len(b'"hasNumericalValue":')
    changed = raw[:at] + bytes([raw[at] ^ 1]) + raw[at + 1:]  # one digit of the hours
    tamper(built, ("UPDATE ledger_entries SET entry = ? WHERE idx = ?", [changed, index]))
    hub, standalone = verify_both(built, tmp_path)
    assert hub == standalone == {"entry": index, "checkpoint": 1 + index // 10}


def test_a_deleted_entry_is_named(built: Path, tmp_path: Path) -> None:
    tamper(built, ("DELETE FROM ledger_facts WHERE idx = 17", []),
           ("DELETE FROM ledger_entries WHERE idx = 17", []))
    hub, standalone = verify_both(built, tmp_path)
    assert hub == standalone == {"entry": 17, "checkpoint": 2}


def test_the_last_entry_deleted_with_its_hashes_is_caught(built: Path, tmp_path: Path) -> None:
    tamper(built, ("DELETE FROM ledger_facts WHERE idx = 29", []),
           ("DELETE FROM ledger_entries WHERE idx = 29", []),
           ("DELETE FROM ledger_nodes WHERE id = 29", []))
    hub, standalone = verify_both(built, tmp_path)
    assert hub == standalone == {"checkpoint": 3}


def test_two_reordered_entries_are_named(built: Path, tmp_path: Path) -> None:
    a, b = entry_bytes(built, 4), entry_bytes(built, 22)
    tamper(built, ("UPDATE ledger_entries SET entry = ? WHERE idx = 4", [b]),
           ("UPDATE ledger_entries SET entry = ? WHERE idx = 22", [a]))
    hub, standalone = verify_both(built, tmp_path)
    assert hub == standalone == {"entry": 4, "checkpoint": 1}


def test_a_replaced_checkpoint_is_named(built: Path, tmp_path: Path) -> None:
    forger = generate_signer(load_signer(built).name)
    db = connect(built / "fabhub.sqlite3")
    root = store.root_hash(db, 15)
    db.conn.close()
    from fabhub.ledger.note import Checkpoint, sign_checkpoint

    forged = sign_checkpoint(Checkpoint(forger.name, 15, root), forger)
    tamper(built, ("UPDATE ledger_checkpoints SET note = ?, size = 15, root = ? WHERE id = 2",
                   [forged, root]))
    hub, standalone = verify_both(built, tmp_path)
    assert hub == standalone == {"checkpoint": 2}


def test_a_rewritten_history_with_matching_hashes_fails_at_the_checkpoints(
        built: Path, tmp_path: Path) -> None:
    """An attacker who rewrites an entry and every stored hash still meets the signatures."""
    from fabhub.jobs.canonical import canonical_bytes, parse_canonical
    from fabhub.ledger.merkle import TreeBuilder, leaf_hash

    data = parse_canonical(entry_bytes(built, 5))
    data["effortQuantity"]["hasNumericalValue"] = 1
    forged = canonical_bytes(data)
    raws = [forged if i == 5 else entry_bytes(built, i) for i in range(ENTRIES)]
    builder, nodes = TreeBuilder(), []
    for raw in raws:
        nodes.extend(builder.push(leaf_hash(raw)))
    tamper(built, ("UPDATE ledger_entries SET entry = ? WHERE idx = 5", [forged]),
           ("UPDATE ledger_facts SET seconds = 1 WHERE idx = 5", []),
           *[("UPDATE ledger_nodes SET hash = ? WHERE id = ?", [h, store.node_key(*n)])
             for n, h in nodes])
    hub, standalone = verify_both(built, tmp_path)
    assert hub == standalone == {"checkpoint": 1}
    db = connect(built / "fabhub.sqlite3")
    from fabhub.ledger.checkpoints import CheckpointError

    store.append_one(db, use())
    with pytest.raises(CheckpointError, match=r"refusing to sign: .* not consistent"):
        make_checkpoint(db, load_signer(built))
    db.conn.close()


def test_tampered_report_facts_are_found(built: Path) -> None:
    tamper(built, ("UPDATE ledger_facts SET member_id = 2 WHERE idx = 3", []))
    result = CliRunner().invoke(main, ["--instance", str(built), "ledger", "verify"])
    assert result.exit_code == 1
    assert "first bad facts: 3" in result.output and "member_id" in result.output


def test_a_tampered_interior_node_is_found(built: Path) -> None:
    tamper(built, ("UPDATE ledger_nodes SET hash = ? WHERE id = ?",
                   [bytes(32), store.node_key(2, 3)]))
    result = CliRunner().invoke(main, ["--instance", str(built), "ledger", "verify"])
    assert result.exit_code == 1
    assert "first bad node: 12" in result.output


def test_two_processes_give_the_same_answer(built: Path, monkeypatch) -> None:
    from fabhub.ledger import verification

    a, b = entry_bytes(built, 4), entry_bytes(built, 22)
    tamper(built, ("UPDATE ledger_entries SET entry = ? WHERE idx = 4", [b]),
           ("UPDATE ledger_entries SET entry = ? WHERE idx = 22", [a]),
           ("UPDATE ledger_facts SET seconds = 5 WHERE idx = 25", []))
    db = connect(built / "fabhub.sqlite3")
    verifier = load_signer(built).verifier
    sequential = verification.verify_ledger(db, verifier, parallel=False)
    monkeypatch.setattr(verification, "PARALLEL_FROM", 10)
    parallel = verification.verify_ledger(db, verifier, parallel=True)
    db.conn.close()
    assert sorted(parallel.problems, key=str) == sorted(sequential.problems, key=str)
    assert parallel.entries == sequential.entries == ENTRIES
    assert {p.kind for p in parallel.problems} == {"entry", "checkpoint", "facts"}
