"""Gatekeepers' node pages: register a node (one-time enrolment code), revoke, last heartbeat."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from wtforms import SelectChoice

from fabhub.auth import role_required
from fabhub.jobqueue.machines import list_machines
from fabhub.nodes import registry
from fabhub.request_db import get_db
from fabhub.web.admin_forms import NodeForm
from fabhub.web.common import me
from fabhub.web.forms import EmptyForm

bp = Blueprint("node_pages", __name__)


def _form() -> NodeForm:
    form = NodeForm()
    form.machine_id.choices = [SelectChoice(m.id, m.name) for m in list_machines(get_db())]
    return form


@bp.route("/nodes", methods=["GET", "POST"])
@role_required("gatekeeper")
def nodes() -> tuple[str, int]:
    """Every node with its machine and last heartbeat; a form to register one more."""
    db = get_db()
    form = _form()
    code = None
    if form.validate_on_submit():
        _node, code = registry.register(db, form.machine_id.data, form.name.data or "", me().id)
    names = {m.id: m.name for m in list_machines(db)}
    status = 422 if form.errors else 200
    return render_template("nodes.html", nodes=registry.list_nodes(db), names=names, form=form,
                           code=code, empty=EmptyForm()), status


@bp.post("/nodes/<int:node_id>/revoke")
@role_required("gatekeeper")
def revoke(node_id: int) -> Response:
    """Revoke a node: its token stops working at once."""
    if EmptyForm().validate_on_submit():
        registry.revoke(get_db(), node_id)
        flash(_("Node %(id)s revoked.", id=node_id), "info")
    return redirect(url_for("node_pages.nodes"))
