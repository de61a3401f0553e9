"""OctoPrint's own client library uploads to fabhub's OctoPrint-compatible endpoint on a
real ``fabhub serve``; the job lands in the member's queue."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from fabhub import members
from fabhub.db import connect
from fabhub.instance import init_instance
from fabhub.tokens import create_token
from tests.conftest import PASSWORD
from tests.hub.conftest import SMALL_PRINT
from tests.hub.hub_process import HubProcess
from tests.hub.queue_fixtures import add_park
from tests.octoprint.octoprint_server import octoprint_python

MAX_BYTES = 64 * 1024
PRINT = b"; sent by a slicer\n; filament_type = PLA\n" + SMALL_PRINT
# OctoPrint's client library, run with OctoPrint's python: prints what fabhub answered.
CLIENT = """
import json, sys
from octoprint_client import Client
url, key, path = sys.argv[1:4]
client = Client(url, key)
answers = {}
for name, response in (("version", client.get("/api/version")),
                       ("server", client.get("/api/server")),
                       ("upload", client.upload("/api/files/local", path,
                                                additional={"select": "true", "print": "true"}))):
    answers[name] = [response.status_code, response.json()]
print(json.dumps(answers))
"""
# What a real OctoPrint 1.11 answers to a wrong key (seen in tests/octoprint/test_driver.py's
# OctoPrint too; test_wrong_key_matches_a_real_octoprint compares them).
OCTOPRINT_403 = {"error": "You don't have the permission to access the requested resource. "
                          "It is either read-protected or not readable by the server."}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, str]]:
    """A hub with maker ada (her token returned), one idle FDM printer, small uploads."""
    instance = Path(tmp_path_factory.mktemp("hub")) / "instance"
    init_instance(instance)
    db = connect(instance / "fabhub.sqlite3")
    try:
        ada = members.add_member(db, "ada", PASSWORD, "maker", "Ada Maker")
        token = create_token(db, ada.id, "slicer")[1]
        add_park(db, {"fdm-marlin": 1})
        db.conn.commit()
    finally:
        db.conn.close()
    process = HubProcess(instance, env={"FABHUB_OCTOPRINT_DEFAULT_MACHINE_CLASS": "fdm-small",
                                        "FABHUB_MAX_CONTENT_LENGTH": str(MAX_BYTES)})
    process.start()
    yield process, token
    process.stop()


def run_client(hub: HubProcess, key: str, path: Path) -> dict:
    done = subprocess.run([octoprint_python(), "-c", CLIENT, hub.url, key, str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_octoprint_client_upload_queues_the_job(hub: tuple[HubProcess, str],
                                                tmp_path: Path) -> None:
    process, token = hub
    path = tmp_path / "bracket.gcode"
    path.write_bytes(PRINT)
    answers = run_client(process, token, path)
    status, version = answers["version"]
    assert status == 200 and version["text"].startswith("OctoPrint") and version["api"]
    assert answers["server"][0] == 200 and "version" in answers["server"][1]
    status, body = answers["upload"]
    assert status == 201, body
    assert body["done"] is True
    assert body["files"]["local"]["name"] == "bracket.gcode"
    assert body["files"]["local"]["origin"] == "local"
    jobs = requests.get(process.url + "/api/v1/jobs", timeout=10,
                        headers={"Authorization": f"Bearer {token}"}).json()["jobs"]
    job = next(j for j in jobs if j["id"] == body["fabhub"]["job_id"])
    assert job["name"] == "bracket.gcode" and job["owner"] == "ada"
    assert job["machine_class"] == "fdm-small" and job["material"] == "PLA"
    assert job["state"] in ("queued", "assigned")


def test_a_wrong_key_gets_octoprints_403(hub: tuple[HubProcess, str], tmp_path: Path) -> None:
    process, token = hub
    path = tmp_path / "part.gcode"
    path.write_bytes(PRINT)
    answers = run_client(process, "fhp_0000_not-a-token", path)
    for name in ("version", "server", "upload"):
        assert answers[name] == [403, OCTOPRINT_403], name
    jobs = requests.get(process.url + "/api/v1/jobs", timeout=10,
                        headers={"Authorization": f"Bearer {token}"}).json()["jobs"]
    assert all(j["name"] != "part.gcode" for j in jobs)


def test_wrong_key_matches_a_real_octoprint(octoprint) -> None:
    answer = requests.get(octoprint.url + "/api/version", headers={"X-Api-Key": "wrong"},
                          timeout=10)
    assert [answer.status_code, answer.json()] == [403, OCTOPRINT_403]


@pytest.mark.parametrize(("content", "status", "words"), [
    (PRINT + b"G1 X20 Y20 E1.0\n" * (MAX_BYTES // 16), 413, "larger than this hub accepts"),
    (bytes(range(256)) * 64, 422, "binary"),
])
def test_oversized_and_binary_files_are_refused_clearly(
        hub: tuple[HubProcess, str], tmp_path: Path, content: bytes, status: int,
        words: str) -> None:
    process, _ = hub
    path = tmp_path / "bad.gcode"
    path.write_bytes(content)
    answer = run_client(process, hub[1], path)["upload"]
    assert answer[0] == status, answer
    assert words in answer[1]["error"].lower()
