"""Checking a log from its entries and signed checkpoints: the core of every verify.

:class:`LogChecker` is fed the entries in stored order and the checkpoints in the
order they were signed; it recomputes every hash and names the first bad entry and
the first bad checkpoint. The hub's ``verify`` (from SQLite) and the standalone
verifier (from an export) both use it, so they give the same answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from fabhub.jobs.canonical import CanonicalJSONError, parse_canonical
from fabhub.ledger.entries import EntryError, Facts, facts_of
from fabhub.ledger.merkle import EMPTY_ROOT, TreeBuilder, leaf_hash
from fabhub.ledger.note import NoteError, Verifier, open_checkpoint

MAX_PROBLEMS = 50


class Problem(NamedTuple):
    """One finding: what kind of record, which one, and what is wrong with it."""

    kind: str  # "entry", "checkpoint", "node" or "facts"
    at: int
    message: str


@dataclass
class VerifyReport:
    """The outcome of a verification."""

    entries: int = 0
    checkpoints: int = 0
    problems: list[Problem] = field(default_factory=list)
    truncated: bool = False

    @property
    def ok(self) -> bool:
        """True if nothing was found wrong."""
        return not self.problems

    def first(self, kind: str) -> Problem | None:
        """The first problem of ``kind`` (lowest position), if any."""
        found = [p for p in self.problems if p.kind == kind]
        return min(found, key=lambda p: p.at) if found else None

    def add(self, kind: str, at: int, message: str) -> None:
        """Record a problem (at most :data:`MAX_PROBLEMS` are kept)."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(kind, at, message))
        else:
            self.truncated = True

    def summary(self) -> list[str]:
        """Human-readable lines: the verdict, then the first bad record of each kind."""
        if self.ok:
            return [f"OK: {self.entries} entries and {self.checkpoints} checkpoints verified"]
        lines = [f"FAILED: {len(self.problems)}{'+' if self.truncated else ''} problem(s) "
                 f"in {self.entries} entries and {self.checkpoints} checkpoints"]
        for kind in ("entry", "checkpoint", "node", "facts"):
            problem = self.first(kind)
            if problem is not None:
                lines.append(f"first bad {kind}: {problem.at}: {problem.message}")
        return lines


def examine(position: int, stored_index: int, entry: bytes,
            stored_leaf: bytes | None) -> tuple[bytes, Facts | None, list[Problem]]:
    """Check one entry on its own: its leaf hash, facts and the problems found.

    ``position`` is where the entry stands in the log, ``stored_index`` what the store
    calls it and ``stored_leaf`` the hash the store kept for it (None if unknown).
    """
    problems: list[Problem] = []
    if stored_index != position:
        what = "is missing" if stored_index > position else "appears twice"
        problems.append(Problem("entry", position, f"entry {position} {what} "
                                f"(found entry {stored_index} in its place)"))
    computed = leaf_hash(entry)
    if stored_leaf is not None and stored_leaf != computed:
        problems.append(Problem("entry", position, f"entry {position} does not match its "
                                "stored hash: its bytes were changed"))
    facts = None
    try:
        data = parse_canonical(entry)
        if not isinstance(data, dict) or data.get("index") != position:
            claimed = data.get("index") if isinstance(data, dict) else None
            raise EntryError(f"it says it is entry {claimed}: entries were reordered, "
                             "removed or inserted")
        facts = facts_of(data)
    except (CanonicalJSONError, EntryError) as exc:
        problems.append(Problem("entry", position, f"entry {position} is not a valid entry: "
                                f"{exc}"))
    return computed, facts, problems


class LogChecker:
    """Recomputes a log's tree from its entries and checks it against signed checkpoints."""

    def __init__(self, verifier: Verifier, checkpoint_notes: Sequence[str]) -> None:
        self.report = VerifyReport(checkpoints=len(checkpoint_notes))
        self._builder = TreeBuilder()
        self._pending: list[tuple[int, int, bytes]] = []  # (size, checkpoint number, root)
        last_size = 0
        for number, text in enumerate(checkpoint_notes, start=1):
            try:
                checkpoint = open_checkpoint(text, verifier)
            except NoteError as exc:
                self.report.add("checkpoint", number, f"checkpoint {number}: {exc}")
                continue
            if checkpoint.size < last_size:
                self.report.add("checkpoint", number, f"checkpoint {number} has size "
                                f"{checkpoint.size}, smaller than an earlier {last_size}")
            last_size = max(last_size, checkpoint.size)
            self._pending.append((checkpoint.size, number, checkpoint.root))
        self._pending.sort()
        self._check_due(EMPTY_ROOT)

    def _check_due(self, root: bytes) -> None:
        size = self._builder.size
        while self._pending and self._pending[0][0] == size:
            _, number, expected = self._pending.pop(0)
            if expected != root:
                self.report.add("checkpoint", number,
                                f"checkpoint {number} (size {size}) does not match the root "
                                "recomputed from the entries")

    def add(self, stored_index: int, entry: bytes, stored_leaf: bytes | None) -> Facts | None:
        """Check the next entry; return its facts, or None if it could not be read."""
        leaf, facts, problems = examine(self._builder.size, stored_index, entry, stored_leaf)
        for problem in problems:
            self.report.add(*problem)
        self.push(leaf)
        return facts

    def push(self, leaf: bytes) -> None:
        """Add the next leaf hash (already examined) and check checkpoints that fall due."""
        self._builder.push(leaf)
        self.report.entries += 1
        if self._pending and self._pending[0][0] == self._builder.size:
            self._check_due(self._builder.root())

    def finish(self) -> VerifyReport:
        """Close the check: checkpoints beyond the last entry are problems too."""
        for size, number, _ in self._pending:
            self.report.add("checkpoint", number, f"checkpoint {number} covers {size} entries "
                            f"but only {self._builder.size} exist: entries were deleted")
        self._pending.clear()
        return self.report

