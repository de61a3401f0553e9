"""Fixtures for the page tests: a small lab with a printer, a certified maker and a job."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fabhub.db import opened
from fabhub.jobqueue import access, classes, machines
from fabhub.jobqueue.jobs import Submission, submit_job
from fabhub.jobs.machine_profile import example_profile
from fabhub.members import require_member
from tests.conftest import login
from tests.hub.conftest import SMALL_PRINT


@dataclass(frozen=True)
class Lab:
    """Ids of what the ``lab`` fixture created."""

    machine_id: int
    job_id: int
    node_id: int


def build_lab(app: Flask) -> Lab:
    """A class fdm-small, an idle printer, ada certified with one job, a node."""
    from fabhub.nodes import registry

    with opened(app.config["DATABASE"]) as db:
        gina = require_member(db, "gina")
        ada = require_member(db, "ada")
        classes.add_machine_class(db, "fdm-small", "fdm")
        machine = machines.add_machine(db, "Prusa 1", example_profile("fdm-marlin"), gina.id)
        machines.set_manual_state(db, machine.id, "idle", "", gina.id)
        access.certify(db, ada.id, "fdm-small", gina.id)
        job, _ = submit_job(db, Path(app.config["FILES_DIR"]), ada, io.BytesIO(SMALL_PRINT),
                            Submission("fdm-small", "part.gcode", material="PLA"),
                            app.config["MAX_CONTENT_LENGTH"])
        node, _code = registry.register(db, machine.id, "pi", gina.id)
    return Lab(machine.id, job.id, node.id)


@pytest.fixture
def lab(app: Flask) -> Lab:
    """The small lab, built through the hub's libraries."""
    return build_lab(app)


def client_as(app: Flask, username: str | None) -> FlaskClient:
    """A test client logged in as ``username`` (anonymous for None)."""
    client = app.test_client()
    if username:
        assert login(client, username).status_code == 302
    return client
