"""End to end: a fabhub job runs through a node on a real OctoPrint and lands in the ledger."""

from __future__ import annotations

import time

import pytest
import requests

from fabhub.jobs.receipts import SignedReceipt
from tests.node.gcode import fdm_print
from tests.node.lab import eventually
from tests.octoprint.octoprint_server import OctoPrintServer

ENDED = ("completed", "failed", "interrupted", "cancelled")


@pytest.fixture
def octoprint_lab(make_lab, octoprint: OctoPrintServer, monkeypatch):
    """A hub with one FDM printer whose node drives it through OctoPrint."""
    if octoprint.proc is None or octoprint.proc.poll() is not None:
        octoprint.start()
    monkeypatch.setenv("FABHUB_OCTOPRINT_API_KEY", octoprint.api_key)
    lab = make_lab(["fdm-marlin"])
    node = lab.add_node("fdm-marlin", port=octoprint.driver_url)
    return lab, node


def test_job_through_octoprint_completes_into_the_ledger(octoprint_lab) -> None:
    lab, node = octoprint_lab
    job_id = lab.submit("fdm-marlin", fdm_print(60, tag="octoprint"))
    state = lab.wait_state(job_id, ENDED, timeout=120)
    assert state == "completed", node.log.read_text()[-3000:]
    uses = eventually(lambda: lab.uses(), 30, "the use entry")
    assert [u["job_id"] for u in uses] == [job_id]
    signed = SignedReceipt.from_dict(node.journal_end(job_id)["receipt"])
    assert uses[0]["seconds"] == signed.receipt.busy_s
    assert signed.receipt.outcome == "completed"


def test_pause_resume_and_cancel_through_the_hub(octoprint_lab) -> None:
    lab, node = octoprint_lab
    job_id = lab.submit("fdm-marlin", fdm_print(4000, tag="long"))
    lab.wait_state(job_id, ("running",), timeout=60)
    url = f"{lab.hub.url}/api/v1/jobs/{job_id}"
    assert requests.post(url + "/pause", headers=lab.ada, timeout=10).status_code == 200
    lab.wait_state(job_id, ("paused",), timeout=20)
    assert requests.post(url + "/resume", headers=lab.ada, timeout=10).status_code == 200
    lab.wait_state(job_id, ("running",), timeout=20)
    assert requests.post(url + "/stop", headers=lab.ada, timeout=10).status_code == 200
    state = lab.wait_state(job_id, ENDED, timeout=60)
    assert state == "cancelled", node.log.read_text()[-3000:]
    uses = eventually(lambda: lab.uses(), 30, "the use entry of the cancelled job")
    assert [u["job_id"] for u in uses] == [job_id]


def test_fatal_printer_error_ends_the_job_with_octoprints_reason(
        octoprint_lab, octoprint: OctoPrintServer) -> None:
    lab, node = octoprint_lab
    job_id = lab.submit("fdm-marlin", fdm_print(4000, tag="doomed"))
    lab.wait_state(job_id, ("running",), timeout=60)
    injected = octoprint.post("/api/printer/command",
                              {"command": "!!DEBUG:trigger_fatal_error_marlin"})
    assert injected.status_code == 204
    started = time.monotonic()
    state = lab.wait_state(job_id, ENDED, timeout=30)
    elapsed = time.monotonic() - started
    assert state == "failed", node.log.read_text()[-3000:]
    reasons = [e["reason"] for e in lab.job(job_id)["events"] if e["to_state"] == "failed"]
    assert "Thermal Runaway" in reasons[0]
    # The driver ends the job within 2 s; the node's end report and the hub add a little.
    assert elapsed < 4.0, f"the hub learned of the failure after {elapsed:.1f} s"
