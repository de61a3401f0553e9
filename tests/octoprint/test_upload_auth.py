"""Who may use the OctoPrint-compatible endpoint, and how it picks the machine class."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fabhub.db import connect
from tests.conftest import login, make_token
from tests.hub.queue_fixtures import add_park
from tests.octoprint.test_upload_endpoint import PRINT


@pytest.fixture
def park(app: Flask) -> None:
    db = connect(app.config["DATABASE"])
    try:
        add_park(db, {"fdm-marlin": 1})
        db.conn.commit()
    finally:
        db.conn.close()


def upload(client: FlaskClient, data: bytes = PRINT, headers: dict | None = None, **form):
    body = {"file": (io.BytesIO(data), "part.gcode"), **form}
    return client.post("/api/files/local", data=body, content_type="multipart/form-data",
                       headers=headers or {})


def test_the_key_header_needs_no_csrf_and_is_taken_only_here(app: Flask, client: FlaskClient,
                                                              park: None) -> None:
    key = {"X-Api-Key": make_token(app, "ada")}
    answer = upload(client, headers=key, machine_class="fdm-small")
    assert answer.status_code == 201, answer.get_json()
    assert client.get("/api/v1/me", headers=key).status_code == 401


def test_a_session_without_key_still_needs_csrf(client: FlaskClient, park: None) -> None:
    login(client, "ada")
    answer = upload(client, machine_class="fdm-small")
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "csrf_failed"


def test_no_key_gets_octoprints_403(client: FlaskClient) -> None:
    answer = client.get("/api/version")
    assert answer.status_code == 403 and answer.get_json()["error"].startswith("You don't")


def test_machine_class_from_the_files_comment(app: Flask, client: FlaskClient,
                                              park: None) -> None:
    key = {"X-Api-Key": make_token(app, "ada")}
    answer = upload(client, b"; fabhub_machine_class = fdm-small\n" + PRINT, headers=key)
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["fabhub"]["machine_class"] == "fdm-small"


def test_no_machine_class_anywhere_is_refused_with_what_to_do(app: Flask,
                                                              client: FlaskClient) -> None:
    answer = upload(client, headers={"X-Api-Key": make_token(app, "ada")})
    assert answer.status_code == 400
    assert "OCTOPRINT_DEFAULT_MACHINE_CLASS" in answer.get_json()["error"]


def test_an_unknown_machine_class_is_refused(app: Flask, client: FlaskClient) -> None:
    answer = upload(client, headers={"X-Api-Key": make_token(app, "ada")},
                    machine_class="nonesuch")
    assert 400 <= answer.status_code < 500
    assert "nonesuch" in answer.get_json()["error"]
