"""The trust's ledger signing key in the instance folder.

``ledger_signing_key`` (mode 0600) holds the signer key in Go ``sumdb/note`` form;
``ledger_verifier_key`` holds the public verifier key that members keep to check
checkpoints without trusting the hub. The key's name is the log's origin.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from fabhub.ledger.note import (
    NoteError,
    Signer,
    Verifier,
    generate_signer,
    parse_signer,
    parse_verifier,
)

SIGNING_KEY_FILE = "ledger_signing_key"
VERIFIER_KEY_FILE = "ledger_verifier_key"


class LedgerKeyError(ValueError):
    """The ledger key is missing or unreadable; the message says what to do."""


def ensure_trust_key(instance: Path) -> str | None:
    """Create the trust's signing key if missing; return a line saying so, else None."""
    path = instance / SIGNING_KEY_FILE
    if path.exists():
        return None
    signer = generate_signer(f"fabhub.invalid/ledger/{secrets.token_hex(8)}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(signer.encode() + "\n")
    (instance / VERIFIER_KEY_FILE).write_text(signer.verifier.encode() + "\n", encoding="ascii")
    return (f"created the ledger's signing key ({SIGNING_KEY_FILE}, mode 0600) and its "
            f"public verifier key ({VERIFIER_KEY_FILE})")


def load_signer(instance: Path) -> Signer:
    """The trust's signer, or :class:`LedgerKeyError` saying to run ``fabhub init``."""
    path = instance / SIGNING_KEY_FILE
    if not path.exists():
        raise LedgerKeyError(f"{path} does not exist: run `fabhub --instance {instance} init`")
    try:
        return parse_signer(path.read_text(encoding="ascii"))
    except (NoteError, UnicodeDecodeError) as exc:
        raise LedgerKeyError(f"{path} is not a valid signing key: {exc}") from exc


def load_verifier(instance: Path) -> Verifier:
    """The trust's public verifier key (derived from the signing key on the hub)."""
    return load_signer(instance).verifier


def read_verifier(text_or_path: str) -> Verifier:
    """A verifier key given as the key string itself or as a file holding it."""
    path = Path(text_or_path)
    text = path.read_text(encoding="ascii") if path.is_file() else text_or_path
    try:
        return parse_verifier(text)
    except NoteError as exc:
        raise LedgerKeyError(f"not a verifier key (name+keyid+base64): {exc}") from exc
