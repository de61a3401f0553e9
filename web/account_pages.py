"""A member's own account page: personal API tokens, created and revoked."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from fabhub.auth import current_member, login_required
from fabhub.members import MemberError
from fabhub.request_db import get_db
from fabhub.tokens import create_token, list_tokens, revoke_token
from fabhub.web.forms import EmptyForm, TokenForm

bp = Blueprint("account_pages", __name__)


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def tokens() -> str | tuple[str, int]:
    """List tokens; on POST create one and show its secret this once."""
    member = current_member()
    assert member is not None
    form = TokenForm()
    new_token = None
    status = 200
    if form.validate_on_submit():
        _, new_token = create_token(get_db(), member.id, form.label.data or "")
        form = TokenForm(formdata=None)
    elif form.is_submitted():
        status = 400
    return render_template(
        "tokens.html", form=form, revoke_form=EmptyForm(), new_token=new_token,
        tokens=list_tokens(get_db(), member.id),
    ), status


@bp.post("/account/tokens/<token_id>/revoke")
@login_required
def revoke(token_id: str) -> Response:
    """Revoke one of the member's own tokens."""
    member = current_member()
    assert member is not None
    try:
        revoke_token(get_db(), member.id, token_id)
    except MemberError:
        abort(404)
    flash(_("Token revoked; scripts that use it now get 401."), "info")
    return redirect(url_for("account_pages.tokens"))
