"""The pages people use: blueprints, Jinja templates and static files."""

from __future__ import annotations

from flask import Blueprint, Flask

from fabhub.web import account_pages, auth_pages, home_pages, member_pages

# Owns the templates and /static for every page blueprint.
site = Blueprint(
    "site", __name__, template_folder="templates", static_folder="static",
    static_url_path="/static",
)


def register(app: Flask) -> None:
    """Register every page blueprint on ``app``."""
    app.register_blueprint(site)
    for module in (auth_pages, home_pages, account_pages, member_pages):
        app.register_blueprint(module.bp)
