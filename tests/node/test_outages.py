"""End to end: the hub killed, the node cut off, the node restarted mid-job, an emergency stop.

The two outages last what the issue says: the hub is SIGKILLed and restarted
HUB_DOWN_S = 60 s later, and the node is cut off from the hub by a proxy for
CUT_S = 120 s. They run at the same time, each in a lab of its own (its own hub
instance and port, simulator and node), so together they cost about the longer
outage. Each job is long enough to be still streaming when its outage ends and
finishes about AFTER_OUTAGE_S later. The hub's lease in these tests
(tests.node.lab.LEASE_TTL_S = 8 s) is shorter than either outage.
"""

from __future__ import annotations

import json
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Any

import pytest
import requests

from fabhub.db import opened
from fabhub.drivers.sim import PtyDevice
from fabhub.jobs.receipts import SignedReceipt
from tests.node.gcode import fdm_print, laser_cut
from tests.node.lab import Lab, NodeProcess, eventually
from tests.node.proxy import CutProxy

HUB_DOWN_S = 60.0
CUT_S = 120.0
COMMAND_TIME_S = 0.04  # the simulator's time per command: at most 25 job lines a second
AFTER_OUTAGE_S = 20.0  # job lines left, at that rate, when an outage ends
SAMPLE_S = 10.0
ENDED = ("completed", "failed", "interrupted", "cancelled")


def running_with_lines(lab: Lab, name: str, job_id: int, lines: int) -> None:
    """Wait until the job runs and the simulator has executed at least ``lines`` commands."""
    lab.wait_state(job_id, ("running",), timeout=60)
    eventually(lambda: len(lab.sims[name].executed) >= lines, 60, f"{lines} executed lines")


def one_use_matching_receipt(lab: Lab, name: str, job_id: int) -> dict:
    """Exactly one ``use`` entry for the job, with the seconds of the node's receipt."""
    uses = [u for u in lab.uses() if u["job_id"] == job_id]
    assert len(uses) == 1, uses
    end = lab.nodes[name].journal_end(job_id)
    assert uses[0]["seconds"] == SignedReceipt.from_dict(end["receipt"]).receipt.busy_s
    return end


def moves_outlasting(outage_s: float) -> int:
    """Job moves that keep the simulator busy through ``outage_s`` and AFTER_OUTAGE_S more."""
    return int((outage_s + AFTER_OUTAGE_S) / COMMAND_TIME_S)


def job_lines(sim: PtyDevice) -> int:
    """How many of the job's moves the simulator has executed (status queries not counted)."""
    return sum(1 for line in list(sim.executed) if line.startswith("G1 X"))


def assert_streams_alone(sim: PtyDevice, seconds: float, moves: int, what: str) -> None:
    """Through ``seconds`` of ``what``, every SAMPLE_S the machine ran more job lines.

    At least a quarter of the simulator's pace in every sample (a busy box slows it,
    a stalled stream stops it), and the job is not over when the outage ends.
    """
    counts = [job_lines(sim)]
    for _ in range(round(seconds / SAMPLE_S)):
        time.sleep(SAMPLE_S)
        counts.append(job_lines(sim))
    least = int(SAMPLE_S / COMMAND_TIME_S / 4)
    grown = [after - before for before, after in pairwise(counts)]
    assert min(grown) >= least, (
        f"streaming stalled during {what}: job lines executed every {SAMPLE_S:.0f} s grew by "
        f"{grown} (at least {least} each expected); counts {counts}")
    assert counts[-1] < moves, (
        f"the job ended during {what} ({counts[-1]} of {moves} lines): not an outage mid-job")


def assert_every_event_arrived_in_order(lab: Lab, node: NodeProcess, job_id: int,
                                        moves: int) -> int:
    """The hub stored exactly the node's journaled batches, 1..N, once each, in order.

    Returns N, the number of batches.
    """
    journal = node.journal(job_id)
    numbers = [b["batch"] for b in journal["batches"]]
    assert numbers == list(range(1, len(numbers) + 1)), f"node journal batches {numbers}"
    with opened(lab.instance / "fabhub.sqlite3") as db:
        rows = db.execute("SELECT batch, data_json FROM job_reports WHERE job_id = ? ORDER BY id",
                          [job_id]).fetchall()
    hub_events = [(r["batch"], json.loads(r["data_json"])) for r in rows]
    node_events = [(b["batch"], e) for b in journal["batches"] for e in b["events"]]
    stored = sorted({batch for batch, _ in hub_events})
    assert hub_events == node_events, (
        f"the hub stored {len(hub_events)} events of batches {stored[:3]}..{stored[-3:]} "
        f"({len(stored)} distinct); the node journaled {len(node_events)} events in batches "
        f"1..{len(numbers)}; missing {sorted(set(numbers) - set(stored))}")
    acked = [e["lines_acked"] for _, e in hub_events if e["type"] == "progress"]
    assert acked == sorted(acked) and acked[-1] >= moves, f"progress out of order: {acked}"
    return len(numbers)


def job_history(lab: Lab, job_id: int) -> list[tuple[str, str]]:
    """The job's state changes, oldest first, as ``(to_state, actor_kind)``."""
    with opened(lab.instance / "fabhub.sqlite3") as db:
        rows = db.execute("SELECT to_state, actor_kind FROM job_events WHERE job_id = ? "
                          "ORDER BY id", [job_id]).fetchall()
    return [(r["to_state"], r["actor_kind"]) for r in rows]


def hub_killed_for_a_minute(lab: Lab) -> None:
    """The hub SIGKILLed mid-job and restarted HUB_DOWN_S later: the job completes, once."""
    node = lab.add_node("fdm-marlin")
    moves = moves_outlasting(HUB_DOWN_S)
    job_id = lab.submit("fdm-marlin", fdm_print(moves))
    running_with_lines(lab, "fdm-marlin", job_id, 60)
    lab.hub.kill()
    assert_streams_alone(lab.sims["fdm-marlin"], HUB_DOWN_S, moves, "the hub's downtime")
    lab.hub.start()
    assert lab.wait_state(job_id, ENDED, timeout=120) == "completed"
    eventually(lambda: lab.uses(), 30, "the use entry")
    end = one_use_matching_receipt(lab, "fdm-marlin", job_id)
    assert end["outcome"] == "completed" and end["lines_acked"] >= moves
    assert SignedReceipt.from_dict(end["receipt"]).receipt.busy_s >= HUB_DOWN_S
    assert_every_event_arrived_in_order(lab, node, job_id, moves)
    # Time the hub was down does not count against the node: the restarted hub's reaper
    # waits one lease before its first check (runs.reap_expired's not_before), and the
    # node's outbox retries at least every 2 s, so its first report after the restart
    # renews the lease in time. The job is never interrupted; it just completes.
    assert [state for state, _ in job_history(lab, job_id)][-3:] == [
        "assigned", "running", "completed"], job_history(lab, job_id)


def machine_state(lab: Lab) -> str:
    """The FDM printer's state as the hub's API gives it."""
    return requests.get(f"{lab.hub.url}/api/v1/machines/{lab.machines['fdm-marlin']}",
                        headers=lab.gina, timeout=10).json()["state"]


def node_seen(lab: Lab) -> str | None:
    """When the hub last heard the FDM printer's node."""
    nodes = requests.get(f"{lab.hub.url}/api/v1/nodes", headers=lab.gina, timeout=10).json()
    return next(n["last_seen_at"] for n in nodes["nodes"]
                if n["machine_id"] == lab.machines["fdm-marlin"] and not n["revoked_at"])


def node_cut_off_for_two_minutes(lab: Lab) -> None:
    """The node cut off from the hub for CUT_S mid-job: it streams on and replays in order."""
    proxy = CutProxy(lab.hub.port)
    try:
        node = lab.add_node("fdm-marlin", hub_url=proxy.url)
        moves = moves_outlasting(CUT_S)
        job_id = lab.submit("fdm-marlin", fdm_print(moves))
        running_with_lines(lab, "fdm-marlin", job_id, 60)
        proxy.cut()
        assert_streams_alone(lab.sims["fdm-marlin"], CUT_S, moves, "the network cut")
        # The hub saw the node silent for longer than a lease: the job is interrupted, and
        # the printer, which had streamed lines, waits for a person to clear its bed.
        assert lab.job(job_id)["state"] == "interrupted"
        assert machine_state(lab) == "needs_clearing"
        proxy.restore()
        assert lab.wait_state(job_id, ("completed", "failed", "cancelled"),
                              timeout=120) == "completed"
        # The node is back and heartbeats "idle": no report of its ends that wait.
        last_seen = node_seen(lab)
        eventually(lambda: node_seen(lab) != last_seen, 30, "a heartbeat after the cut")
        assert machine_state(lab) == "needs_clearing"
    finally:
        proxy.close()
    eventually(lambda: lab.uses(), 30, "the use entry")
    end = one_use_matching_receipt(lab, "fdm-marlin", job_id)
    assert SignedReceipt.from_dict(end["receipt"]).receipt.busy_s >= CUT_S
    batches = assert_every_event_arrived_in_order(lab, node, job_id, moves)
    assert batches >= CUT_S, f"{batches} batches: one a second expected, also while cut off"
    # The reaper interrupted the job; the node's end report then reconciled it (runs.end_job
    # moves an interrupted job to how it really ended and records the receipt once).
    assert job_history(lab, job_id)[-2:] == [("interrupted", "system"), ("completed", "node")]
    run = requests.get(f"{lab.hub.url}/api/v1/jobs/{job_id}/run", headers=lab.ada,
                       timeout=10).json()["run"]
    assert (run["outcome"], run["lines_acked"]) == ("completed", end["lines_acked"]), run


@pytest.mark.timeout(600)
def test_hub_down_a_minute_and_node_cut_off_two_minutes_mid_job(make_lab) -> None:
    """Both outages at the issue's length, side by side in two independent labs."""
    scenarios: dict[str, tuple[Any, Lab]] = {
        f"hub SIGKILLed for {HUB_DOWN_S:.0f} s": (
            hub_killed_for_a_minute, make_lab(["fdm-marlin"], COMMAND_TIME_S, name="hub-down")),
        f"node cut off for {CUT_S:.0f} s": (
            node_cut_off_for_two_minutes, make_lab(["fdm-marlin"], COMMAND_TIME_S, name="cut")),
    }
    with ThreadPoolExecutor(len(scenarios)) as pool:
        running = {title: pool.submit(scenario, lab)
                   for title, (scenario, lab) in scenarios.items()}
    failures = [f"{title}:\n{''.join(traceback.format_exception(future.exception()))}"
                for title, future in running.items() if future.exception() is not None]
    assert not failures, "\n".join(failures)


def test_node_restarted_mid_job_reports_interrupted_and_never_resumes(make_lab) -> None:
    lab: Lab = make_lab(["fdm-marlin"], command_time_s=0.04)
    node = lab.add_node("fdm-marlin")
    sim = lab.sims["fdm-marlin"]
    job_id = lab.submit("fdm-marlin", fdm_print(900))
    running_with_lines(lab, "fdm-marlin", job_id, 100)
    node.kill()
    time.sleep(1.0)  # what was in the firmware's buffer has run by now
    executed_at_kill = len(sim.executed)
    node.start()
    assert lab.wait_state(job_id, ENDED, timeout=60) == "interrupted"
    time.sleep(2.0)
    after = [line for line in sim.executed[executed_at_kill:] if line.startswith("G1 X")]
    assert after == [], f"the restarted node streamed {len(after)} job lines"
    eventually(lambda: lab.uses(), 30, "the use entry")
    end = one_use_matching_receipt(lab, "fdm-marlin", job_id)
    assert end["outcome"] == "interrupted"
    # Batches are journaled once a second, so the report may lag the machine by that much
    # (25 lines at 0.04 s a line) plus the firmware's few buffered commands; never ahead of it.
    assert executed_at_kill - 40 <= end["lines_acked"] <= executed_at_kill
    run = requests.get(f"{lab.hub.url}/api/v1/jobs/{job_id}/run", headers=lab.ada,
                       timeout=10).json()["run"]
    assert run["lines_acked"] == end["lines_acked"]
    assert run["outcome"] == "interrupted"


def test_emergency_stop_from_the_api_reaches_the_simulator_within_one_second(make_lab) -> None:
    lab: Lab = make_lab(["laser-grbl"], command_time_s=0.05)
    lab.add_node("laser-grbl")
    sim = lab.sims["laser-grbl"]
    job_id = lab.submit("laser-grbl", laser_cut(600))
    running_with_lines(lab, "laser-grbl", job_id, 20)
    time.sleep(1.0)  # let the node settle into its next long poll
    machine = lab.machines["laser-grbl"]
    issued = time.monotonic()
    response = requests.post(f"{lab.hub.url}/api/v1/machines/{machine}/emergency-stop",
                             headers=lab.gina, timeout=10)
    assert response.status_code == 200, response.text
    eventually(lambda: sim.emergency_at is not None, 5, "the simulator's emergency stop")
    assert sim.emergency_at - issued < 1.0, f"took {sim.emergency_at - issued:.3f} s"
    assert lab.wait_state(job_id, ENDED, timeout=30) == "cancelled"
    machine_state = requests.get(f"{lab.hub.url}/api/v1/machines/{machine}", headers=lab.gina,
                                 timeout=10).json()["state"]
    assert machine_state == "to_check"
