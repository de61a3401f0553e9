"""Who is asking: session cookies for people, ``Authorization: Bearer`` for scripts.

Views marked :func:`api_key_header` (the OctoPrint-compatible upload) also take the
token in ``X-Api-Key``, OctoPrint's header. Requests authenticated by a token are
exempt from CSRF checks (a browser never attaches one by itself); every other unsafe
request must carry a CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort, current_app, g, request, session
from flask_wtf.csrf import CSRFProtect

from fabhub.errors import ApiError
from fabhub.members import Member, get_member
from fabhub.request_db import get_db
from fabhub.tokens import authenticate_token

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
csrf = CSRFProtect()


def current_member() -> Member | None:
    """The member making this request, or None when anonymous."""
    return g.get("member")


NODE_PREFIX = "/node/"
API_KEY_HEADER = "X-Api-Key"


def api_key_header(view: F) -> F:
    """Let ``view`` take a personal token in ``X-Api-Key`` as well. A request that sends
    that header is authenticated by it alone (a wrong key leaves it anonymous) and needs
    no CSRF token."""
    view.accepts_api_key_header = True  # type: ignore[attr-defined]
    return view


def _accepts_api_key_header() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "accepts_api_key_header", False))


def _load_member() -> None:
    g.member = None
    g.via_token = False
    if request.path.startswith(NODE_PREFIX):
        # Nodes authenticate with their own tokens (fabhub.api_node); no cookies there.
        g.via_token = True
        return
    key = request.headers.get(API_KEY_HEADER)
    if key is not None and _accepts_api_key_header():
        g.via_token = True
        g.member = authenticate_token(get_db(), key.strip())
        return
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized",
                           "Use 'Authorization: Bearer <token>' with a personal API token.")
        member = authenticate_token(get_db(), token.strip())
        if member is None:
            raise ApiError(401, "unauthorized",
                           "This API token is unknown, revoked, or its member is disabled.")
        g.member = member
        g.via_token = True
        return
    member_id = session.get("member_id")
    if member_id is not None:
        member = get_member(get_db(), member_id)
        if member is None or member.disabled:
            session.clear()
        else:
            g.member = member


def _check_csrf() -> None:
    if request.method not in SAFE_METHODS and not g.get("via_token"):
        csrf.protect()


def login_required(view: F) -> F:
    """Refuse anonymous requests with 401 (pages redirect to the login form)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_member() is None:
            abort(401)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def role_required(role: str) -> Callable[[F], F]:
    """Refuse members below ``role`` with 403 (and anonymous requests with 401)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            member = current_member()
            if member is None:
                abort(401)
            if not member.has_role(role):
                raise ApiError(403, "forbidden", f"This needs the {role} role.")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def log_in(member: Member) -> None:
    """Start a fresh session for ``member`` (a new session defeats fixation)."""
    session.clear()
    session.permanent = True
    session["member_id"] = member.id


def log_out() -> None:
    """End the current session."""
    session.clear()


def init_app(app: Flask) -> None:
    """Install authentication and CSRF checks on every request."""
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    csrf.init_app(app)
    app.before_request(_load_member)
    app.before_request(_check_csrf)
    app.jinja_env.globals["current_member"] = current_member
