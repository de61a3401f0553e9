"""A machine out of service never starts a job, and no job waits on a silent node: real
hub and node processes, a printer simulator on a pseudo-terminal, a proxy that cuts the
node off.

This replays the reported defects: a job assigned while the node was cut off stayed
``assigned`` for ever (defect 3), and once a gatekeeper had put the machine into
maintenance, the node's return started that job at once (defect 1).
"""

from __future__ import annotations

import time

import pytest
import requests

from tests.node.gcode import fdm_print
from tests.node.lab import Lab, eventually
from tests.node.proxy import CutProxy

SILENT_S = 6.0


def machine_state(lab: Lab) -> str:
    """The printer's state as the hub's API gives it."""
    return requests.get(f"{lab.hub.url}/api/v1/machines/{lab.machines['fdm-marlin']}",
                        headers=lab.gina, timeout=10).json()["state"]


def set_state(lab: Lab, state: str) -> None:
    """A gatekeeper sets the printer's state."""
    answer = requests.post(f"{lab.hub.url}/api/v1/machines/{lab.machines['fdm-marlin']}/state",
                           headers=lab.gina, json={"state": state, "reason": "test"}, timeout=10)
    assert answer.status_code == 200, answer.text


def history(lab: Lab, job_id: int) -> list[tuple[str, str, str]]:
    """(to_state, actor, reason) of each of the job's changes."""
    events = requests.get(f"{lab.hub.url}/api/v1/jobs/{job_id}", headers=lab.ada,
                          timeout=10).json()["events"]
    return [(e["to_state"], e["actor_kind"], e["reason"]) for e in events]


@pytest.mark.timeout(300)
def test_silent_node_and_maintenance_keep_the_job_waiting(make_lab) -> None:
    lab: Lab = make_lab(["fdm-marlin"])
    lab.hub.stop()
    lab.hub.env["FABHUB_NODE_SILENT_S"] = str(SILENT_S)
    lab.hub.start()
    proxy = CutProxy(lab.hub.port)
    try:
        lab.add_node("fdm-marlin", hub_url=proxy.url)
        eventually(lambda: machine_state(lab) == "idle", 30, "the node's first heartbeat")
        proxy.cut()
        job_id = lab.submit("fdm-marlin", fdm_print(40))
        assert lab.wait_state(job_id, ("assigned",), timeout=10) == "assigned"
        # Defect 3: the silent node's machine goes offline and the job back to the queue,
        # with a reason the maker can read.
        eventually(lambda: machine_state(lab) == "offline", SILENT_S + 15, "offline")
        assert lab.wait_state(job_id, ("queued",), timeout=10) == "queued"
        back = history(lab, job_id)[-1]
        assert back[:2] == ("queued", "system") and "offline" in back[2], back
        # Defect 1: maintenance is kept when the node comes back; the job never starts.
        set_state(lab, "maintenance")
        proxy.restore()
        seen = time.monotonic()
        while time.monotonic() - seen < 8:
            assert machine_state(lab) == "maintenance"
            assert lab.job(job_id)["state"] == "queued"
            time.sleep(0.5)
        assert not any(line.startswith("G1 X") for line in list(lab.sims["fdm-marlin"].executed))
        # Back in service by a person: the job runs to its end.
        set_state(lab, "idle")
        assert lab.wait_state(job_id, ("completed", "failed"), timeout=120) == "completed"
    finally:
        proxy.close()
