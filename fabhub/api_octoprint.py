"""An OctoPrint-compatible upload endpoint, so a slicer's "send to OctoPrint" queues a job.

A slicer's OctoPrint physical printer pointed at the hub calls ``GET /api/version``,
``GET /api/server`` and ``POST /api/files/local`` (multipart ``file``; ``select`` and
``print`` are accepted and ignored: the scheduler decides when and where the job runs),
with the member's personal fabhub token in ``X-Api-Key``. The upload goes through the
same analysis, safety checks and quotas as any other (``submit_job``). Answers have
OctoPrint's shapes: ``201`` with ``files.local`` and ``done``, and ``{"error": ...}``
for refusals, a wrong key getting OctoPrint's own 403 message.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import IO, Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from werkzeug.exceptions import HTTPException

from fabhub import __version__
from fabhub.auth import api_key_header, current_member
from fabhub.jobqueue import jobs as job_store
from fabhub.members import Member
from fabhub.problems import Problem
from fabhub.request_db import get_db
from fabhub.scheduling import request_pass

bp = Blueprint("api_octoprint", __name__, url_prefix="/api")

COMPATIBLE_VERSION = "1.11.0"  # the OctoPrint release whose API these answers follow
API_VERSION = "0.1"
# OctoPrint's answer to a missing or wrong API key (werkzeug's Forbidden description).
FORBIDDEN = ("You don't have the permission to access the requested resource. It is either "
             "read-protected or not readable by the server.")
METADATA = re.compile(rb"^;\s*fabhub_machine_class\s*[=:]\s*([A-Za-z0-9_.-]+)\s*$", re.M)
METADATA_WINDOW = 64 * 1024


def octoprint_error(status: int, message: str, code: str | None = None) -> Response:
    """An error in OctoPrint's shape ``{"error": message}`` (plus fabhub's stable code)."""
    body: dict[str, Any] = {"error": message}
    if code:
        body["code"] = code
    response = jsonify(body)
    response.status_code = status
    return response


class _Refused(Exception):
    """Answer with :func:`octoprint_error`."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.response = octoprint_error(status, message, code)


@bp.errorhandler(_Refused)
def _refused(exc: _Refused) -> Response:
    return exc.response


@bp.errorhandler(Problem)
def _problem(exc: Problem) -> Response:
    return octoprint_error(exc.status, exc.message, exc.code)


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status == 413:
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        return octoprint_error(413, f"The file is larger than this hub accepts ({limit} "
                               "bytes); send a smaller file.", "payload_too_large")
    return octoprint_error(status, exc.description or "Request refused.")


def _member() -> Member:
    member = current_member()
    if member is None:
        raise _Refused(403, FORBIDDEN)
    return member


@bp.get("/version")
@api_key_header
def version() -> Response:
    """What OctoPrint's ``/api/version`` says; slicers check that ``text`` names OctoPrint."""
    _member()
    return jsonify(api=API_VERSION, server=COMPATIBLE_VERSION,
                   text=f"OctoPrint {COMPATIBLE_VERSION} compatible (fabhub {__version__})")


@bp.get("/server")
@api_key_header
def server() -> Response:
    """What OctoPrint's ``/api/server`` says."""
    _member()
    return jsonify(version=COMPATIBLE_VERSION, safemode=None)


def _machine_class(stream: IO[bytes]) -> str:
    """The form's ``machine_class``, else ``; fabhub_machine_class = NAME`` in the file's
    first or last 64 KiB, else the hub's ``OCTOPRINT_DEFAULT_MACHINE_CLASS``."""
    chosen = request.form.get("machine_class", "").strip()
    if not chosen:
        head = stream.read(METADATA_WINDOW)
        stream.seek(0, 2)
        size = stream.tell()
        stream.seek(max(size - METADATA_WINDOW, 0))
        found = METADATA.search(head) or METADATA.search(stream.read())
        stream.seek(0)
        chosen = found.group(1).decode() if found else \
            current_app.config["OCTOPRINT_DEFAULT_MACHINE_CLASS"]
    if not chosen:
        raise _Refused(400, "Which machine class should run this job? Add "
                       "'; fabhub_machine_class = NAME' to the slicer's start G-code, send a "
                       "'machine_class' form field, or ask the hub's admin to set "
                       "OCTOPRINT_DEFAULT_MACHINE_CLASS.", "invalid_field")
    return chosen


@bp.post("/files/local")
@api_key_header
def upload() -> tuple[Response, int]:
    """Queue the uploaded G-code for the key's member; answer like OctoPrint's upload."""
    member = _member()
    upload = request.files.get("file") if request.mimetype == "multipart/form-data" else None
    if upload is None or not upload.filename:
        raise _Refused(400, "No file to upload: send the G-code as multipart/form-data with "
                       "a 'file' part.", "invalid_field")
    filename = Path(upload.filename).name[:200]
    submission = job_store.Submission(
        machine_class=_machine_class(upload.stream), filename=filename,
        material=request.form.get("material", "").strip() or None,
        idempotency_key=request.headers.get("Idempotency-Key", "").strip()[:100] or None)
    db = get_db()
    job, created = job_store.submit_job(db, Path(current_app.config["FILES_DIR"]), member,
                                        upload.stream, submission,
                                        current_app.config["MAX_CONTENT_LENGTH"])
    if created:
        request_pass(db)
    job = job_store.get_job(db, job.id)
    resource = url_for("api_jobs.show", job_id=job.id, _external=True)
    body = {"files": {"local": {"name": filename, "path": filename, "origin": "local",
                                "refs": {"resource": resource}}},
            "done": True, "effectiveSelect": False, "effectivePrint": False,
            "fabhub": {"job_id": job.id, "state": job.state.value,
                       "machine_class": job.machine_class}}
    response = jsonify(body)
    response.headers["Location"] = resource
    return response, 201 if created else 200
