"""Usage receipts: what a node signs when a job ends, and how anyone checks it.

A receipt states which job ran on which machine from which file, when it started
and ended (UTC, whole seconds), how long the machine was busy and paused, how much
material it used (milligrams) and how the job ended. The node signs the receipt's
canonical JSON bytes, prefixed with a domain label, with its Ed25519 key; the hub
checks the signature against the key registered for that node at enrolment.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fabhub.jobs.canonical import MAX_SAFE_INTEGER, canonical_bytes

OUTCOMES: tuple[str, ...] = ("completed", "cancelled", "failed", "interrupted")
SIGNING_LABEL = b"fabhub usage receipt v1\n"
TIMESTAMP_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
# Clocks and rounding: busy plus paused time may exceed the wall-clock span by this much.
SPAN_TOLERANCE_S = 2


class ReceiptError(ValueError):
    """A receipt is malformed, inconsistent or wrongly signed; the message says which."""


def utc_timestamp(moment: datetime) -> str:
    """``moment`` as a receipt timestamp: UTC, whole seconds, ``Z`` suffix."""
    if moment.tzinfo is None:
        raise ReceiptError("timestamps must be timezone-aware (UTC)")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str, name: str = "timestamp") -> datetime:
    """Parse a receipt timestamp (``YYYY-MM-DDTHH:MM:SSZ``) into an aware datetime."""
    if not isinstance(text, str) or not TIMESTAMP_PATTERN.match(text):
        raise ReceiptError(f"{name} must look like 2025-01-31T14:05:00Z (UTC), got {text!r}")
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise ReceiptError(f"{name} {text!r} is not a real date and time") from exc


def _count(value: Any, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReceiptError(f"{name} must be a whole number, got {value!r}")
    if not minimum <= value <= MAX_SAFE_INTEGER:
        raise ReceiptError(f"{name} must be at least {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class UsageReceipt:
    """The facts of one finished job, as the node measured them."""

    job_id: int
    node_id: int
    machine_id: int
    file_sha256: str
    started_at: str
    ended_at: str
    busy_s: int
    paused_s: int
    material_mg: int
    outcome: str

    def __post_init__(self) -> None:
        for name in ("job_id", "node_id", "machine_id"):
            _count(getattr(self, name), name, minimum=1)
        for name in ("busy_s", "paused_s", "material_mg"):
            _count(getattr(self, name), name)
        if not isinstance(self.file_sha256, str) or not SHA256_PATTERN.match(self.file_sha256):
            raise ReceiptError("file_sha256 must be 64 lower-case hexadecimal digits")
        if self.outcome not in OUTCOMES:
            raise ReceiptError(f"outcome must be one of {', '.join(OUTCOMES)}, "
                               f"got {self.outcome!r}")
        span = self.span_s
        if span < 0:
            raise ReceiptError(f"ended_at {self.ended_at} is before started_at {self.started_at}")
        if self.busy_s + self.paused_s > span + SPAN_TOLERANCE_S:
            raise ReceiptError(f"busy_s + paused_s ({self.busy_s + self.paused_s}) exceeds "
                               f"the {span} s between started_at and ended_at")

    @property
    def span_s(self) -> int:
        """Seconds from start to end."""
        start = parse_timestamp(self.started_at, "started_at")
        end = parse_timestamp(self.ended_at, "ended_at")
        return int((end - start).total_seconds())

    def to_dict(self) -> dict[str, Any]:
        """The receipt as plain JSON-ready data."""
        return asdict(self)

    def canonical_bytes(self) -> bytes:
        """The receipt's canonical JSON bytes (what is signed, after the domain label)."""
        return canonical_bytes(self.to_dict())

    def digest(self) -> str:
        """SHA-256 of the canonical bytes, hex: identifies the receipt's content."""
        return hashlib.sha256(self.canonical_bytes()).hexdigest()

    @classmethod
    def from_dict(cls, data: Any) -> UsageReceipt:
        """Build a receipt from decoded JSON; unknown or missing fields are errors."""
        if not isinstance(data, dict):
            raise ReceiptError("a receipt must be a JSON object")
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(names))
        missing = [n for n in names if n not in data]
        if unknown:
            raise ReceiptError(f"unknown receipt field(s): {', '.join(unknown)}")
        if missing:
            raise ReceiptError(f"receipt lacks field(s): {', '.join(missing)}")
        return cls(**data)


@dataclass(frozen=True)
class SignedReceipt:
    """A receipt with the node's Ed25519 signature over its labelled canonical bytes."""

    receipt: UsageReceipt
    signature: bytes

    def to_dict(self) -> dict[str, Any]:
        """``{"receipt": {...}, "signature": base64}``, as a node sends it."""
        return {"receipt": self.receipt.to_dict(),
                "signature": base64.b64encode(self.signature).decode("ascii")}

    @classmethod
    def from_dict(cls, data: Any) -> SignedReceipt:
        """Parse what a node sent; a malformed receipt or signature is a :class:`ReceiptError`."""
        if not isinstance(data, dict) or set(data) != {"receipt", "signature"}:
            raise ReceiptError('a signed receipt must be {"receipt": {...}, "signature": "..."}')
        text = data["signature"]
        if not isinstance(text, str):
            raise ReceiptError("signature must be a base64 string")
        try:
            signature = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ReceiptError("signature is not valid base64") from exc
        if len(signature) != 64:
            raise ReceiptError(f"an Ed25519 signature has 64 bytes, this one {len(signature)}")
        return cls(UsageReceipt.from_dict(data["receipt"]), signature)


def signing_message(receipt: UsageReceipt) -> bytes:
    """The exact bytes a node signs: a domain label, then the canonical receipt."""
    return SIGNING_LABEL + receipt.canonical_bytes()


def sign_receipt(receipt: UsageReceipt, private_key: Ed25519PrivateKey) -> SignedReceipt:
    """Sign ``receipt`` with the node's key."""
    return SignedReceipt(receipt, private_key.sign(signing_message(receipt)))


def verify_receipt(signed: SignedReceipt, public_key: bytes) -> None:
    """Raise :class:`ReceiptError` unless ``signed`` carries a valid signature by ``public_key``."""
    if not isinstance(public_key, bytes) or len(public_key) != 32:
        raise ReceiptError("a node's Ed25519 public key has 32 bytes")
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            signed.signature, signing_message(signed.receipt))
    except InvalidSignature as exc:
        raise ReceiptError(
            f"the receipt for job {signed.receipt.job_id} is not signed by node "
            f"{signed.receipt.node_id}'s registered key"
        ) from exc
