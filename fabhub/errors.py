"""Error responses: JSON under the APIs, HTML on pages, never a stack trace.

API errors have the shape ``{"error": {"code", "message", "details"}}``. A page
that needs a login redirects to the login page instead of showing a 401.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from fabhub.jobs.states import IllegalTransition
from fabhub.problems import Problem

JSON_PREFIXES: tuple[str, ...] = ("/api/", "/node/", "/healthz")

# A stable, documented code for each HTTP status that fabhub answers with.
STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Problem):
    """A refusal raised by an endpoint itself (the library raises plain Problems)."""


def wants_json() -> bool:
    """True if this request should get a JSON error rather than an HTML page."""
    if request.path.startswith(JSON_PREFIXES):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    """Build the JSON or HTML response for an error."""
    if wants_json():
        response = jsonify(
            {"error": {"code": code, "message": message, "details": details or {}}}
        )
    else:
        response = Response(
            render_template("error.html", status=status, code=code, message=message),
            mimetype="text/html",
        )
    response.status_code = status
    return response


def _http_message(exc: HTTPException) -> str:
    messages = {
        404: "There is nothing at this address. Check the URL.",
        405: f"{request.method} is not allowed here.",
        413: "The request body is larger than this hub accepts; send a smaller file.",
        415: "This content type is not accepted here.",
    }
    return messages.get(exc.code or 500, exc.description or "Request refused.")


def handle_problem(exc: Problem) -> Response:
    """Render a :class:`Problem` (an :class:`ApiError` included)."""
    return error_response(exc.status, exc.code, exc.message, exc.details)


def handle_csrf_error(exc: CSRFError) -> Response:
    """A form or cookie-authenticated call without a valid CSRF token."""
    return error_response(
        400, "csrf_failed",
        "The form's security token was missing or expired. Reload the page and try again.",
        {"reason": exc.description},
    )


def handle_http_exception(exc: HTTPException) -> Response:
    """Render werkzeug's HTTP errors in fabhub's forms."""
    status = exc.code or 500
    if status == 401 and not wants_json():
        return redirect(url_for("auth_pages.login", next=request.full_path.rstrip("?")))
    response = error_response(status, STATUS_CODES.get(status, "http_error"), _http_message(exc))
    if status == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def handle_unexpected(exc: Exception) -> Response:
    """Log an unexpected exception and answer 500 without its details."""
    from flask import current_app

    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", InternalServerError.description)


def handle_illegal_transition(exc: IllegalTransition) -> Response:
    """A state change the job's current state does not allow (it changed meanwhile)."""
    return error_response(409, "conflict", str(exc))


def init_app(app: Flask) -> None:
    """Install fabhub's error handlers on ``app``."""
    app.register_error_handler(Problem, handle_problem)
    app.register_error_handler(IllegalTransition, handle_illegal_transition)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
