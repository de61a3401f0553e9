"""Gatekeepers' member pages: roles, certifications with expiry, member class and quotas."""

from __future__ import annotations

from datetime import UTC, datetime, time

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from wtforms import SelectChoice

from fabhub import members as member_store
from fabhub.auth import role_required
from fabhub.clock import utc_now
from fabhub.jobqueue import access, classes
from fabhub.members import MemberError, list_members
from fabhub.problems import Problem
from fabhub.request_db import get_db
from fabhub.scheduling import request_pass
from fabhub.web.admin_forms import CertifyForm, MemberClassForm, RoleForm
from fabhub.web.common import me
from fabhub.web.forms import EmptyForm

bp = Blueprint("member_pages", __name__)


@bp.get("/members")
@role_required("gatekeeper")
def members() -> str:
    """Every member with role and status."""
    return render_template("members.html", members=list_members(get_db()))


def _forms() -> tuple[RoleForm, CertifyForm, MemberClassForm]:
    db = get_db()
    certify = CertifyForm(prefix="cert")
    certify.machine_class.choices = [SelectChoice(c.name, c.name)
                                     for c in classes.list_machine_classes(db)]
    member_class = MemberClassForm(prefix="mc")
    member_class.member_class.choices = [SelectChoice(c.name, c.name)
                                         for c in classes.list_member_classes(db)]
    return RoleForm(prefix="role"), certify, member_class


def _render(username: str, forms: tuple[RoleForm, CertifyForm, MemberClassForm],
            status: int = 200) -> tuple[str, int]:
    db = get_db()
    member = member_store.find_by_username(db, username)
    if member is None:
        abort(404)
    role, certify, member_class = forms
    if not role.is_submitted():
        role.role.data = member.role
    current_class = classes.member_class_of(db, member.id)
    if not member_class.is_submitted():
        member_class.member_class.data = current_class.name
    return render_template(
        "member.html", member=member, role_form=role, certify_form=certify,
        class_form=member_class, empty=EmptyForm(), current_class=current_class,
        certifications=access.list_certifications(db, member.id),
        now=utc_now().isoformat()), status


@bp.get("/members/<username>")
@role_required("gatekeeper")
def member(username: str) -> tuple[str, int]:
    """One member: role, certifications, member class."""
    return _render(username, _forms())


@bp.post("/members/<username>/role")
@role_required("gatekeeper")
def set_role(username: str) -> Response | tuple[str, int]:
    """Change a member's role."""
    forms = _forms()
    if forms[0].validate_on_submit():
        try:
            member_store.set_role(get_db(), username, forms[0].role.data)
        except (MemberError, Problem) as exc:
            forms[0].role.errors = [str(getattr(exc, "message", exc))]
            return _render(username, forms, 422)
        flash(_("Role changed."), "info")
        return redirect(url_for("member_pages.member", username=username))
    return _render(username, forms, 422)


@bp.post("/members/<username>/certifications")
@role_required("gatekeeper")
def certify(username: str) -> Response | tuple[str, int]:
    """Certify the member on a machine class (until an optional date, end of that day UTC)."""
    forms = _forms()
    form = forms[1]
    db = get_db()
    found = member_store.find_by_username(db, username)
    if found is None:
        abort(404)
    if form.validate_on_submit():
        expires = (datetime.combine(form.expires_on.data, time(23, 59, 59), tzinfo=UTC)
                   if form.expires_on.data else None)
        if expires is not None and expires <= utc_now():
            form.expires_on.errors = [_("The expiry date must lie in the future.")]
            return _render(username, forms, 422)
        try:
            access.certify(db, found.id, form.machine_class.data, me().id, expires)
        except Problem as exc:
            form.machine_class.errors = [exc.message]
            return _render(username, forms, 422)
        request_pass(get_db())
        flash(_("%(name)s is certified on %(cls)s.", name=username,
                cls=form.machine_class.data), "info")
        return redirect(url_for("member_pages.member", username=username))
    return _render(username, forms, 422)


@bp.post("/members/<username>/certifications/<int:cert_id>/revoke")
@role_required("gatekeeper")
def revoke(username: str, cert_id: int) -> Response:
    """Revoke one certification."""
    if EmptyForm().validate_on_submit():
        access.revoke_certification(get_db(), cert_id)
        request_pass(get_db())
        flash(_("Certification revoked."), "info")
    return redirect(url_for("member_pages.member", username=username))


@bp.post("/members/<username>/class")
@role_required("gatekeeper")
def set_class(username: str) -> Response | tuple[str, int]:
    """Put the member into a member class (its quotas apply)."""
    forms = _forms()
    form = forms[2]
    if form.validate_on_submit():
        try:
            classes.assign_member_class(get_db(), username, form.member_class.data)
        except Problem as exc:
            form.member_class.errors = [exc.message]
            return _render(username, forms, 422)
        request_pass(get_db())
        flash(_("Member class changed."), "info")
        return redirect(url_for("member_pages.member", username=username))
    return _render(username, forms, 422)
