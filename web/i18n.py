"""Languages: English and French, chosen by the person's setting or the browser.

A person picks a language with the switcher in the page footer; the choice is
kept in a long-lived cookie (anonymous wall screens too). Without a choice the
browser's ``Accept-Language`` decides.
"""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, request, url_for
from flask_babel import Babel
from werkzeug.wrappers import Response

LANGUAGES: dict[str, str] = {"en": "English", "fr": "Français"}
COOKIE = "fabhub_lang"
ONE_YEAR_S = 365 * 86400

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    """The cookie's language if set and known, else the browser's best match."""
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


@bp.post("/language")
def choose() -> Response:
    """Remember a language choice and go back to where the person was."""
    lang = request.form.get("lang", "")
    back = request.form.get("next", "")
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("home_pages.home")
    response = redirect(back)
    if lang in LANGUAGES:
        response.set_cookie(COOKIE, lang, max_age=ONE_YEAR_S, samesite="Lax", httponly=True)
    return response


def init_app(app: Flask) -> None:
    """Install Flask-Babel with the package's translations."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    from pathlib import Path

    Babel(app, locale_selector=select_locale,
          default_translation_directories=str(Path(__file__).parent / "translations"))
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["current_locale"] = select_locale
    app.register_blueprint(bp)
