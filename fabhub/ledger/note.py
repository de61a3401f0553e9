"""C2SP signed notes with Ed25519 keys, and tlog checkpoints carried in them.

A note is UTF-8 text ending in a newline, a blank line, then signature lines
``— <key name> base64(key ID || signature)``. The key ID is the first four bytes of
SHA-256(key name || 0x0A || 0x01 || public key). Keys are written as in Go's
``sumdb/note``: ``PRIVATE+KEY+<name>+<hex key ID>+base64(0x01 || seed)`` for the signer
and ``<name>+<hex key ID>+base64(0x01 || public key)`` for verifiers.

A checkpoint (c2sp.org/tlog-checkpoint) is a note whose text is the log's origin,
the tree size in decimal and the base64 root hash, one per line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fabhub.ledger.merkle import HASH_SIZE

ED25519 = b"\x01"
DASH = "\u2014 "
MAX_SIGNATURES = 16
NAME_PATTERN = re.compile(r"^[^\s+]+$")
SIZE_PATTERN = re.compile(r"^(0|[1-9][0-9]{0,18})$")


class NoteError(ValueError):
    """A key, note or checkpoint is malformed, or its signature does not verify."""


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte C2SP key ID of an Ed25519 key."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public_key).digest()[:4]


def _check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")
    return name


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"{what} is not valid base64") from exc


@dataclass(frozen=True)
class Verifier:
    """A public key that may sign notes: its name, ID and Ed25519 key bytes."""

    name: str
    key_id: bytes
    public_key: bytes

    def encode(self) -> str:
        """The verifier key string (``name+hexid+base64``) that members keep."""
        blob = base64.b64encode(ED25519 + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        """True if ``signature`` is this key's Ed25519 signature over ``text``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Signer:
    """A private key that signs notes under its name."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def verifier(self) -> Verifier:
        """The matching public verifier."""
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return Verifier(self.name, key_id(self.name, public), public)

    def encode(self) -> str:
        """The signer key string (``PRIVATE+KEY+name+hexid+base64``); keep it secret."""
        seed = self.private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
            serialization.NoEncryption())
        blob = base64.b64encode(ED25519 + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{blob}"


def generate_signer(name: str) -> Signer:
    """A new random Ed25519 signer named ``name`` (a schema-less URL is recommended)."""
    return Signer(_check_name(name), Ed25519PrivateKey.generate())


def _split_key(text: str, parts: int, what: str) -> list[str]:
    fields = text.strip().split("+", parts - 1)
    if len(fields) != parts:
        raise NoteError(f"{what} must have the form {'+'.join(['...'] * parts)}")
    return fields


def _key_material(name: str, hex_id: str, blob: str, size: int, what: str) -> bytes:
    _check_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise NoteError(f"{what}: the key ID must be 8 lower-case hex digits")
    material = _b64decode(blob, what)
    if len(material) != 1 + size or material[:1] != ED25519:
        raise NoteError(f"{what}: only Ed25519 keys (type 0x01) are supported")
    return material[1:]


def parse_signer(text: str) -> Signer:
    """Parse a ``PRIVATE+KEY+...`` signer key, checking its key ID."""
    private, key, name, hex_id, blob = _split_key(text, 5, "a signer key")
    if (private, key) != ("PRIVATE", "KEY"):
        raise NoteError("a signer key starts with PRIVATE+KEY+")
    seed = _key_material(name, hex_id, blob, 32, "the signer key")
    signer = Signer(name, Ed25519PrivateKey.from_private_bytes(seed))
    if signer.verifier.key_id.hex() != hex_id:
        raise NoteError("the signer key's ID does not match its name and key")
    return signer


def parse_verifier(text: str) -> Verifier:
    """Parse a ``name+hexid+base64`` verifier key, checking its key ID."""
    name, hex_id, blob = _split_key(text, 3, "a verifier key")
    public = _key_material(name, hex_id, blob, 32, "the verifier key")
    if key_id(name, public).hex() != hex_id:
        raise NoteError("the verifier key's ID does not match its name and key")
    return Verifier(name, bytes.fromhex(hex_id), public)


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("a note's text must end with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("a note must not contain control characters other than newline")


def sign_note(text: str, signer: Signer) -> str:
    """The signed note: ``text``, a blank line, and ``signer``'s signature line."""
    _check_text(text)
    signature = signer.private_key.sign(text.encode())
    blob = base64.b64encode(signer.verifier.key_id + signature).decode()
    return f"{text}\n{DASH}{signer.name} {blob}\n"


def open_note(note: str, verifier: Verifier) -> str:
    """Return the text of ``note`` if ``verifier`` signed it, else raise :class:`NoteError`."""
    _check_text(note)
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("a signed note needs a blank line before its signatures")
    text, lines = note[: cut + 1], note[cut + 2:].splitlines()
    if not lines or len(lines) > MAX_SIGNATURES:
        raise NoteError(f"a note must carry 1 to {MAX_SIGNATURES} signature lines")
    verified = False
    for line in lines:
        if not line.startswith(DASH) or line.count(" ") != 2:
            raise NoteError(f"malformed signature line {line!r}")
        name, blob = line[len(DASH):].split(" ")
        raw = _b64decode(blob, "a signature")
        if len(raw) < 5:
            raise NoteError("a signature is too short to hold a key ID")
        if name != verifier.name or raw[:4] != verifier.key_id:
            continue  # another key's signature: C2SP says to ignore it
        if not verifier.verify(text.encode(), raw[4:]):
            raise NoteError(f"the signature by {name} does not verify: the note was altered "
                            "or signed by another key")
        verified = True
    if not verified:
        raise NoteError(f"the note carries no signature by {verifier.name} "
                        f"(key ID {verifier.key_id.hex()})")
    return text


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log's origin, its size and its root hash."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        """The checkpoint's note text."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint's note text (origin, size, root; extension lines are refused)."""
    lines = text.split("\n")
    if len(lines) != 4 or lines[3] != "":
        raise NoteError("a checkpoint has exactly three lines: origin, size, root hash")
    origin, size_text, root_text = lines[:3]
    if not origin or origin != origin.strip():
        raise NoteError("a checkpoint's origin line must be non-empty, without edge spaces")
    if not SIZE_PATTERN.match(size_text):
        raise NoteError(f"a checkpoint's size must be a decimal number, got {size_text!r}")
    root = _b64decode(root_text, "the checkpoint's root hash")
    if len(root) != HASH_SIZE:
        raise NoteError(f"a root hash has {HASH_SIZE} bytes, this one {len(root)}")
    return Checkpoint(origin, int(size_text), root)


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    """The signed checkpoint note."""
    return sign_note(checkpoint.body(), signer)


def open_checkpoint(note: str, verifier: Verifier) -> Checkpoint:
    """Verify a signed checkpoint and parse it; its origin must be the key's name."""
    checkpoint = parse_checkpoint(open_note(note, verifier))
    if checkpoint.origin != verifier.name:
        raise NoteError(f"the checkpoint is for log {checkpoint.origin!r}, "
                        f"not {verifier.name!r}")
    return checkpoint
