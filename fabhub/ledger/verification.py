"""``fabhub ledger verify``: recompute every hash from the stored entries.

Checks, in one pass over the entries: each entry's position, canonical form, shape
and stored leaf hash; each checkpoint's signature and root; each entry's report
facts. Then every stored interior node against its two children, level by level,
so that proofs served from the stored tree are sound too.

With ``--receipts`` (:func:`verify_receipts`), also each ``use`` entry's node receipt:
its signature against the key of the node it names (``nodes.public_key``), and the
entry's figures against the receipt's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

import sqlite_utils

from fabhub.db import opened
from fabhub.jobs.receipts import ReceiptError, SignedReceipt, verify_receipt
from fabhub.ledger.audit import MAX_PROBLEMS, LogChecker, Problem, VerifyReport, examine
from fabhub.ledger.checkpoints import all_checkpoints
from fabhub.ledger.entries import machine_iri
from fabhub.ledger.merkle import HASH_SIZE, node_hash
from fabhub.ledger.note import Verifier, open_checkpoint
from fabhub.ledger.pseudonyms import members_by_pseudonym
from fabhub.ledger.store import NODE_KEY_SHIFT, node_key, stored_bytes, tree_size

# Ledgers at least this long are examined by two processes (a 2-core hub verifies 1M
# entries in well under 30 s that way).
PARALLEL_FROM = 100_000
FACT_COLUMNS = ("kind", "action", "member_id", "machine_id", "machine_class", "seconds",
                "milligrams", "began_at", "ended_at", "job_id", "corrects", "work_type")


def _check_checkpoint_rows(db: sqlite_utils.Database, verifier: Verifier,
                           report: VerifyReport) -> list[str]:
    notes = []
    for number, stored in enumerate(all_checkpoints(db), start=1):
        notes.append(stored.note)
        try:
            signed = open_checkpoint(stored.note, verifier)
        except ValueError:
            continue  # LogChecker reports the bad signature itself
        if (signed.size, signed.root) != (stored.size, stored.root):
            report.add("checkpoint", number, f"checkpoint {number}'s stored size or root "
                       "differs from its signed note")
    return notes


def _scan(db: sqlite_utils.Database, lo: int, hi: int,
          position: int) -> Iterator[tuple[bytes, list[Problem]]]:
    """Examine the stored entries with ``lo <= idx < hi``, the first standing at ``position``."""
    members = members_by_pseudonym(db)
    columns = ", ".join(f"f.{c}" for c in FACT_COLUMNS)
    cursor = db.conn.cursor()
    cursor.row_factory = None  # plain tuples: this loop runs once per entry
    rows = cursor.execute(
        f"SELECT e.idx, e.entry, n.hash, f.idx, {columns} FROM ledger_entries e "
        "LEFT JOIN ledger_nodes n ON n.id = e.idx LEFT JOIN ledger_facts f ON f.idx = e.idx "
        "WHERE e.idx >= ? AND e.idx < ? ORDER BY e.idx", [lo, hi])
    for row in rows:
        index, raw, leaf = row[0], stored_bytes(row[1]), row[2]
        found, facts, problems = examine(position, index, raw,
                                         stored_bytes(leaf) if leaf is not None else None)
        if leaf is None:
            problems.append(Problem("node", index, f"the stored tree has no leaf for entry "
                                    f"{index}"))
        if facts is not None and row[3] is None:
            problems.append(Problem("facts", index, f"entry {index} has no report facts"))
        elif facts is not None:
            expected = (facts[0], facts[1], members.get(facts.member), *facts[3:])
            if row[4:] != expected:
                wrong = [c for c, a, b in zip(FACT_COLUMNS, row[4:], expected, strict=True)
                         if a != b]
                problems.append(Problem(
                    "facts", index, f"entry {index}'s report facts disagree with the entry "
                    f"({', '.join(wrong)}): balances computed from them would be wrong"))
        yield found, problems
        position += 1


def scan_range(path: str, lo: int, hi: int, position: int) -> tuple[bytes, list[Problem]]:
    """Examine a range of entries in another process: leaf hashes and the problems found."""
    leaves, problems = [], []
    with opened(path) as db:
        for leaf, found in _scan(db, lo, hi, position):
            leaves.append(leaf)
            problems.extend(found[:MAX_PROBLEMS - len(problems)])
    return b"".join(leaves), problems


def _check_entries(db: sqlite_utils.Database, checker: LogChecker, parallel: bool) -> None:
    end = tree_size(db)
    path = db.execute("PRAGMA database_list").fetchone()[2]
    if not (parallel and path and end >= PARALLEL_FROM):
        for leaf, problems in _scan(db, 0, end, 0):
            for problem in problems:
                checker.report.add(*problem)
            checker.push(leaf)
        return
    # Two cores: another process examines the second half while this one does the first.
    middle = end // 2
    position = db.execute("SELECT COUNT(*) FROM ledger_entries WHERE idx < ?",
                          [middle]).fetchone()[0]
    # fork, not spawn: no re-import of the caller's main module; the child only opens its
    # own connection and hashes, so it takes no lock another thread might hold.
    with ProcessPoolExecutor(1, mp_context=get_context("fork")) as pool:
        second = pool.submit(scan_range, path, middle, end, position)
        for leaf, problems in _scan(db, 0, middle, 0):
            for problem in problems:
                checker.report.add(*problem)
            checker.push(leaf)
        leaves, problems = second.result()
    for problem in problems:
        checker.report.add(*problem)
    for at in range(0, len(leaves), HASH_SIZE):
        checker.push(leaves[at:at + HASH_SIZE])


def _level(db: sqlite_utils.Database, level: int):
    low = level << NODE_KEY_SHIFT
    return db.conn.execute("SELECT id - ?, hash FROM ledger_nodes WHERE id >= ? AND id < ? "
                           "ORDER BY id", [low, low, low + (1 << NODE_KEY_SHIFT)])


def _check_nodes(db: sqlite_utils.Database, size: int, report: VerifyReport) -> None:
    leaves = db.execute("SELECT COUNT(*) FROM ledger_nodes WHERE id < ?",
                        [node_key(1, 0)]).fetchone()[0]
    if leaves != size:
        report.add("node", min(leaves, size), f"the stored tree has {leaves} leaves for "
                   f"{size} entries")
    level = 1
    while size >> level:
        children = iter(_level(db, level - 1))
        expected_count = size >> level
        count = 0
        for index, stored in _level(db, level):
            left, right = next(children, None), next(children, None)
            if index != count or left is None or right is None or stored_bytes(stored) != \
                    node_hash(stored_bytes(left[1]), stored_bytes(right[1])):
                report.add("node", index << level, f"stored node ({level}, {index}) does not "
                           "match its children")
                return
            count += 1
        if count != expected_count:
            report.add("node", count << level, f"the stored tree has {count} nodes at level "
                       f"{level}, expected {expected_count}")
            return
        level += 1


def verify_ledger(db: sqlite_utils.Database, verifier: Verifier,
                  parallel: bool = True) -> VerifyReport:
    """Verify the whole ledger against ``verifier`` (the trust's public key).

    With ``parallel``, a ledger of at least :data:`PARALLEL_FROM` entries in a file is
    examined by two processes (the second one forked); the answer is the same either
    way. A caller inside a multi-threaded server should pass ``parallel=False`` or run
    the check in its own process, since forking a threaded process is fragile.
    """
    report = VerifyReport()
    notes = _check_checkpoint_rows(db, verifier, report)
    checker = LogChecker(verifier, notes)
    checker.report.problems.extend(report.problems)
    _check_entries(db, checker, parallel)
    final = checker.finish()
    _check_nodes(db, tree_size(db), final)
    return final


# A use entry's field, and the receipt field it must equal.
RECEIPT_FIGURES = (("effortQuantity.hasNumericalValue", "busy_s"), ("pausedSeconds", "paused_s"),
                   ("hasBeginning", "started_at"), ("hasEnd", "ended_at"), ("job", "job_id"),
                   ("fileSha256", "file_sha256"), ("outcome", "outcome"))


@dataclass
class ReceiptReport:
    """The outcome of checking the ``use`` entries' receipts: which entries fail, and why."""

    checked: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True if every use entry carries a receipt that its node signed and that it matches."""
        return not self.failures

    def summary(self) -> list[str]:
        """Human-readable lines: the verdict, then each failing entry (the first 50)."""
        if self.ok:
            return [f"receipts OK: {self.checked} use entries carry a receipt signed by the "
                    "node they name, and agree with it"]
        lines = [f"receipts FAILED: {len(self.failures)} of {self.checked} use entries: "
                 + ", ".join(str(index) for index, _ in self.failures[:MAX_PROBLEMS])
                 + (" ..." if len(self.failures) > MAX_PROBLEMS else "")]
        lines += [f"entry {index}: {why}" for index, why in self.failures[:MAX_PROBLEMS]]
        return lines


def _entry_figure(entry: dict[str, Any], path: str) -> Any:
    value: Any = entry
    for name in path.split("."):
        value = value.get(name) if isinstance(value, dict) else None
    return value


def _receipt_problem(entry: dict[str, Any], keys: dict[int, bytes | None]) -> str | None:
    """Why a use entry's receipt does not vouch for it, or None if it does."""
    if "receipt" not in entry or "receiptSignature" not in entry:
        return "a use entry without a node's signed receipt"
    try:
        signed = SignedReceipt.from_dict({"receipt": entry["receipt"],
                                          "signature": entry["receiptSignature"]})
    except ReceiptError as exc:
        return f"its receipt is malformed: {exc}"
    receipt = signed.receipt
    key = keys.get(receipt.node_id)
    if key is None:
        return f"its receipt names node {receipt.node_id}, which has no registered key"
    try:
        verify_receipt(signed, key)
    except ReceiptError:
        return (f"its receipt's signature does not verify with the key of node "
                f"{receipt.node_id}")
    wrong = [f"{name} is {_entry_figure(entry, name)!r} but the receipt's {field_name} is "
             f"{getattr(receipt, field_name)!r}" for name, field_name in RECEIPT_FIGURES
             if _entry_figure(entry, name) != getattr(receipt, field_name)]
    if entry.get("resourceInventoriedAs") != machine_iri(receipt.machine_id):
        wrong.append(f"the machine is {entry.get('resourceInventoriedAs')!r} but the receipt's "
                     f"is machine {receipt.machine_id}")
    return "the entry disagrees with its signed receipt: " + "; ".join(wrong) if wrong else None


def verify_receipts(db: sqlite_utils.Database) -> ReceiptReport:
    """Check every ``use`` entry's receipt against the node keys in the database.

    A use entry passes when it carries a receipt and signature, the signature verifies
    with the registered key of the node the receipt names, and the entry's figures
    (seconds, paused seconds, start, end, job, file, outcome, machine) are the
    receipt's. Corrections are not checked: they replace an entry's figures on purpose.
    """
    keys = {row[0]: bytes(row[1]) if row[1] is not None else None
            for row in db.execute("SELECT id, public_key FROM nodes")}
    report = ReceiptReport()
    cursor = db.conn.cursor()
    cursor.row_factory = None
    for index, raw in cursor.execute("SELECT idx, entry FROM ledger_entries ORDER BY idx"):
        data = stored_bytes(raw)
        if b'"kind":"use"' not in data:
            continue  # cheap filter; unreadable entries are the main verification's to report
        try:
            entry = json.loads(data)
        except ValueError:
            continue
        if not isinstance(entry, dict) or entry.get("kind") != "use":
            continue
        report.checked += 1
        problem = _receipt_problem(entry, keys)
        if problem is not None:
            report.failures.append((index, problem))
    return report
