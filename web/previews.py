"""Uploads waiting for the maker's confirmation: kept by a random token, analysed once."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import sqlite_utils

from fabhub.jobqueue.classes import require_machine_class
from fabhub.jobqueue.fit import unfit_machines
from fabhub.jobqueue.jobs import not_gcode
from fabhub.jobqueue.machines import list_machines
from fabhub.jobs.analysis import Analysis, AnalysisError, Finding, analyze_file, validate
from fabhub.problems import Problem

# A preview nobody confirmed is removed after a day.
PREVIEW_TTL_S = 86400
CHUNK = 1 << 16


@dataclass(frozen=True)
class Preview:
    """An analysed upload checked against the chosen class."""

    token: str
    analysis: Analysis
    findings: tuple[Finding, ...]
    blocking: bool

    @property
    def mass_g(self) -> float:
        """Filament mass over all tools."""
        return sum(f.mass_g for f in self.analysis.filament)


def preview_dir(instance_path: str) -> Path:
    """Where previews live (created on first use)."""
    path = Path(instance_path) / "previews"
    path.mkdir(exist_ok=True)
    return path


def preview_path(folder: Path, token: str) -> Path:
    """The file of one preview (the token is checked by the form)."""
    return folder / f"{token}.gcode"


def _sweep(folder: Path) -> None:
    cutoff = time.time() - PREVIEW_TTL_S
    for old in folder.glob("*.gcode"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)


def store(folder: Path, upload: BinaryIO, max_bytes: int) -> str:
    """Copy an upload into the preview folder; return its token."""
    _sweep(folder)
    token = secrets.token_urlsafe(24)
    size = 0
    with open(preview_path(folder, token), "wb") as out:
        while chunk := upload.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                out.close()
                preview_path(folder, token).unlink(missing_ok=True)
                raise Problem(413, "payload_too_large", "The file is larger than this hub "
                              "accepts; send a smaller file.", {"field": "file"})
            out.write(chunk)
    return token


def analyse(db: sqlite_utils.Database, folder: Path, token: str, machine_class: str,
            material: str | None) -> Preview:
    """Analyse a stored upload and check it against every machine of the class."""
    require_machine_class(db, machine_class)
    path = preview_path(folder, token)
    try:
        analysis = analyze_file(path)
    except AnalysisError as exc:
        path.unlink(missing_ok=True)
        raise not_gcode(exc) from exc
    chosen = material or analysis.material_hint
    fit = unfit_machines(db, analysis, machine_class, chosen)
    findings: tuple[Finding, ...] = ()
    if fit.blocking:
        findings = next(iter(fit.blocking.values()))
    else:
        profiles = [m.profile for m in list_machines(db) if m.machine_class == machine_class]
        if profiles:
            findings = tuple(validate(analysis, profiles[0], chosen))
    return Preview(token, analysis, findings, fit.all_unfit)
