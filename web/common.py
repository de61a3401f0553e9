"""Small helpers the page blueprints share: the viewer, durations, and refusals as field errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from fabhub.auth import current_member
from fabhub.members import Member
from fabhub.problems import Problem
from fabhub.web.core_messages import problem_text


def me() -> Member:
    """The logged-in member (views call this only behind login_required)."""
    member = current_member()
    assert member is not None
    return member


def duration(seconds: float | None) -> str:
    """Seconds as '2 h 05 min', '4 min 10 s' or '12 s'."""
    if seconds is None:
        return "—"
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


@contextmanager
def refusals_on(form: FlaskForm, default_field: str) -> Iterator[list[str]]:
    """Turn a library's :class:`Problem` into an error next to the field it names.

    The yielded list gets the message when the refusal names no field of the form.
    """
    general: list[str] = []
    try:
        yield general
    except Problem as exc:
        name = (exc.details or {}).get("field") if isinstance(exc.details, dict) else None
        target = getattr(form, name, None) if name else None
        if target is None:
            target = getattr(form, default_field, None)
        message = problem_text(exc)
        if target is None:
            general.append(message)
        else:
            target.errors = [*target.errors, message] if isinstance(
                target.errors, list) else [message]


def translated_states() -> dict[str, str]:
    """Job and machine state names as people read them, in the current language."""
    return {
        "queued": _("queued"), "assigned": _("assigned"), "running": _("running"),
        "paused": _("paused"), "completed": _("completed"), "failed": _("failed"),
        "cancelled": _("cancelled"), "interrupted": _("interrupted"), "idle": _("idle"),
        "busy": _("busy"), "offline": _("offline"), "error": _("error"),
        "maintenance": _("maintenance"), "to_check": _("to check"),
        "needs_clearing": _("needs clearing"),
    }


def init_app(app: Flask, extra_filters: dict[str, Callable[..., Any]] | None = None) -> None:
    """Register the template filters the pages use."""
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.globals["state_names"] = translated_states
    for name, func in (extra_filters or {}).items():
        app.jinja_env.filters[name] = func
