"""Uploaded G-code stored once by content hash, written so that a crash loses nothing.

An upload is first copied into ``tmp/`` while its SHA-256 is computed and
analysed there; once accepted it is renamed into place at
``<files>/<aa>/<sha256>.gcode`` BEFORE the job's database transaction, so a
committed job always has its file. A crash between the two leaves at worst an
unreferenced file (harmless, content-addressed); stale temporary files are
removed on a later upload.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from fabhub.problems import Problem

CHUNK = 1 << 20
STALE_TEMP_S = 3600


@dataclass(frozen=True)
class SpooledUpload:
    """An upload copied to a temporary file, with its digest and size."""

    path: Path
    sha256: str
    size: int


def stored_path(files_dir: Path, sha256: str) -> Path:
    """Where the file with this digest lives."""
    return files_dir / sha256[:2] / f"{sha256}.gcode"


def spool(files_dir: Path, stream: BinaryIO, max_bytes: int) -> SpooledUpload:
    """Copy ``stream`` to a temporary file, hashing it; refuse empty or oversized uploads."""
    tmp_dir = files_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale(tmp_dir)
    digest = hashlib.sha256()
    size = 0
    fd, name = tempfile.mkstemp(dir=tmp_dir, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise Problem(413, "payload_too_large",
                                  f"The file is larger than this hub accepts ({max_bytes} bytes).")
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        os.unlink(name)
        raise
    if size == 0:
        os.unlink(name)
        raise Problem(422, "empty_file", "The uploaded file is empty; choose a G-code file.",
                      {"field": "file"})
    return SpooledUpload(Path(name), digest.hexdigest(), size)


def keep(files_dir: Path, upload: SpooledUpload) -> Path:
    """Move a spooled upload into its content-addressed place (durably)."""
    target = stored_path(files_dir, upload.sha256)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        upload.path.unlink(missing_ok=True)
        return target
    with open(upload.path, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(upload.path, target)
    return target


def discard(upload: SpooledUpload) -> None:
    """Forget a spooled upload that was refused."""
    upload.path.unlink(missing_ok=True)


def _remove_stale(tmp_dir: Path) -> None:
    cutoff = time.time() - STALE_TEMP_S
    for leftover in tmp_dir.glob("*.part"):
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except FileNotFoundError:
            continue
