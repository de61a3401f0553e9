"""The standalone verifier: check an export, or one entry's proof, without a hub.

It needs only the export (CSV or JSON-LD from ``fabhub ledger export``), the trust's
verifier key, and a signed checkpoint (one you kept, or those embedded in a JSON-LD
export). It uses no database and no web framework::

    python -m fabhub.ledger.offline export ledger.jsonld --key ledger_verifier_key
    python -m fabhub.ledger.offline export ledger.csv --key KEY --checkpoint cp.txt
    python -m fabhub.ledger.offline proof proof.json --key KEY
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fabhub.jobs.canonical import CanonicalJSONError, canonical_bytes
from fabhub.ledger.audit import LogChecker, VerifyReport
from fabhub.ledger.entries import ENTRY_PREFIX
from fabhub.ledger.merkle import ProofError, leaf_hash
from fabhub.ledger.note import NoteError, Verifier, open_checkpoint, parse_verifier
from fabhub.ledger.proofs import InclusionProof
from fabhub.ledger.vocabulary import DAMAGED_KEY, EXPORT_ONLY_KEYS


class ExportError(ValueError):
    """An export, key or proof file cannot be read; the message says what is wrong."""


@dataclass(frozen=True)
class ExportedEntry:
    """One entry of an export: the hub's index for it, its bytes, the hash the hub stored."""

    index: int
    raw: bytes
    leaf: bytes | None


def _hex_or_none(text: str) -> bytes | None:
    try:
        return bytes.fromhex(text) if text else None
    except ValueError as exc:
        raise ExportError(f"leaf hash {text!r} is not hexadecimal") from exc


def _read_csv(path: Path) -> list[ExportedEntry]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    try:
        return [ExportedEntry(int(r["index"]), r["entry"].encode("utf-8"),
                              _hex_or_none(r["leaf_hash"])) for r in rows]
    except (KeyError, TypeError, ValueError) as exc:
        raise ExportError(f"{path}: not a fabhub CSV export ({exc})") from exc


def _from_item(item: object) -> ExportedEntry:
    if not isinstance(item, dict) or not str(item.get("@id", "")).startswith(ENTRY_PREFIX):
        raise ExportError(f"graph object {str(item)[:80]} has no {ENTRY_PREFIX}N @id")
    index = int(item["@id"][len(ENTRY_PREFIX):])
    leaf = _hex_or_none(item.get("leafHash", ""))
    if DAMAGED_KEY in item:
        return ExportedEntry(index, str(item[DAMAGED_KEY]).encode("utf-8"), leaf)
    entry = {k: v for k, v in item.items() if k not in EXPORT_ONLY_KEYS}
    try:
        raw = canonical_bytes(entry)
    except CanonicalJSONError:
        raw = json.dumps(entry).encode("utf-8")  # not canonical: the checker reports it
    return ExportedEntry(index, raw, leaf)


def _read_jsonld(path: Path) -> tuple[list[ExportedEntry], list[str]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        graph, notes = document["@graph"], document.get("checkpoints", [])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise ExportError(f"{path}: not a fabhub JSON-LD export ({exc})") from exc
    try:
        return [_from_item(item) for item in graph], [str(n) for n in notes]
    except ValueError as exc:
        raise ExportError(f"{path}: {exc}") from exc


def read_export(path: Path) -> tuple[list[ExportedEntry], list[str]]:
    """Entries and embedded checkpoint notes of an export (CSV or JSON-LD, by content)."""
    try:
        start = path.read_text(encoding="utf-8")[:64].lstrip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"cannot read {path}: {exc}") from exc
    if start.startswith("{"):
        return _read_jsonld(path)
    return _read_csv(path), []


def verify_export(path: Path, verifier: Verifier,
                  checkpoint_notes: Sequence[str] | None = None) -> VerifyReport:
    """Verify an export against ``checkpoint_notes`` (default: those it embeds)."""
    entries, embedded = read_export(path)
    notes = list(checkpoint_notes) if checkpoint_notes else embedded
    if not notes:
        raise ExportError("no checkpoint to verify against: pass --checkpoint (a CSV export "
                          "embeds none)")
    checker = LogChecker(verifier, notes)
    for entry in entries:
        checker.add(entry.index, entry.raw, entry.leaf)
    return checker.finish()


def verify_proof_file(path: Path, verifier: Verifier) -> str:
    """Check a proof file from ``fabhub ledger proof --json``; return a one-line verdict."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        proof = InclusionProof.from_dict(data)
        entry = data["entry"].encode("utf-8")
        checkpoint = open_checkpoint(data["checkpoint"], verifier)
    except (OSError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ExportError(f"{path}: not a fabhub proof file ({exc})") from exc
    except NoteError as exc:
        raise ProofError(f"the proof's checkpoint does not verify: {exc}") from exc
    if leaf_hash(entry) != proof.leaf:
        raise ProofError("the entry's bytes do not hash to the proof's leaf hash")
    if (checkpoint.size, checkpoint.root) != (proof.size, proof.root):
        raise ProofError("the proof is for another tree than the signed checkpoint")
    proof.verify()
    return (f"OK: entry {proof.index} is in the log {checkpoint.origin} of "
            f"{checkpoint.size} entries signed by {verifier.name}")


def _read_text(value: str) -> str:
    path = Path(value)
    return path.read_text(encoding="utf-8") if path.is_file() else value


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: 0 verified, 1 verification failed, 2 unusable input."""
    parser = argparse.ArgumentParser(prog="python -m fabhub.ledger.offline",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("export", "proof"))
    parser.add_argument("file", type=Path)
    parser.add_argument("--key", required=True,
                        help="the trust's verifier key, or a file holding it")
    parser.add_argument("--checkpoint", action="append", default=[],
                        help="a signed checkpoint file to check against (repeatable)")
    args = parser.parse_args(argv)
    try:
        verifier = parse_verifier(_read_text(args.key))
        if args.what == "proof":
            print(verify_proof_file(args.file, verifier))
            return 0
        notes = [Path(p).read_text(encoding="utf-8") for p in args.checkpoint]
        report = verify_export(args.file, verifier, notes)
    except (ExportError, NoteError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ProofError as exc:
        print(f"FAILED: {exc}")
        return 1
    print("\n".join(report.summary()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
