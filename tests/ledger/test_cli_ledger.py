"""`fabhub ledger ...`: every command works and bad input gets a clear error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fabhub.cli import main
from fabhub.ledger import store
from fabhub.ledger.keys import VERIFIER_KEY_FILE
from tests.ledger.conftest import use


def run(instance: Path, *args: str):
    return CliRunner().invoke(main, ["--instance", str(instance), "ledger", *args])


def test_checkpoint_proof_and_consistency(db, instance: Path, tmp_path: Path) -> None:
    store.append(db, [use(), use(member_id=2)])
    first = run(instance, "checkpoint")
    assert first.exit_code == 0 and first.output.splitlines()[1] == "2"
    missing = run(instance, "proof", "2")
    assert missing.exit_code == 1 and "there is no entry 2; the ledger's entries are 0 to 1" \
        in missing.output
    store.append_one(db, use())
    uncovered = run(instance, "proof", "2")
    assert uncovered.exit_code == 1 and "run `fabhub ledger checkpoint`" in uncovered.output
    run(instance, "checkpoint")
    shown = run(instance, "proof", "2")
    assert shown.exit_code == 0 and "verified" in shown.output
    proof_file = tmp_path / "proof.json"
    proof_file.write_text(run(instance, "proof", "1", "--json").output)
    assert json.loads(proof_file.read_text())["tree_size"] == 3
    checked = subprocess.run([sys.executable, "-m", "fabhub.ledger.offline", "proof",
                              str(proof_file), "--key", str(instance / VERIFIER_KEY_FILE)],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and "OK: entry 1 is in the log" in checked.stdout
    data = json.loads(proof_file.read_text())
    data["entry"] = data["entry"].replace('"index":1', '"index":2')
    proof_file.write_text(json.dumps(data))
    forged = subprocess.run([sys.executable, "-m", "fabhub.ledger.offline", "proof",
                             str(proof_file), "--key", str(instance / VERIFIER_KEY_FILE)],
                            capture_output=True, text=True, timeout=60)
    assert forged.returncode == 1 and "do not hash to the proof's leaf" in forged.stdout
    consistent = run(instance, "consistency", "1", "2")
    assert consistent.exit_code == 0 and "is a prefix of checkpoint 2" in consistent.output
    unknown = run(instance, "consistency", "1", "9")
    assert unknown.exit_code == 1 and "there is no 9" in unknown.output


def test_export_formats_and_verify_export(db, instance: Path, tmp_path: Path) -> None:
    store.append(db, [use(seconds=5400), use(member_id=2, machine_id=2)])
    run(instance, "checkpoint")
    csv_text = run(instance, "export", "--format", "csv").output
    header, first = csv_text.splitlines()[:2]
    assert header.startswith("index,kind,action,recorded_at,member,machine,machine_class,hours")
    assert ",fdm-small,1.500000," in first and "urn:fabhub:member:" in first
    out = tmp_path / "ledger.jsonld"
    assert run(instance, "export", "--format", "jsonld", "--output", str(out)).exit_code == 0
    document = json.loads(out.read_text())
    assert document["@context"]["provider"] == {"@id": "vf:provider", "@type": "@id"}
    assert document["@graph"][0]["@type"] == "vf:EconomicEvent"
    assert document["@graph"][0]["action"] == "use" and len(document["checkpoints"]) == 1
    assert run(instance, "verify-export", str(out)).output.startswith("OK: 2 entries")
    bad = run(instance, "export", "--format", "xml")
    assert bad.exit_code == 2 and "csv" in bad.output
    wrong_key = run(instance, "verify-export", str(out), "--key", "nonsense")
    assert wrong_key.exit_code == 1 and "not a verifier key" in wrong_key.output


def test_work_balances_and_corrections(db, instance: Path) -> None:
    store.append_one(db, use(member_id=1, seconds=7200))
    done = run(instance, "work", "gina", "--hours", "1.5", "--type", "repair", "--machine", "mk4")
    assert done.exit_code == 0 and "recorded entry 1: gina repair 1.5 h" in done.output
    assert run(instance, "work", "gina", "--hours", "1", "--type", "repair",
               "--machine", "nope").output.strip().endswith("no machine named 'nope'")
    assert "no member named 'ghost'" in run(instance, "work", "ghost", "--hours", "1",
                                            "--type", "repair").output
    moved = run(instance, "correct", "0", "--reason", "reassignment", "--to", "bob")
    assert moved.exit_code == 0 and "reassignment of entry 0" in moved.output
    assert "needs the corrected quantity" in run(instance, "correct", "0", "--reason",
                                                 "fix").output
    assert "there is no entry 40" in run(instance, "correct", "40", "--reason", "waiver").output
    table = run(instance, "balances").output
    assert "bob" in table and "fdm-small" in table and "2.00" in table
    assert "gina" in table and "work: repair" in table and "1.50" in table
    verified = run(instance, "verify")
    assert verified.exit_code == 0 and verified.output.startswith("OK: 3 entries")


def test_pseudonym_and_flags(db, instance: Path) -> None:
    from fabhub.ledger.intake import ReceiptConflict, record_receipt
    from tests.ledger.conftest import expectation, node_key, receipt

    assert "no entry in the ledger yet" in run(instance, "pseudonym", "ada").output
    entry = record_receipt(db, receipt(), node_key()[1], expectation())
    shown = run(instance, "pseudonym", "ada").output
    assert shown.splitlines()[0] == entry.data["receiver"] and "salt: " in shown
    assert run(instance, "flags").output.strip() == "no flagged receipts"
    with pytest.raises(ReceiptConflict):
        record_receipt(db, receipt(busy_s=1), node_key()[1], expectation())
    assert "job 7 node 5: conflicts with the receipt recorded as entry 0" in \
        run(instance, "flags").output


def test_standalone_verifier_needs_no_database_or_web_framework(tmp_path: Path) -> None:
    code = ("import sys, fabhub.ledger.offline\n"
            "heavy = [m for m in ('sqlite3', 'sqlite_utils', 'flask', 'apscheduler') "
            "if m in sys.modules]\nassert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    missing = subprocess.run([sys.executable, "-m", "fabhub.ledger.offline", "export",
                              str(tmp_path / "none.csv"), "--key", "x+00000000+AA=="],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and missing.stderr.startswith("error:")


def test_benchmark_runs_on_a_tiny_log() -> None:
    bench = Path(__file__).resolve().parents[2] / "bench" / "ledger.py"
    result = subprocess.run([sys.executable, str(bench), "--entries", "300", "--proofs", "20"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(figures) == {"appends_per_s", "proof_ms_median", "verify_1m_s"}
    assert "pymerkle's root equals fabhub's: True" in result.stdout
