"""Fixtures in the manner of Flask's tutorial: a fresh instance and database per test."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from fabhub import members
from fabhub.app import create_app
from fabhub.db import connect
from fabhub.instance import init_instance

PASSWORD = "correct horse battery"
CSRF_PATTERN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    """An initialised instance folder with a gatekeeper, two makers and an admin."""
    return populated_instance(tmp_path / "instance")


def populated_instance(path: Path) -> Path:
    """Initialise an instance at ``path`` with a gatekeeper, two makers and an admin."""
    init_instance(path)
    db = connect(path / "fabhub.sqlite3")
    try:
        members.add_member(db, "gina", PASSWORD, "gatekeeper", "Gina Gatekeeper")
        members.add_member(db, "ada", PASSWORD, "maker", "Ada Maker")
        members.add_member(db, "linus", PASSWORD, "maker", "Linus Maker")
        members.add_member(db, "root", PASSWORD, "admin", "Root Admin")
    finally:
        db.conn.close()
    return path


class SchedulingClient(FlaskClient):
    """A test client that, once each request is answered, runs the scheduling pass it asked
    for: the step the hub's scheduler loop runs in its own thread (``run_pending``)."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        """Send the request, then run the pending pass, as the loop would soon after."""
        response = super().open(*args, **kwargs)
        self.application.extensions["fabhub.dispatcher"].run_pending()
        return response


@pytest.fixture
def app(instance: Path) -> Iterator[Flask]:
    """The hub on the test instance; its clients run pending scheduling passes."""
    application = create_app({"TESTING": True}, instance=instance)
    application.test_client_class = SchedulingClient
    yield application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client with its own cookie jar."""
    return app.test_client()


@pytest.fixture
def runner() -> CliRunner:
    """A click runner for the ``fabhub`` command (pass ``--instance`` yourself)."""
    return CliRunner()


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """Fetch ``path`` and return the CSRF token embedded in its form."""
    page = client.get(path).get_data(as_text=True)
    match = CSRF_PATTERN.search(page)
    assert match, f"no csrf_token on {path}"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD):
    """Log ``client`` in through the real form; return the response."""
    token = csrf_token(client)
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def make_token(app: Flask, username: str, label: str = "test") -> str:
    """Create an API token for ``username`` directly in the database."""
    from fabhub.tokens import create_token

    db = connect(app.config["DATABASE"])
    try:
        member = members.require_member(db, username)
        return create_token(db, member.id, label)[1]
    finally:
        db.conn.close()


@pytest.fixture
def make_lab(tmp_path: Path, instance: Path) -> Iterator[Callable[..., Any]]:
    """Build a :class:`Lab` (hub started) for the given example profiles; closed afterwards.

    Labs built with a ``name`` get their own folder and instance (their own hub and
    database), so one test can run independent labs side by side.
    """
    from tests.node.lab import Lab

    labs: list[Lab] = []

    def build(profiles: list[str], command_time_s: float = 0.01, name: str | None = None) -> Any:
        root = tmp_path / name if name else tmp_path
        own = populated_instance(root / "instance") if name else instance
        lab = Lab(root, own, profiles, command_time_s)
        labs.append(lab)
        lab.hub.start()
        return lab

    yield build
    for lab in labs:
        lab.close()
