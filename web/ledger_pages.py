"""The commons ledger for gatekeepers: checkpoint, verify now, export, proofs, corrections,
refused receipts."""

from __future__ import annotations

import io
import json
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _

from fabhub.auth import role_required
from fabhub.ledger import checkpoints, corrections, export, intake, store
from fabhub.ledger.keys import load_verifier
from fabhub.ledger.verification import verify_ledger, verify_receipts
from fabhub.request_db import get_db
from fabhub.web.admin_forms import CorrectionForm, ProofForm
from fabhub.web.common import me
from fabhub.web.forms import EmptyForm

bp = Blueprint("ledger_pages", __name__)

LEDGER_ERRORS = (store.LedgerError, checkpoints.CheckpointError, ValueError)
FLAGS_SHOWN = 100  # the most recent refused receipts on the page; `fabhub ledger flags` has all


def _page(proof: dict | None = None, report: list[str] | None = None,
          proof_form: ProofForm | None = None, correction_form: CorrectionForm | None = None,
          status: int = 200) -> tuple[str, int]:
    db = get_db()
    return render_template(
        "ledger.html", latest=checkpoints.latest(db), size=store.tree_size(db),
        empty=EmptyForm(), proof=proof, report=report,
        flags=intake.recent_flags(db, FLAGS_SHOWN),
        proof_form=proof_form or ProofForm(prefix="proof"),
        correction_form=correction_form or CorrectionForm(prefix="fix")), status


@bp.get("/ledger")
@role_required("gatekeeper")
def ledger() -> tuple[str, int]:
    """The ledger's head, its latest checkpoint and the tools."""
    return _page()


@bp.post("/ledger/verify")
@role_required("gatekeeper")
def verify() -> tuple[str, int]:
    """Recompute every hash, check every checkpoint and every use entry's receipt now."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    db = get_db()
    report = verify_ledger(db, load_verifier(Path(current_app.instance_path)), parallel=False)
    return _page(report=[*report.summary(), *verify_receipts(db).summary()])


@bp.get("/ledger/export.<fmt>")
@role_required("gatekeeper")
def download(fmt: str) -> Response:
    """The whole ledger as CSV or JSON-LD."""
    if fmt not in ("csv", "jsonld"):
        abort(404)
    out = io.StringIO()
    export.export(get_db(), fmt, out)
    mimetype = "text/csv" if fmt == "csv" else "application/ld+json"
    return Response(out.getvalue(), mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="ledger.{fmt}"'})


@bp.post("/ledger/proof")
@role_required("gatekeeper")
def proof() -> tuple[str, int]:
    """The inclusion proof of one entry in the latest checkpoint."""
    form = ProofForm(prefix="proof")
    if not form.validate_on_submit():
        return _page(proof_form=form, status=422)
    db = get_db()
    latest = checkpoints.latest(db)
    if latest is None or latest.size <= form.entry.data:
        form.entry.errors = [_("No checkpoint covers this entry yet; wait for the next "
                               "checkpoint or pick a smaller number.")]
        return _page(proof_form=form, status=422)
    result = store.inclusion_proof(db, form.entry.data, latest.size)
    result.verify()
    text = json.dumps({"proof": result.to_dict(), "checkpoint": latest.note}, indent=1)
    return _page(proof={"entry": form.entry.data, "size": latest.size, "text": text},
                 proof_form=form)


@bp.post("/ledger/corrections")
@role_required("gatekeeper")
def correct() -> Response | tuple[str, int]:
    """Append a correction that points to the entry it corrects."""
    form = CorrectionForm(prefix="fix")
    if not form.validate_on_submit():
        return _page(correction_form=form, status=422)
    try:
        entry = corrections.correct(get_db(), form.entry.data, form.reason.data,
                                    quantity=form.quantity.data, note=form.note.data)
    except LEDGER_ERRORS as exc:
        field = form.quantity if "quantity" in str(exc) else form.entry
        field.errors = [str(exc)]
        return _page(correction_form=form, status=422)
    flash(_("Correction recorded as entry %(n)s by %(who)s.", n=entry.index,
            who=me().username), "info")
    return redirect(url_for("ledger_pages.ledger"))
