"""The JSON-LD context that maps ledger entries onto ValueFlows and OM 2 terms."""

from __future__ import annotations

VF = "https://w3id.org/valueflows/ont/vf#"
OM2 = "http://www.ontology-of-units-of-measure.org/resource/om-2/"
# Keys an export adds to each entry; the standalone verifier strips them again.
EXPORT_ONLY_KEYS: tuple[str, ...] = ("@id", "@type", "leafHash")
# Holds, as text, an entry the hub could not read (the verifier then reports it).
DAMAGED_KEY = "damagedEntry"


def _iri(term: str) -> dict[str, str]:
    return {"@id": term, "@type": "@id"}


def _time(term: str) -> dict[str, str]:
    return {"@id": term, "@type": "xsd:dateTime"}


CONTEXT: dict[str, object] = {
    "vf": VF,
    "om2": OM2,
    "fh": "urn:fabhub:ns:",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "action": "vf:action",
    "provider": _iri("vf:provider"),
    "receiver": _iri("vf:receiver"),
    "resourceInventoriedAs": _iri("vf:resourceInventoriedAs"),
    "resourceClassifiedAs": "vf:resourceClassifiedAs",
    "resourceConformsTo": "vf:resourceConformsTo",
    "effortQuantity": "vf:effortQuantity",
    "resourceQuantity": "vf:resourceQuantity",
    "hasNumericalValue": "om2:hasNumericalValue",
    "hasUnit": _iri("om2:hasUnit"),
    "hasBeginning": _time("vf:hasBeginning"),
    "hasEnd": _time("vf:hasEnd"),
    "hasPointInTime": _time("vf:hasPointInTime"),
    "corrects": _iri("vf:corrects"),
    "note": "vf:note",
    "index": "fh:index",
    "kind": "fh:kind",
    "recordedAt": _time("fh:recordedAt"),
    "job": "fh:job",
    "fileSha256": "fh:fileSha256",
    "outcome": "fh:outcome",
    "pausedSeconds": "fh:pausedSeconds",
    "receipt": {"@id": "fh:receipt", "@type": "@json"},
    "receiptSignature": "fh:receiptSignature",
    "machine": _iri("fh:machine"),
    "machineClass": "fh:machineClass",
    "reason": "fh:correctionReason",
    "correctionNote": "fh:correctionNote",
    "leafHash": "fh:leafHash",
    DAMAGED_KEY: "fh:damagedEntry",
    "checkpoints": "fh:checkpoints",
}
