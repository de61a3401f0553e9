"""C2SP signed notes and checkpoints, including Go's sumdb/note reference vector."""

from __future__ import annotations

import pytest

from fabhub.ledger import note

GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
GO_NOTE = GO_TEXT + ("\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUg"
                     "YN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")


def test_go_reference_vector_byte_for_byte() -> None:
    signer = note.parse_signer(GO_SIGNER)
    assert signer.encode() == GO_SIGNER
    assert signer.verifier.encode() == GO_VERIFIER
    assert note.sign_note(GO_TEXT, signer) == GO_NOTE
    assert note.open_note(GO_NOTE, note.parse_verifier(GO_VERIFIER)) == GO_TEXT


def test_altered_or_foreign_notes_are_refused() -> None:
    verifier = note.parse_verifier(GO_VERIFIER)
    with pytest.raises(note.NoteError, match="does not verify"):
        note.open_note(GO_NOTE.replace("cryptography", "cryptographY"), verifier)
    other = note.generate_signer("PeterNeumann")
    with pytest.raises(note.NoteError, match="no signature by PeterNeumann"):
        note.open_note(note.sign_note(GO_TEXT, other), verifier)
    with pytest.raises(note.NoteError, match="blank line"):
        note.open_note(GO_TEXT, verifier)
    with pytest.raises(note.NoteError, match="ID does not match"):
        note.parse_verifier(GO_VERIFIER.replace("c74f20a3", "c74f20a4"))
    with pytest.raises(note.NoteError, match="form"):
        note.parse_verifier("nonsense")


def test_checkpoint_round_trip_and_origin_check() -> None:
    signer = note.generate_signer("example.org/log")
    checkpoint = note.Checkpoint("example.org/log", 12, bytes(range(32)))
    signed = note.sign_checkpoint(checkpoint, signer)
    root = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    assert signed.startswith(f"example.org/log\n12\n{root}\n\n")
    assert note.open_checkpoint(signed, signer.verifier) == checkpoint
    stranger = note.generate_signer("example.org/other")
    foreign = note.sign_checkpoint(note.Checkpoint("example.org/log", 1, bytes(32)), stranger)
    with pytest.raises(note.NoteError, match=r"not 'example\.org/other'"):
        note.open_checkpoint(foreign, stranger.verifier)
    for bad in ("x\n-1\nAA==\n", "x\n1\nAA==\n", "x\n1\n"):
        with pytest.raises(note.NoteError):
            note.parse_checkpoint(bad)
