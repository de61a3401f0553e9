"""End reports through the node API: receipts bounded by what the hub saw (issue 13, defect 5).

Each test plays a node over the real node API (Flask test client) and tries to put
more machine time in the ledger than the hub saw; an honest receipt still lands.
"""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask

from fabhub.clock import parse_utc, utc_now
from fabhub.db import opened
from fabhub.jobs.receipts import UsageReceipt, sign_receipt, utc_timestamp
from fabhub.ledger.intake import flags
from fabhub.nodes.runs import reap_expired
from tests.hub.conftest import SMALL_PRINT, Api

FILE_SHA = hashlib.sha256(SMALL_PRINT).hexdigest()


class Node:
    """A node of the printer, enrolled with its own key, speaking the node API."""

    def __init__(self, gina: Api, machine_id: int) -> None:
        code = gina.post("/api/v1/nodes", {"machine_id": machine_id}).get_json()
        self.key = Ed25519PrivateKey.generate()
        public = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        enrolled = gina.client.post("/node/v1/enroll", json={
            "code": code["enrolment_code"], "public_key": base64.b64encode(public).decode(),
            "hostname": "pi", "agent_version": "test"})
        assert enrolled.status_code == 201, enrolled.get_json()
        self.id = enrolled.get_json()["node_id"]
        self.machine_id = machine_id
        self.api = Api(gina.client, enrolled.get_json()["token"])
        self.batch = 0

    def claim(self) -> int:
        assert self.api.post("/node/v1/heartbeat", {"machine_state": "idle",
                                                    "telemetry": {}}).status_code == 200
        claimed = self.api.post("/node/v1/claim")
        assert claimed.status_code == 200, claimed.get_data(as_text=True)
        return claimed.get_json()["job"]["id"]

    def report(self, job_id: int, *events: dict[str, Any]) -> None:
        self.batch += 1
        sent = self.api.post(f"/node/v1/jobs/{job_id}/events",
                             {"batch": self.batch, "events": list(events)})
        assert sent.status_code == 200, sent.get_json()

    def end(self, job_id: int, started: datetime, ended: datetime, busy_s: int,
            paused_s: int = 0, outcome: str = "completed"):
        signed = sign_receipt(UsageReceipt(
            job_id=job_id, node_id=self.id, machine_id=self.machine_id, file_sha256=FILE_SHA,
            started_at=utc_timestamp(started), ended_at=utc_timestamp(ended), busy_s=busy_s,
            paused_s=paused_s, material_mg=1200, outcome=outcome), self.key)
        return self.api.post(f"/node/v1/jobs/{job_id}/end", {
            "outcome": outcome, "lines_acked": 15, "receipt": signed.to_dict()})


def at(moment: datetime) -> str:
    """An event time as the node agent writes it (milliseconds, Z)."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def lab(gina: Api, ada: Api, printer: int) -> dict[str, Any]:
    """Ada's print assigned to the printer, which has two enrolled nodes."""
    gina.post("/api/v1/certifications", {"username": "ada", "machine_class": "fdm-small"})
    job_id = ada.submit().get_json()["id"]
    assert ada.get(f"/api/v1/jobs/{job_id}").get_json()["state"] == "assigned"
    return {"job": job_id, "a": Node(gina, printer), "b": Node(gina, printer)}


def claimed_at(app: Flask, job_id: int, seconds_ago: int = 0) -> datetime:
    """When the hub saw the claim, moved ``seconds_ago`` into the past (a job running a while)."""
    with opened(app.config["DATABASE"]) as db:
        if seconds_ago:
            moment = (utc_now() - timedelta(seconds=seconds_ago)).replace(microsecond=0)
            db.execute("UPDATE job_runs SET claimed_at = ? WHERE job_id = ?",
                       [utc_timestamp(moment), job_id])
            db.conn.commit()
        return parse_utc(db.execute("SELECT claimed_at FROM job_runs WHERE job_id = ?",
                                    [job_id]).fetchone()[0])


def ledger_state(app: Flask, job_id: int) -> dict[str, Any]:
    with opened(app.config["DATABASE"]) as db:
        run = db.execute("SELECT outcome, ledger_index FROM job_runs WHERE job_id = ?",
                         [job_id]).fetchone()
        return {"uses": db.execute("SELECT count(*), coalesce(sum(seconds), 0) FROM "
                                   "ledger_facts WHERE action = 'use'").fetchone()[:],
                "flags": [f["reason"] for f in flags(db)],
                "job": db.execute("SELECT state FROM jobs WHERE id = ?",
                                  [job_id]).fetchone()[0],
                "run": tuple(run) if run else None}


def refused(response, figure: str) -> dict[str, Any]:
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "receipt_out_of_bounds"
    assert error["details"]["figure"] == figure, error
    return error


def test_a_receipt_from_2000_to_2099_is_refused_and_the_job_ends_without_hours(
        app: Flask, lab: dict) -> None:
    node, job_id = lab["a"], lab["job"]
    assert node.claim() == job_id
    node.report(job_id, {"type": "started", "at": at(utc_now())})
    century = node.end(job_id, datetime.fromisoformat("2000-01-01T00:00:00+00:00"),
                       datetime.fromisoformat("2099-12-31T23:59:59+00:00"), 876_600 * 3600)
    error = refused(century, "started_at")
    assert error["details"]["observed"]["claimed_by_node"] == node.id
    assert "No machine time was recorded" in error["message"]
    assert error["details"]["job_state"] == "completed"
    after = ledger_state(app, job_id)
    assert after["uses"] == (0, 0)
    assert after["flags"][0].startswith("the receipt's started_at 2000-01-01T00:00:00Z")
    # The machine really stopped: the job ends with the node's outcome, without hours.
    assert after["job"] == "completed" and after["run"] == ("completed", None)


def test_a_receipt_for_a_job_cancelled_before_any_claim_is_refused(
        app: Flask, lab: dict, ada: Api) -> None:
    node, job_id = lab["a"], lab["job"]
    assert ada.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 200
    now = utc_now()
    error = refused(node.end(job_id, now - timedelta(hours=1), now, 3600, outcome="cancelled"),
                    "job_id")
    assert "never claimed" in error["message"] and error["details"]["job_state"] == "cancelled"
    after = ledger_state(app, job_id)
    assert after["uses"] == (0, 0) and len(after["flags"]) == 1
    assert after["job"] == "cancelled" and after["run"] is None


def test_a_receipt_from_another_node_of_the_same_machine_is_refused(
        app: Flask, lab: dict) -> None:
    a, b, job_id = lab["a"], lab["b"], lab["job"]
    assert a.claim() == job_id
    a.report(job_id, {"type": "started", "at": at(utc_now())})
    now = utc_now()
    error = refused(b.end(job_id, now - timedelta(seconds=30), now, 30), "node_id")
    assert f"claimed by node {a.id}, not by node {b.id}" in error["message"]
    assert error["details"]["job_state"] == "running"
    after = ledger_state(app, job_id)
    assert after["uses"] == (0, 0) and len(after["flags"]) == 1
    assert after["job"] == "running" and after["run"] == (None, None)  # A's run goes on
    honest = a.end(job_id, now - timedelta(seconds=30), now, 30)
    assert honest.status_code == 200, honest.get_json()
    assert ledger_state(app, job_id)["uses"] == (1, 30)


@pytest.mark.parametrize(("start_s", "end_s", "busy_s", "figure"), [
    (-115, 115, 230, "busy_s + paused_s"),  # each end inside, the total beyond the interval
    (-200, -100, 10, "started_at"),  # started long before the claim
    (0, 3600, 10, "ended_at"),  # ends an hour in the future
])
def test_receipts_beyond_the_claim_to_end_interval_are_refused(
        app: Flask, lab: dict, start_s: int, end_s: int, busy_s: int, figure: str) -> None:
    node, job_id = lab["a"], lab["job"]
    node.claim()
    node.report(job_id, {"type": "started", "at": at(utc_now())})
    claim = claimed_at(app, job_id)
    error = refused(node.end(job_id, claim + timedelta(seconds=start_s),
                             claim + timedelta(seconds=end_s), busy_s), figure)
    assert error["details"]["tolerance_s"] == 120
    after = ledger_state(app, job_id)
    assert after["uses"] == (0, 0) and len(after["flags"]) == 1


def test_a_refused_receipt_whose_outcome_the_job_cannot_take_keeps_its_flag(
        app: Flask, lab: dict) -> None:
    node, job_id = lab["a"], lab["job"]
    node.claim()  # no "started" event: the job is still assigned and cannot complete
    now = utc_now()
    error = refused(node.end(job_id, now, now + timedelta(days=1), 86_400), "ended_at")
    assert error["details"]["job_state"] == "assigned"
    after = ledger_state(app, job_id)
    assert after["uses"] == (0, 0) and len(after["flags"]) == 1
    assert after["job"] == "assigned" and after["run"] == (None, None)


def test_an_honest_receipt_just_inside_the_tolerance_is_recorded(app: Flask, lab: dict) -> None:
    node, job_id = lab["a"], lab["job"]
    node.claim()
    node.report(job_id, {"type": "started", "at": at(utc_now())})
    claim = claimed_at(app, job_id, seconds_ago=600)
    # Started 115 s before the hub saw the claim, ends 110 s after now (the end report
    # arrives later still), and the busy time is the hub's 600 s plus 115 s.
    ended = node.end(job_id, claim - timedelta(seconds=115), utc_now() + timedelta(seconds=110),
                     busy_s=715)
    assert ended.status_code == 200, ended.get_json()
    after = ledger_state(app, job_id)
    assert after["uses"] == (1, 715) and after["flags"] == []
    assert after["run"] == ("completed", ended.get_json()["ledger_entry"])


def test_offline_journal_after_lease_expiry_is_bounded_by_its_events(
        app: Flask, lab: dict) -> None:
    node, job_id = lab["a"], lab["job"]
    node.claim()
    claim = claimed_at(app, job_id, seconds_ago=900)
    node.report(job_id, {"type": "started", "at": at(claim + timedelta(seconds=5))})
    with opened(app.config["DATABASE"]) as db:  # the node went silent: the lease ran out
        assert reap_expired(db, time.time() + 3600, 0) == [job_id]
    assert ledger_state(app, job_id)["job"] == "interrupted"
    # Back online, the node sends what its journal kept, then its end report.
    node.report(job_id, *({"type": "progress", "at": at(claim + timedelta(seconds=s)),
                           "lines_acked": s // 100, "lines_total": 15, "percent": s / 9}
                          for s in (300, 600)))
    greedy = node.end(job_id, claim + timedelta(seconds=5), utc_now(), busy_s=880)
    error = refused(greedy, "ended_at")
    assert "journal reach" in error["message"]
    assert error["details"]["observed"]["watched_to_end"] is False
    journaled = node.end(job_id, claim + timedelta(seconds=5), claim + timedelta(seconds=600),
                         busy_s=595)
    assert journaled.status_code == 200, journaled.get_json()
    after = ledger_state(app, job_id)
    assert after["uses"] == (1, 595) and len(after["flags"]) == 1
    assert after["job"] == "completed"
