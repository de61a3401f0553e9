"""Gatekeepers' and makers' actions through the pages: ledger tools, nodes, cancel, bed cleared."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from flask import Flask

from fabhub.clock import utc_now
from fabhub.db import opened
from fabhub.jobqueue.machine_state import move_machine
from fabhub.jobs.states import Actor, MachineState
from fabhub.ledger.checkpoints import make_checkpoint
from fabhub.ledger.corrections import record_work
from fabhub.ledger.keys import load_signer
from fabhub.members import require_member
from tests.conftest import csrf_token
from tests.web.conftest import Lab, client_as


def _work_entry_and_checkpoint(app: Flask) -> None:
    with opened(app.config["DATABASE"]) as db:
        ada = require_member(db, "ada")
        end = utc_now()
        record_work(db, ada.id, 3600, "maintenance", end - timedelta(hours=1), end)
        make_checkpoint(db, load_signer(Path(app.instance_path)))


def test_ledger_verify_proof_and_correction(app: Flask, lab: Lab) -> None:
    _work_entry_and_checkpoint(app)
    client = client_as(app, "gina")
    token = csrf_token(client, "/ledger")
    verdict = client.post("/ledger/verify", data={"csrf_token": token}).get_data(as_text=True)
    assert "OK: 1 entries and 1 checkpoints verified" in verdict
    proof = client.post("/ledger/proof", data={"proof-entry": "0", "csrf_token": token})
    assert "Entry 0 is in the checkpoint of 1 entries." in proof.get_data(as_text=True)
    beyond = client.post("/ledger/proof", data={"proof-entry": "5", "csrf_token": token})
    assert beyond.status_code == 422 and "No checkpoint covers" in beyond.get_data(as_text=True)
    missing = client.post("/ledger/corrections", data={
        "fix-entry": "0", "fix-reason": "fix", "fix-note": "meter was wrong",
        "csrf_token": token})
    assert missing.status_code == 422
    assert "quantity" in missing.get_data(as_text=True)
    assert 'value="meter was wrong"' in missing.get_data(as_text=True)
    fixed = client.post("/ledger/corrections", data={
        "fix-entry": "0", "fix-reason": "fix", "fix-quantity": "1800",
        "fix-note": "meter was wrong", "csrf_token": token})
    assert fixed.status_code == 302
    with opened(app.config["DATABASE"]) as db:
        assert db.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 2
    exported = client.get("/ledger/export.csv")
    assert exported.status_code == 200 and exported.data.count(b"\n") >= 3


def test_node_register_shows_code_once_and_revoke(app: Flask, lab: Lab) -> None:
    client = client_as(app, "gina")
    token = csrf_token(client, "/nodes")
    page = client.post("/nodes", data={"machine_id": lab.machine_id, "name": "pi-2",
                                       "csrf_token": token}).get_data(as_text=True)
    code = re.search(r'id="enrolment-code">([^<]+)<', page)
    assert code and len(code.group(1)) >= 12
    assert code.group(1) not in client.get("/nodes").get_data(as_text=True)
    revoked = client.post(f"/nodes/{lab.node_id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 302
    with opened(app.config["DATABASE"]) as db:
        assert db.execute("SELECT revoked_at FROM nodes WHERE id = ?",
                          [lab.node_id]).fetchone()[0]


def test_maker_cancels_own_job_but_not_anothers(app: Flask, lab: Lab) -> None:
    linus = client_as(app, "linus")
    assert linus.get(f"/jobs/{lab.job_id}").status_code == 404
    token = csrf_token(linus, "/upload")
    assert linus.post(f"/jobs/{lab.job_id}/cancel", data={"csrf_token": token}).status_code \
        == 404
    ada = client_as(app, "ada")
    token = csrf_token(ada, "/upload")
    done = ada.post(f"/jobs/{lab.job_id}/cancel", data={"csrf_token": token},
                    follow_redirects=True)
    assert f"Job {lab.job_id} is cancelled." in done.get_data(as_text=True)
    assert "history" in ada.get("/history").get_data(as_text=True).lower()


def test_bed_cleared_returns_the_machine_to_service(app: Flask, lab: Lab) -> None:
    with opened(app.config["DATABASE"]) as db:
        move_machine(db, lab.machine_id, MachineState.NEEDS_CLEARING, actor=Actor.NODE,
                     reason="job done")
    client = client_as(app, "gina")
    url = f"/machines/{lab.machine_id}"
    page = client.get(url).get_data(as_text=True)
    assert "Bed cleared" in page
    done = client.post(url + "/cleared", data={"csrf_token": csrf_token(client, url)},
                       follow_redirects=True)
    assert "Bed cleared; the machine takes its next job." in done.get_data(as_text=True)
    again = client.post(url + "/cleared", data={"csrf_token": csrf_token(client, url)},
                        follow_redirects=True)
    assert "not waiting for its bed to be cleared" in again.get_data(as_text=True)


def test_telemetry_reads_as_people_write_it() -> None:
    from fabhub.web.job_pages import readable_telemetry

    shown = readable_telemetry({"type": "telemetry", "at": "x", "machine_state": "Idle",
                                "temperatures": {"T": [200.4, 200.0], "B": [21.0, 0.0]},
                                "position": {"x": 10, "y": 2.25}})
    assert shown == {"machine_state": "Idle", "hotend": "200 / 200 °C", "bed": "21 °C",
                     "position": "X10.0 Y2.2"}
    assert readable_telemetry(None) == {}
