"""Exporting the ledger: CSV for spreadsheets, JSON-LD in the ValueFlows vocabulary.

Both carry every entry's exact canonical JSON (the CSV in its ``entry`` column, the
JSON-LD as the graph's objects) and the hash the hub stored for it, so that the
standalone verifier (:mod:`fabhub.ledger.offline`) can check an export against a
signed checkpoint without a hub. The JSON-LD export also embeds every checkpoint.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import TextIO

import sqlite_utils

from fabhub.jobs.canonical import CanonicalJSONError, parse_canonical
from fabhub.ledger.checkpoints import all_checkpoints
from fabhub.ledger.entries import EntryError, Facts, entry_iri, facts_of
from fabhub.ledger.store import stored_bytes
from fabhub.ledger.vocabulary import CONTEXT, DAMAGED_KEY

FORMATS: tuple[str, ...] = ("csv", "jsonld")
CSV_COLUMNS: tuple[str, ...] = (
    "index", "kind", "action", "recorded_at", "member", "machine", "machine_class", "hours",
    "grams", "began_at", "ended_at", "job", "corrects", "reason", "work_type", "leaf_hash",
    "entry",
)


def _stored(db: sqlite_utils.Database) -> Iterator[tuple[int, bytes, str]]:
    rows = db.conn.execute("SELECT e.idx, e.entry, n.hash FROM ledger_entries e "
                           "LEFT JOIN ledger_nodes n ON n.id = e.idx ORDER BY e.idx")
    for index, raw, leaf in rows:
        yield index, stored_bytes(raw), stored_bytes(leaf).hex() if leaf is not None else ""


def _readable(raw: bytes) -> tuple[dict, Facts] | None:
    """The entry and its facts, or None for a damaged entry (exported as raw text)."""
    try:
        data = parse_canonical(raw)
        return data, facts_of(data)
    except (CanonicalJSONError, EntryError):
        return None


def _csv_row(index: int, raw: bytes, leaf: str) -> list[object]:
    text = raw.decode("utf-8", "replace")
    readable = _readable(raw)
    if readable is None:
        return [index, *[""] * (len(CSV_COLUMNS) - 3), leaf, text]
    data, facts = readable
    return [index, facts.kind, facts.action, data.get("recordedAt"), facts.member,
            facts.machine_id if facts.machine_id is not None else "",
            facts.machine_class or "", f"{facts.seconds / 3600:.6f}",
            f"{facts.milligrams / 1000:.3f}", facts.began_at or "", facts.ended_at or "",
            facts.job_id if facts.job_id is not None else "",
            facts.corrects if facts.corrects is not None else "", data.get("reason", ""),
            facts.work_type or "", leaf, text]


def export_csv(db: sqlite_utils.Database, out: TextIO) -> int:
    """Write the CSV export to ``out``; return the number of entries."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for index, raw, leaf in _stored(db):
        writer.writerow(_csv_row(index, raw, leaf))
        count += 1
    return count


def export_jsonld(db: sqlite_utils.Database, out: TextIO) -> int:
    """Write the JSON-LD export to ``out`` (one graph object per line); return the count."""
    notes = [c.note for c in all_checkpoints(db)]
    out.write('{"@context": ' + json.dumps(CONTEXT, sort_keys=True) + ',\n')
    out.write('"@id": "urn:fabhub:ledger",\n"checkpoints": ' + json.dumps(notes) + ',\n')
    out.write('"@graph": [')
    count = 0
    for index, raw, leaf in _stored(db):
        item: dict = {"@id": entry_iri(index), "@type": "vf:EconomicEvent", "leafHash": leaf}
        readable = _readable(raw)
        if readable is None:
            item[DAMAGED_KEY] = raw.decode("utf-8", "replace")
        else:
            item.update(readable[0])
        out.write((",\n" if count else "\n") + json.dumps(item, ensure_ascii=False))
        count += 1
    out.write("\n]}\n")
    return count


def export(db: sqlite_utils.Database, fmt: str, out: TextIO) -> int:
    """Write the export in ``fmt`` (``csv`` or ``jsonld``) to ``out``."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return export_csv(db, out) if fmt == "csv" else export_jsonld(db, out)
