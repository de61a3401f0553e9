"""Login and logout pages, with rate limits and one generic failure message."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from fabhub import login_throttle
from fabhub.auth import log_in, log_out
from fabhub.members import authenticate
from fabhub.request_db import get_db
from fabhub.web.forms import LoginForm

bp = Blueprint("auth_pages", __name__)


def _limits() -> login_throttle.ThrottleLimits:
    cfg = current_app.config
    return login_throttle.ThrottleLimits(
        cfg["LOGIN_MAX_FAILURES_ACCOUNT"], cfg["LOGIN_MAX_FAILURES_ADDRESS"],
        cfg["LOGIN_WINDOW_S"],
    )


def _safe_next(target: str | None) -> str:
    """Only follow ``next`` to a path on this hub, never to another site."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("home_pages.home")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | str:
    """Show the login form; on POST, check the password within the rate limits."""
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("login.html", form=form), (400 if request.method == "POST" else 200)
    db = get_db()
    username = form.username.data or ""
    address = request.remote_addr or "unknown"
    limits = _limits()
    wait = login_throttle.retry_after(db, username, address, limits)
    if wait:
        minutes = max(1, round(wait / 60))
        flash(_("Too many failed attempts. Try again in about %(minutes)s minute(s).",
                minutes=minutes), "error")
        return render_template("login.html", form=form), 429
    member = authenticate(db, username, form.password.data or "")
    if member is None:
        login_throttle.record_failure(db, username, address, window_s=limits.window_s)
        current_app.logger.info("failed login for account %r from %s", username, address)
        flash(_("Unknown username or wrong password."), "error")
        return render_template("login.html", form=form), 401
    login_throttle.clear_account(db, username)
    log_in(member)
    current_app.logger.info("login: %s from %s", member.username, address)
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
def logout() -> Response:
    """End the session (POST with a CSRF token, so no other site can log you out)."""
    log_out()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth_pages.login"))
