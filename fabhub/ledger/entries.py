"""Ledger entries: ValueFlows economic events in canonical JSON.

Every entry is one flat JSON object: the ledger's own fields (``index``, ``kind``,
``recordedAt``) and a ValueFlows ``EconomicEvent`` (``action``, ``provider``,
``receiver``, ``resourceInventoriedAs``, ``effortQuantity``, ``hasBeginning``...).
Agents, machines and entries are IRIs; members appear only under their pseudonym
(a salted commitment). Quantities are integers: seconds and milligrams, so the
canonical form needs no floating point (:mod:`fabhub.jobs.canonical`).

Kinds: ``use`` (a member used a machine), ``consume`` (material), ``work`` (a
contribution), ``correction`` (a replacement for an earlier entry, with the same
action; a waiver is a replacement with zero quantity). Nothing is ever edited.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from fabhub.jobs.receipts import ReceiptError, parse_timestamp

TRUST = "urn:fabhub:trust"
MEMBER_PREFIX = "urn:fabhub:member:"
MACHINE_PREFIX = "urn:fabhub:machine:"
ENTRY_PREFIX = "urn:fabhub:entry:"
SECOND = "om2:second-Time"
MILLIGRAM = "om2:milligram"
KINDS: tuple[str, ...] = ("use", "consume", "work", "correction")
WORK_TYPES: tuple[str, ...] = ("maintenance", "training", "repair", "other")
CORRECTION_REASONS: tuple[str, ...] = ("waiver", "reassignment", "fix")
MAX_NOTE = 500
PSEUDONYM_PATTERN = re.compile("^" + re.escape(MEMBER_PREFIX) + "[0-9a-f]{32}$")


class EntryError(ValueError):
    """An event cannot become a ledger entry; the message says what is wrong."""


def member_commitment(salt: bytes, member_id: int) -> str:
    """A member's pseudonym: a commitment to the member id under a random salt."""
    digest = hashlib.sha256(b"fabhub member v1\n" + salt + str(member_id).encode()).hexdigest()
    return MEMBER_PREFIX + digest[:32]


def machine_iri(machine_id: int) -> str:
    """The IRI of a machine in the ledger."""
    return f"{MACHINE_PREFIX}{machine_id}"


def entry_iri(index: int) -> str:
    """The IRI of ledger entry ``index``."""
    return f"{ENTRY_PREFIX}{index}"


def _iri_number(value: Any, prefix: str, what: str) -> int:
    if not isinstance(value, str) or not value.startswith(prefix) \
            or not value[len(prefix):].isdigit():
        raise EntryError(f"{what} must be an IRI {prefix}N, got {value!r}")
    return int(value[len(prefix):])


def _pseudonym(value: Any) -> str:
    if not isinstance(value, str) or not PSEUDONYM_PATTERN.match(value):
        raise EntryError(f"the member must be a pseudonym {MEMBER_PREFIX}<32 hex>, got {value!r}")
    return value


def _timestamp(value: Any, name: str) -> str:
    try:
        parse_timestamp(value, name)
    except ReceiptError as exc:
        raise EntryError(str(exc)) from exc
    return value


def _amount(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise EntryError(f"{name} must be a whole number of at least 0, got {value!r}")
    return value


def _span(began_at: str, ended_at: str) -> None:
    if parse_timestamp(_timestamp(ended_at, "end"), "end") < \
            parse_timestamp(_timestamp(began_at, "beginning"), "beginning"):
        raise EntryError(f"the end {ended_at} is before the beginning {began_at}")


@dataclass(frozen=True)
class UseEvent:
    """A member used a machine for ``seconds`` of machine time."""

    member_id: int
    machine_id: int
    seconds: int
    began_at: str
    ended_at: str
    job_id: int | None = None
    file_sha256: str | None = None
    outcome: str | None = None
    paused_s: int = 0
    receipt: dict[str, Any] | None = None
    receipt_signature: str | None = None
    note: str | None = None
    action = "use"


@dataclass(frozen=True)
class ConsumeEvent:
    """A member's job consumed ``milligrams`` of material on a machine."""

    member_id: int
    machine_id: int
    milligrams: int
    at: str
    job_id: int | None = None
    material: str = "material"
    note: str | None = None
    action = "consume"


@dataclass(frozen=True)
class WorkEvent:
    """A member contributed ``seconds`` of work (maintenance, training, repair...)."""

    member_id: int
    seconds: int
    work_type: str
    began_at: str
    ended_at: str
    machine_id: int | None = None
    note: str | None = None
    action = "work"


Event = UseEvent | ConsumeEvent | WorkEvent


@dataclass(frozen=True)
class Correction:
    """Replaces entry ``corrects`` by ``replacement`` (same action) for a stated reason."""

    corrects: int
    reason: str
    replacement: Event
    note: str | None = None
    action: str = field(init=False, default="correction")


@dataclass(frozen=True)
class Context:
    """What the store resolves for an event: pseudonym and machine class."""

    pseudonym: str
    machine_class: str | None


def _optional(data: dict[str, Any], **values: Any) -> dict[str, Any]:
    data.update({k: v for k, v in values.items() if v is not None})
    return data


def event_fields(event: Event, ctx: Context) -> dict[str, Any]:
    """The ValueFlows fields of ``event`` (validated), without the ledger's own fields."""
    note = event.note
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise EntryError(f"a note must be text of at most {MAX_NOTE} characters")
    if isinstance(event, UseEvent):
        _span(event.began_at, event.ended_at)
        data = {"action": "use", "provider": TRUST, "receiver": ctx.pseudonym,
                "resourceInventoriedAs": machine_iri(event.machine_id),
                "resourceClassifiedAs": ctx.machine_class,
                "effortQuantity": {"hasNumericalValue": _amount(event.seconds, "seconds"),
                                   "hasUnit": SECOND},
                "hasBeginning": event.began_at, "hasEnd": event.ended_at,
                "pausedSeconds": _amount(event.paused_s, "paused seconds")}
        return _optional(data, job=event.job_id, fileSha256=event.file_sha256,
                         outcome=event.outcome, receipt=event.receipt,
                         receiptSignature=event.receipt_signature, note=note)
    if isinstance(event, ConsumeEvent):
        data = {"action": "consume", "provider": TRUST, "receiver": ctx.pseudonym,
                "resourceClassifiedAs": event.material,
                "resourceQuantity": {"hasNumericalValue": _amount(event.milligrams, "milligrams"),
                                     "hasUnit": MILLIGRAM},
                "hasPointInTime": _timestamp(event.at, "time"),
                "machine": machine_iri(event.machine_id), "machineClass": ctx.machine_class}
        return _optional(data, job=event.job_id, note=note)
    if event.work_type not in WORK_TYPES:
        raise EntryError(f"work type must be one of {', '.join(WORK_TYPES)}, "
                         f"got {event.work_type!r}")
    _span(event.began_at, event.ended_at)
    data = {"action": "work", "provider": ctx.pseudonym, "receiver": TRUST,
            "resourceConformsTo": event.work_type,
            "effortQuantity": {"hasNumericalValue": _amount(event.seconds, "seconds"),
                               "hasUnit": SECOND},
            "hasBeginning": event.began_at, "hasEnd": event.ended_at}
    machine = machine_iri(event.machine_id) if event.machine_id is not None else None
    return _optional(data, machine=machine, machineClass=ctx.machine_class, note=note)


def build_entry(index: int, recorded_at: str, item: Event | Correction, ctx: Context) -> dict:
    """The full entry object for ``item`` at position ``index``."""
    _timestamp(recorded_at, "recordedAt")
    if isinstance(item, Correction):
        if item.reason not in CORRECTION_REASONS:
            raise EntryError(f"a correction's reason must be one of "
                             f"{', '.join(CORRECTION_REASONS)}, got {item.reason!r}")
        if not 0 <= item.corrects < index:
            raise EntryError(f"a correction must point to an earlier entry, not {item.corrects}")
        data = event_fields(item.replacement, ctx)
        data.update(kind="correction", corrects=entry_iri(item.corrects), reason=item.reason)
        if item.note is not None:
            data["correctionNote"] = item.note
    else:
        data = event_fields(item, ctx)
        data["kind"] = item.action
    data.update(index=index, recordedAt=recorded_at)
    return data


class Facts(NamedTuple):
    """What reports need from an entry, read from its canonical JSON (a tuple, for speed)."""

    kind: str
    action: str
    member: str
    machine_id: int | None
    machine_class: str | None
    seconds: int
    milligrams: int
    began_at: str | None
    ended_at: str | None
    job_id: int | None
    corrects: int | None
    work_type: str | None


def facts_of(entry: dict[str, Any]) -> Facts:
    """Read and check an entry's facts; :class:`EntryError` if its shape is wrong."""
    try:
        kind, action = entry["kind"], entry["action"]
        if kind not in KINDS or action not in KINDS[:3] or kind not in (action, "correction"):
            raise EntryError(f"unknown kind/action {kind!r}/{action!r}")
        member = _pseudonym(entry["provider"] if action == "work" else entry["receiver"])
        machine_ref = entry.get("resourceInventoriedAs") if action == "use" \
            else entry.get("machine")
        machine_id = None if machine_ref is None and action == "work" else \
            _iri_number(machine_ref, MACHINE_PREFIX, "the machine")
        corrects = _iri_number(entry["corrects"], ENTRY_PREFIX, "corrects") \
            if kind == "correction" else None
        quantity = entry["resourceQuantity" if action == "consume" else "effortQuantity"]
        amount = _amount(quantity["hasNumericalValue"], "the quantity")
        began = entry.get("hasBeginning", entry.get("hasPointInTime"))
        ended = entry.get("hasEnd", entry.get("hasPointInTime"))
        return Facts(
            kind, action, member, machine_id,
            entry.get("resourceClassifiedAs") if action == "use" else entry.get("machineClass"),
            amount if action != "consume" else 0, amount if action == "consume" else 0,
            began, ended, entry.get("job"), corrects, entry.get("resourceConformsTo"))
    except (KeyError, TypeError) as exc:
        raise EntryError(f"entry lacks or misshapes field {exc}") from exc
