"""End to end: uploads run on three machines through node agents and land in the ledger once."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import time

import requests

from fabhub.db import opened
from fabhub.jobs.receipts import SignedReceipt, verify_receipt
from tests.node.gcode import cnc_mill, fdm_print, laser_cut
from tests.node.lab import FABHUB, Lab, eventually


def test_three_machines_run_uploads_to_one_verified_use_each(make_lab) -> None:
    lab: Lab = make_lab(["fdm-marlin", "laser-grbl", "cnc-grbl"], command_time_s=0.01)
    for name in lab.machines:
        lab.add_node(name)
    files = {"fdm-marlin": fdm_print(150), "laser-grbl": laser_cut(150),
             "cnc-grbl": cnc_mill(150)}
    jobs = {name: lab.submit(name, data) for name, data in files.items()}
    started = time.monotonic()
    for name, job_id in jobs.items():
        assert lab.wait_state(job_id, ("completed", "failed", "interrupted", "cancelled"),
                              timeout=90) == "completed", lab.nodes[name].log.read_text()[-3000:]
    wall = time.monotonic() - started
    eventually(lambda: len(lab.uses()) == 3, 30, "three use entries")
    uses = {u["job_id"]: u for u in lab.uses()}
    assert sorted(uses) == sorted(jobs.values())
    for name, job_id in jobs.items():
        node = lab.nodes[name]
        end = node.journal_end(job_id)
        signed = SignedReceipt.from_dict(end["receipt"])
        assert end["outcome"] == "completed"
        assert uses[job_id]["seconds"] == signed.receipt.busy_s
        assert uses[job_id]["machine_id"] == lab.machines[name]
        assert 0 <= signed.receipt.busy_s <= wall + 1
        assert end["lines_acked"] >= 150
        assert lab.sims[name].executed, f"{name}'s simulator executed nothing"
    with opened(lab.instance / "fabhub.sqlite3") as db:
        for name, job_id in jobs.items():
            key = bytes(db.execute("SELECT n.public_key FROM job_runs r JOIN nodes n "
                                   "ON n.id = r.node_id WHERE r.job_id = ?",
                                   [job_id]).fetchone()[0])
            verify_receipt(SignedReceipt.from_dict(lab.nodes[name].journal_end(job_id)["receipt"]),
                           key)
    verified = subprocess.run([FABHUB, "--instance", str(lab.instance), "ledger", "verify"],
                              capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_node_token_cannot_claim_or_report_for_another_machine(make_lab) -> None:
    lab: Lab = make_lab(["fdm-marlin", "laser-grbl"], command_time_s=0.05)
    fdm = lab.add_node("fdm-marlin")
    laser_job = lab.submit("laser-grbl", laser_cut(40))
    lab.wait_state(laser_job, ("assigned",), timeout=30)
    headers = {"Authorization": f"Bearer {fdm.token}"}
    base = lab.hub.url + "/node/v1"
    time.sleep(1.5)  # the fdm node has claimed (nothing) at least once meanwhile
    assert requests.post(base + "/claim", headers=headers, timeout=10).status_code == 204
    refused = [
        requests.get(f"{base}/jobs/{laser_job}/file", headers=headers, timeout=10),
        requests.post(f"{base}/jobs/{laser_job}/events", headers=headers, timeout=10, json={
            "batch": 1, "events": [{"type": "started", "at": "2026-01-01T00:00:00Z"}]}),
        requests.post(f"{base}/jobs/{laser_job}/end", headers=headers, timeout=10, json={
            "outcome": "completed", "lines_acked": 1,
            "receipt": {"receipt": {}, "signature": base64.b64encode(bytes(64)).decode()}}),
    ]
    for response in refused:
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_your_job"
    assert lab.job(laser_job)["state"] == "assigned"
    assert lab.uses() == []
    used = subprocess.run([FABHUB, "node", "enroll", lab.hub.url, "not-a-code", "--port",
                           lab.sims["laser-grbl"].path, "--config", str(lab.root / "x.toml")],
                          capture_output=True, text=True, timeout=60)
    assert used.returncode == 1
    assert "enrolment_refused" in used.stderr and "Traceback" not in used.stderr
    assert not (lab.root / "x.toml").exists()


def test_pause_resume_and_cancel_from_the_api_reach_the_machine(make_lab) -> None:
    lab: Lab = make_lab(["laser-grbl"], command_time_s=0.05)
    node = lab.add_node("laser-grbl")
    sim = lab.sims["laser-grbl"]
    job_id = lab.submit("laser-grbl", laser_cut(600))
    lab.wait_state(job_id, ("running",), timeout=60)
    eventually(lambda: len(sim.executed) >= 20, 30, "20 executed lines")
    url = f"{lab.hub.url}/api/v1/jobs/{job_id}"
    assert requests.post(url + "/pause", headers=lab.ada, timeout=10).status_code == 200
    lab.wait_state(job_id, ("paused",), timeout=10)
    time.sleep(1.0)  # what the firmware had already planned runs out
    held = len(sim.executed)
    time.sleep(2.0)
    assert len(sim.executed) == held, "the machine kept executing while paused"
    assert requests.post(url + "/resume", headers=lab.ada, timeout=10).status_code == 200
    lab.wait_state(job_id, ("running",), timeout=10)
    eventually(lambda: len(sim.executed) > held + 10, 10, "execution after resume")
    assert requests.post(url + "/stop", headers=lab.ada, timeout=10).status_code == 200
    assert lab.wait_state(job_id, ("cancelled", "completed", "failed", "interrupted"),
                          timeout=30) == "cancelled"
    eventually(lambda: lab.uses(), 30, "the use entry")
    receipt = SignedReceipt.from_dict(node.journal_end(job_id)["receipt"]).receipt
    assert receipt.outcome == "cancelled"
    assert receipt.paused_s >= 3
    assert lab.uses()[0]["seconds"] == receipt.busy_s


def test_a_file_that_does_not_match_its_hash_is_refused_and_never_streamed(make_lab) -> None:
    lab: Lab = make_lab(["cnc-grbl"])
    data = cnc_mill(30)
    job_id = lab.submit("cnc-grbl", data)
    lab.wait_state(job_id, ("assigned",), timeout=30)
    sha = hashlib.sha256(data).hexdigest()
    stored = lab.instance / "files" / sha[:2] / f"{sha}.gcode"
    stored.write_bytes(data.replace(b"Z-0.5", b"Z-9.5"))  # tampered on the hub's disk
    node = lab.add_node("cnc-grbl")
    assert lab.wait_state(job_id, ("interrupted", "running", "completed"), timeout=30) == \
        "interrupted"
    end = node.journal_end(job_id)
    assert "SHA-256" in end["reason"] and end["lines_acked"] == 0
    assert not any(line.startswith("G1") for line in lab.sims["cnc-grbl"].executed)
