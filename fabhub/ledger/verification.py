"""``fabhub ledger verify``: recompute every hash from the stored entries.

Checks, in one pass over the entries: each entry's position, canonical form, shape
and stored leaf hash; each checkpoint's signature and root; each entry's report
facts. Then every stored interior node against its two children, level by level,
so that proofs served from the stored tree are sound too.
"""

from __future__ import annotations

import sqlite_utils

from fabhub.ledger.audit import LogChecker, VerifyReport
from fabhub.ledger.checkpoints import all_checkpoints
from fabhub.ledger.merkle import node_hash
from fabhub.ledger.note import Verifier, open_checkpoint
from fabhub.ledger.pseudonyms import members_by_pseudonym
from fabhub.ledger.store import NODE_KEY_SHIFT, node_key, tree_size

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


def _check_entries(db: sqlite_utils.Database, checker: LogChecker) -> None:
    report = checker.report
    members = members_by_pseudonym(db)
    columns = ", ".join(f"f.{c}" for c in FACT_COLUMNS)
    cursor = db.conn.cursor()
    cursor.row_factory = None  # plain tuples: this loop runs once per entry
    rows = cursor.execute(
        f"SELECT e.idx, e.entry, n.hash, f.idx, {columns} FROM ledger_entries e "
        "LEFT JOIN ledger_nodes n ON n.id = e.idx LEFT JOIN ledger_facts f ON f.idx = e.idx "
        "ORDER BY e.idx")
    for row in rows:
        index, raw, leaf = row[0], bytes(row[1]), row[2]
        if leaf is None:
            report.add("node", index, f"the stored tree has no leaf for entry {index}")
        facts = checker.add(index, raw, bytes(leaf) if leaf is not None else None)
        if facts is None:
            continue
        if row[3] is None:
            report.add("facts", index, f"entry {index} has no report facts")
            continue
        expected = (facts[0], facts[1], members.get(facts.member), *facts[3:])
        if row[4:] != expected:
            wrong = [c for c, a, b in zip(FACT_COLUMNS, row[4:], expected, strict=True)
                     if a != b]
            report.add("facts", index, f"entry {index}'s report facts disagree with the entry "
                       f"({', '.join(wrong)}): balances computed from them would be wrong")


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
            if index != count or left is None or right is None or \
                    node_hash(bytes(left[1]), bytes(right[1])) != bytes(stored):
                report.add("node", index << level, f"stored node ({level}, {index}) does not "
                           "match its children")
                return
            count += 1
        if count != expected_count:
            report.add("node", count << level, f"the stored tree has {count} nodes at level "
                       f"{level}, expected {expected_count}")
            return
        level += 1


def verify_ledger(db: sqlite_utils.Database, verifier: Verifier) -> VerifyReport:
    """Verify the whole ledger against ``verifier`` (the trust's public key)."""
    report = VerifyReport()
    notes = _check_checkpoint_rows(db, verifier, report)
    checker = LogChecker(verifier, notes)
    checker.report.problems.extend(report.problems)
    _check_entries(db, checker)
    final = checker.finish()
    _check_nodes(db, tree_size(db), final)
    return final
