"""The pages people use: blueprints, Jinja templates and static files."""

from __future__ import annotations

from flask import Blueprint, Flask

from fabhub.web import (
    account_pages,
    auth_pages,
    board_pages,
    common,
    core_messages,
    dashboard_pages,
    home_pages,
    i18n,
    job_pages,
    ledger_pages,
    machine_pages,
    maker_pages,
    member_pages,
    node_pages,
    quota_pages,
    reasons,
    reservation_pages,
    tuning_pages,
)

# Owns the templates and /static for every page blueprint.
site = Blueprint(
    "site", __name__, template_folder="templates", static_folder="static",
    static_url_path="/static",
)


def register(app: Flask) -> None:
    """Register every page blueprint on ``app``."""
    app.register_blueprint(site)
    i18n.init_app(app)
    common.init_app(app)
    app.jinja_env.globals["wait_reason"] = reasons.wait_reason
    app.jinja_env.globals["finding_text"] = core_messages.finding_text
    for module in (auth_pages, home_pages, account_pages, member_pages, maker_pages, job_pages,
                   machine_pages, node_pages, reservation_pages, ledger_pages, dashboard_pages,
                   board_pages, quota_pages, tuning_pages):
        app.register_blueprint(module.bp)
