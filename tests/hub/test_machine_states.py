"""The machine state table and the one function that applies it, path by path."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fabhub.db import Database
from fabhub.jobqueue import jobs, machines
from fabhub.jobqueue.machine_state import move_machine
from fabhub.jobs.states import (
    MACHINE_TRANSITIONS,
    STICKY,
    Actor,
    IllegalMachineMove,
    MachineFacts,
    MachineState,
    check_machine_move,
)
from fabhub.nodes import registry, runs
from fabhub.nodes.silence import reap_silent
from fabhub.problems import Problem
from tests.hub.test_invariants import HubUnderFaults, build_template


def test_every_state_has_its_row_and_only_people_leave_sticky_states() -> None:
    assert set(MACHINE_TRANSITIONS) == set(MachineState)
    for source, moves in MACHINE_TRANSITIONS.items():
        for target, (actors, _) in moves.items():
            if source in STICKY and target not in STICKY:
                assert actors == {Actor.PERSON}, (source, target)
            if target in {MachineState.MAINTENANCE}:
                assert actors == {Actor.PERSON}, (source, target)


def test_a_refused_move_names_who_and_what_is_allowed() -> None:
    with pytest.raises(IllegalMachineMove, match="its node cannot move a machine from "
                       "maintenance to idle; from maintenance its node may choose: nothing"):
        check_machine_move(MachineState.MAINTENANCE, MachineState.IDLE, Actor.NODE,
                           MachineFacts())
    with pytest.raises(IllegalMachineMove, match="has claimed job 7"):
        check_machine_move(MachineState.IDLE, MachineState.MAINTENANCE, Actor.PERSON,
                           MachineFacts(claimed_job_id=7))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("states") / "instance")


@pytest.fixture
def lab(template: Path) -> Iterator[HubUnderFaults]:
    """The property test's lab, driven step by step: both machines idle, a job each."""
    HubUnderFaults.template = template
    state = HubUnderFaults()
    state.lab_opens()
    yield state
    state.teardown()


def printer(lab: HubUnderFaults) -> int:
    return lab.machine_ids[0]


def events(db: Database, machine_id: int) -> list[tuple[str, str, str]]:
    rows = db.execute("SELECT to_state, actor_kind, reason FROM machine_events "
                      "WHERE machine_id = ? ORDER BY id", [machine_id]).fetchall()
    return [tuple(r) for r in rows]


def test_maintenance_sends_an_unclaimed_job_back_with_a_reason(lab: HubUnderFaults) -> None:
    lab.scheduling_pass()
    job = jobs.active_job_on(lab.db, printer(lab))
    assert job is not None and job.state.value == "assigned"
    machines.set_manual_state(lab.db, printer(lab), "maintenance", "nozzle swap", lab.gate.id)
    back = jobs.get_job(lab.db, job.id)
    assert back.state.value == "queued" and back.machine_id is None
    last = jobs.job_events(lab.db, job.id)[-1]
    assert (last["actor_kind"], last["to_state"]) == ("system", "queued")
    assert "maintenance (nozzle swap)" in last["reason"]
    assert events(lab.db, printer(lab))[-1] == ("maintenance", "member", "nozzle swap")
    # The node reports idle and asks for work: the machine stays in maintenance.
    registry.heartbeat(lab.db, lab.nodes[printer(lab)], "idle", {})
    assert runs.claim(lab.db, lab.nodes[printer(lab)]) is None
    assert machines.get_machine(lab.db, printer(lab)).state is MachineState.MAINTENANCE


def test_a_claimed_job_keeps_the_machine_in_service_until_it_ends(lab: HubUnderFaults) -> None:
    lab.periodic_jobs()
    lab.node_claims(0, 0, False)
    with pytest.raises(Problem) as refused:
        machines.set_manual_state(lab.db, printer(lab), "maintenance", "", lab.gate.id)
    assert refused.value.status == 409 and "has claimed job" in str(refused.value)


def test_a_job_never_starts_on_a_machine_a_person_took_out(lab: HubUnderFaults) -> None:
    lab.periodic_jobs()
    lab.node_claims(0, 0, False)
    job_id = lab.claimed_job(printer(lab), ("assigned",))
    # Only a forged history could bring this about; the hub still refuses the start.
    lab.db.execute("UPDATE machines SET state = 'to_check' WHERE id = ?", [printer(lab)])
    lab.db.conn.commit()
    with pytest.raises(Problem) as refused:
        runs.apply_batch(lab.db, lab.nodes[printer(lab)], job_id, 1,
                         [{"type": "started", "at": "2026-06-01T08:00:00Z"}])
    assert refused.value.code == "machine_not_in_service"
    assert jobs.get_job(lab.db, job_id).state.value == "assigned"


def test_lease_expiry_after_lines_streamed_needs_a_person(lab: HubUnderFaults) -> None:
    lab.periodic_jobs()
    lab.node_claims(0, 10, True)
    lab.network(0, False)
    lab.time_passes(61, True)
    assert machines.get_machine(lab.db, printer(lab)).state is MachineState.NEEDS_CLEARING
    lab.network(0, True)
    lab.time_passes(5, True)  # the node is back: heartbeats idle, asks for work
    assert machines.get_machine(lab.db, printer(lab)).state is MachineState.NEEDS_CLEARING
    assert lab.claimed_job(printer(lab), ("assigned", "running")) is None
    lab.bed_cleared(0)
    lab.upload("fdm-marlin", 1)
    lab.time_passes(5, True)  # the pass assigns the new job ...
    lab.time_passes(5, True)  # ... and the node claims and starts it
    assert lab.claimed_job(printer(lab), ("running",)) is not None


def test_a_silent_node_frees_its_jobs_but_hub_downtime_does_not_count(
        lab: HubUnderFaults) -> None:
    lab.scheduling_pass()
    waiting = jobs.active_job_on(lab.db, printer(lab))
    assert waiting is not None
    now = time.time()
    assert reap_silent(lab.db, now + 120, 90, not_before_epoch=now + 200) == []
    assert reap_silent(lab.db, now + 80, 90, not_before_epoch=now) == []
    taken = reap_silent(lab.db, now + 120, 90, not_before_epoch=now)
    assert set(taken) == set(lab.machine_ids)
    assert jobs.get_job(lab.db, waiting.id).state.value == "queued"
    assert events(lab.db, printer(lab))[-1][:2] == ("offline", "system")


def test_a_silent_node_leaves_a_person_set_state_alone(lab: HubUnderFaults) -> None:
    machines.set_manual_state(lab.db, printer(lab), "to_check", "", lab.gate.id)
    now = time.time()
    assert printer(lab) not in reap_silent(lab.db, now + 120, 90, not_before_epoch=now)
    assert machines.get_machine(lab.db, printer(lab)).state is MachineState.TO_CHECK


def test_people_get_409_nodes_are_ignored(lab: HubUnderFaults) -> None:
    machine = lab.machine_ids[1]
    machines.set_manual_state(lab.db, machine, "maintenance", "", lab.gate.id)
    assert move_machine(lab.db, machine, MachineState.BUSY, actor=Actor.NODE,
                        reason="x", on_refusal="keep") is MachineState.MAINTENANCE
    with pytest.raises(Problem) as refused:
        move_machine(lab.db, machine, MachineState.BUSY, actor=Actor.PERSON, reason="x")
    assert refused.value.status == 409
    assert events(lab.db, machine)[-1][0] == "maintenance"


def test_a_claimed_job_is_stopped_through_its_node_not_cancelled(lab: HubUnderFaults) -> None:
    lab.periodic_jobs()
    lab.node_claims(0, 0, False)
    job_id = lab.claimed_job(printer(lab), ("assigned",))
    with pytest.raises(Problem) as refused:
        jobs.cancel_job(lab.db, job_id, lab.maker)
    assert refused.value.code == "claimed" and f"/api/v1/jobs/{job_id}/stop" in str(
        refused.value)
    assert jobs.get_job(lab.db, job_id).state.value == "assigned"
