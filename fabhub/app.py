"""The hub's composition root: ``create_app`` assembles core, APIs and web pages."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from fabhub import (
    api_access,
    api_account,
    api_jobs,
    api_machines,
    api_node,
    api_nodes_admin,
    api_octoprint,
    auth,
    config,
    errors,
    health,
    periodic,
    request_db,
)
from fabhub.web import register as register_web


def create_app(
    test_config: dict[str, Any] | None = None, instance: str | Path | None = None
) -> Flask:
    """Build the hub application.

    Settings come from defaults, the instance folder's ``config.toml`` and ``FABHUB_*``
    variables; ``test_config`` overrides them all (tests pass ``DATABASE`` and
    ``SECRET_KEY`` here).
    """
    instance_dir = config.instance_path(instance)
    # Templates and static files belong to fabhub.web, which registers them.
    app = Flask("fabhub", instance_path=str(instance_dir), static_folder=None)
    settings = config.load(instance_dir)
    app.config.update(settings)
    if not (test_config and "SECRET_KEY" in test_config):
        app.config["SECRET_KEY"] = config.load_secret_key(instance_dir)
    if test_config:
        app.config.update(test_config)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(app.config["HTTPS"]),
        SESSION_COOKIE_NAME="fabhub_session",
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=app.config["SESSION_LIFETIME_S"]),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        JSON_SORT_KEYS=False,
    )
    if app.config["HTTPS"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    app.logger.setLevel(logging.INFO)

    request_db.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    app.register_blueprint(health.bp)
    for api in (api_account, api_jobs, api_machines, api_access, api_nodes_admin, api_node):
        app.register_blueprint(api.bp)
    app.register_blueprint(api_octoprint.bp)
    register_web(app)
    periodic.init_app(app)
    return app
