"""The hub's node API in-process: enrolment, heartbeats, claim, batches, end with receipt."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask

from fabhub.clock import utc_now
from fabhub.jobs.receipts import UsageReceipt, sign_receipt, utc_timestamp
from tests.hub.conftest import SMALL_PRINT, Api


@pytest.fixture
def setup(gina: Api, ada: Api, printer: int) -> dict:
    gina.post("/api/v1/certifications", {"username": "ada", "machine_class": "fdm-small"})
    job = ada.submit().get_json()
    assert ada.get(f"/api/v1/jobs/{job['id']}").get_json()["state"] == "assigned"
    registered = gina.post("/api/v1/nodes", {"machine_id": printer}).get_json()
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    enrolled = gina.client.post("/node/v1/enroll", json={
        "code": registered["enrolment_code"], "public_key": base64.b64encode(public).decode(),
        "hostname": "pi", "agent_version": "test"})
    assert enrolled.status_code == 201, enrolled.get_json()
    body = enrolled.get_json()
    node = Api(gina.client, body["token"])
    return {"job": job, "node": node, "node_id": body["node_id"], "key": key,
            "machine": printer, "code": registered["enrolment_code"]}


def receipt(setup: dict, outcome: str = "completed", busy: int = 60):
    start = utc_now() - timedelta(seconds=busy + 5)
    return sign_receipt(UsageReceipt(
        job_id=setup["job"]["id"], node_id=setup["node_id"], machine_id=setup["machine"],
        file_sha256=hashlib.sha256(SMALL_PRINT).hexdigest(), started_at=utc_timestamp(start),
        ended_at=utc_timestamp(start + timedelta(seconds=busy)), busy_s=busy, paused_s=0,
        material_mg=1200, outcome=outcome), setup["key"])


def test_enrolment_code_works_once(setup: dict, gina: Api) -> None:
    again = gina.client.post("/node/v1/enroll", json={
        "code": setup["code"], "public_key": base64.b64encode(bytes(32)).decode()})
    assert again.status_code == 403
    assert again.get_json()["error"]["code"] == "enrolment_refused"


def test_full_run_lands_in_the_ledger_once(setup: dict, app: Flask, ada: Api) -> None:
    node, job_id = setup["node"], setup["job"]["id"]
    assert node.post("/node/v1/heartbeat", {"machine_state": "idle",
                                            "telemetry": {}}).status_code == 200
    claimed = node.post("/node/v1/claim").get_json()
    assert claimed["job"]["id"] == job_id
    file = node.get(f"/node/v1/jobs/{job_id}/file")
    assert hashlib.sha256(file.data).hexdigest() == claimed["job"]["file_sha256"]
    at = utc_timestamp(utc_now())
    first = node.post(f"/node/v1/jobs/{job_id}/events", {"batch": 1, "events": [
        {"type": "started", "at": at},
        {"type": "progress", "at": at, "lines_acked": 5, "lines_total": 15, "percent": 33.3}]})
    assert first.status_code == 200
    assert ada.get(f"/api/v1/jobs/{job_id}").get_json()["state"] == "running"
    replay = node.post(f"/node/v1/jobs/{job_id}/events", {"batch": 1, "events": [
        {"type": "progress", "at": at, "lines_acked": 9}]})
    assert replay.status_code == 409
    assert replay.get_json()["error"]["code"] == "replayed_batch"
    gap = node.post(f"/node/v1/jobs/{job_id}/events", {"batch": 3, "events": [
        {"type": "progress", "at": at}]})
    assert gap.get_json()["error"]["details"]["expected"] == 2
    run = ada.get(f"/api/v1/jobs/{job_id}/run").get_json()["run"]
    assert run["lines_acked"] == 5
    signed = receipt(setup)
    body = {"outcome": "completed", "lines_acked": 15, "receipt": signed.to_dict()}
    ended = node.post(f"/node/v1/jobs/{job_id}/end", body)
    assert ended.status_code == 200, ended.get_json()
    again = node.post(f"/node/v1/jobs/{job_id}/end", body)
    assert again.get_json()["ledger_entry"] == ended.get_json()["ledger_entry"]
    other = receipt(setup, busy=90)
    conflict = node.post(f"/node/v1/jobs/{job_id}/end",
                         {"outcome": "completed", "receipt": other.to_dict()})
    assert conflict.status_code == 409
    machine = ada.get(f"/api/v1/machines/{setup['machine']}").get_json()
    assert machine["state"] == "needs_clearing"
    from fabhub.db import opened

    with opened(app.config["DATABASE"]) as db:
        uses = db.execute("SELECT count(*), sum(seconds) FROM ledger_facts WHERE action = 'use'"
                          ).fetchone()
        assert tuple(uses) == (1, 60)
        assert db.execute("SELECT count(*) FROM ledger_flags").fetchone()[0] == 1


def test_bad_signature_changes_nothing(setup: dict, app: Flask) -> None:
    node, job_id = setup["node"], setup["job"]["id"]
    node.post("/node/v1/claim")
    signed = receipt(setup).to_dict()
    signed["signature"] = base64.b64encode(bytes(64)).decode()
    response = node.post(f"/node/v1/jobs/{job_id}/end",
                         {"outcome": "completed", "receipt": signed})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_receipt"
    from fabhub.db import opened

    with opened(app.config["DATABASE"]) as db:
        assert db.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 0
        assert db.execute("SELECT state FROM jobs WHERE id = ?", [job_id]).fetchone()[0] == \
            "assigned"


def test_node_cannot_touch_another_machines_job(setup: dict, gina: Api, ada: Api) -> None:
    profile = gina.get(f"/api/v1/machines/{setup['machine']}").get_json()["profile"]
    other = gina.post("/api/v1/machines", {"name": "Prusa 2", "profile": profile}).get_json()
    code = gina.post("/api/v1/nodes", {"machine_id": other["id"]}).get_json()["enrolment_code"]
    token = gina.client.post("/node/v1/enroll", json={
        "code": code, "public_key": base64.b64encode(bytes(range(32))).decode()}
    ).get_json()["token"]
    stranger = Api(gina.client, token)
    job_id = setup["job"]["id"]
    assert stranger.post("/node/v1/claim").status_code == 204
    assert stranger.get(f"/node/v1/jobs/{job_id}/file").status_code == 404
    response = stranger.post(f"/node/v1/jobs/{job_id}/events",
                             {"batch": 1, "events": [{"type": "started", "at": "x"}]})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_your_job"


def test_commands_reach_the_node(setup: dict, ada: Api, gina: Api) -> None:
    node, job_id = setup["node"], setup["job"]["id"]
    node.post("/node/v1/claim")
    node.post(f"/node/v1/jobs/{job_id}/events", {"batch": 1, "events": [
        {"type": "started", "at": utc_timestamp(utc_now())}]})
    assert ada.post(f"/api/v1/jobs/{job_id}/pause").status_code == 200
    stop = gina.post(f"/api/v1/machines/{setup['machine']}/emergency-stop")
    assert stop.status_code == 200
    polled = node.get("/node/v1/commands?wait=1").get_json()["commands"]
    assert [c["type"] for c in polled] == ["emergency_stop", "pause"]
    ack = node.post(f"/node/v1/commands/{polled[0]['id']}/ack", {"result": "done"})
    assert ack.status_code == 200
    left = node.get("/node/v1/commands").get_json()["commands"]
    assert [c["type"] for c in left] == ["pause"]


def test_revoked_or_wrong_token_gets_401(setup: dict, gina: Api) -> None:
    assert Api(gina.client, "fhn_nope_nope").post("/node/v1/claim").status_code == 401
    gina.delete(f"/api/v1/nodes/{setup['node_id']}")
    assert setup["node"].post("/node/v1/claim").status_code == 401


def test_lease_expiry_interrupts_and_a_late_receipt_still_lands(setup: dict, app: Flask,
                                                                ada: Api) -> None:
    import time

    from fabhub.db import opened
    from fabhub.nodes.runs import reap_expired

    node, job_id = setup["node"], setup["job"]["id"]
    node.post("/node/v1/claim")
    node.post(f"/node/v1/jobs/{job_id}/events", {"batch": 1, "events": [
        {"type": "started", "at": utc_timestamp(utc_now())}]})
    with opened(app.config["DATABASE"]) as db:
        assert reap_expired(db, time.time() + 3600, not_before_epoch=time.time() + 7200) == []
        assert reap_expired(db, time.time() + 3600, not_before_epoch=0) == [job_id]
        note = db.execute("SELECT message FROM notifications").fetchone()[0]
    assert "stopped reporting" in note
    assert ada.get(f"/api/v1/jobs/{job_id}").get_json()["state"] == "interrupted"
    ended = node.post(f"/node/v1/jobs/{job_id}/end", {
        "outcome": "completed", "lines_acked": 15, "receipt": receipt(setup).to_dict()})
    assert ended.status_code == 200
    assert ada.get(f"/api/v1/jobs/{job_id}").get_json()["state"] == "completed"


@pytest.mark.parametrize("wait", ["nan", "NaN", "inf", "-1", "26", "1e9", "soon", ""])
def test_a_long_poll_with_a_wait_out_of_range_is_refused_at_once(setup: dict,
                                                                 wait: str) -> None:
    answer = setup["node"].get(f"/node/v1/commands?wait={wait}")
    assert answer.status_code == 422, answer.get_data(as_text=True)
    error = answer.get_json()["error"]
    assert error["details"]["field"] == "wait" and "from 0 to 25" in error["message"]
