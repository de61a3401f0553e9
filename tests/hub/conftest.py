"""Fixtures for the hub's API tests: members as API clients, a printer, a small print."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fabhub.jobs.machine_profile import dump_profile, example_profile
from tests.conftest import make_token

SMALL_PRINT = b"""; a 20 mm square, two layers
M104 S210
M140 S60
G28
G90
M83
G1 Z0.2 F600
G1 X10 Y10 F3000
G1 X30 Y10 E1.0 F1200
G1 X30 Y30 E1.0
G1 X10 Y30 E1.0
G1 X10 Y10 E1.0
G1 Z0.4
G1 X30 Y10 E1.0
G1 X30 Y30 E1.0
M104 S0
"""
TOO_BIG = SMALL_PRINT.replace(b"X30 Y30", b"X400 Y30")


class Api:
    """A client that speaks JSON to the API as one member."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str):
        return self.client.get(path, headers=self.headers)

    def post(self, path: str, json=None, **kwargs):
        return self.client.post(path, json=json, headers=self.headers, **kwargs)

    def put(self, path: str, json=None):
        return self.client.put(path, json=json, headers=self.headers)

    def delete(self, path: str):
        return self.client.delete(path, headers=self.headers)

    def submit(self, data: bytes = SMALL_PRINT, machine_class: str = "fdm-small",
               material: str | None = "PLA", **headers: str):
        form = {"file": (io.BytesIO(data), "part.gcode"), "machine_class": machine_class}
        if material:
            form["material"] = material
        return self.client.post("/api/v1/jobs", data=form, content_type="multipart/form-data",
                                headers={**self.headers, **headers})


@pytest.fixture
def gina(app: Flask, client: FlaskClient) -> Api:
    return Api(client, make_token(app, "gina"))


@pytest.fixture
def ada(app: Flask) -> Api:
    return Api(app.test_client(), make_token(app, "ada"))


@pytest.fixture
def linus(app: Flask) -> Api:
    return Api(app.test_client(), make_token(app, "linus"))


@pytest.fixture
def printer(gina: Api) -> int:
    """One idle FDM printer of class fdm-small."""
    assert gina.post("/api/v1/machine-classes",
                     {"name": "fdm-small", "kind": "fdm"}).status_code == 201
    profile = dump_profile(example_profile("fdm-marlin"))
    created = gina.post("/api/v1/machines", {"name": "Prusa 1", "profile": profile})
    assert created.status_code == 201, created.get_json()
    machine_id = created.get_json()["id"]
    assert gina.post(f"/api/v1/machines/{machine_id}/state", {"state": "idle"}).status_code == 200
    return machine_id
