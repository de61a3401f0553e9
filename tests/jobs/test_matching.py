"""Scheduling-pass properties over random machine parks, members and jobs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fabhub.jobs.matching import (
    MachineSlot,
    PassInput,
    Reservation,
    WaitingJob,
    first_failure,
    reservation_blocks,
    schedule,
)
from fabhub.jobs.states import MachineState

NOW = 1_000_000.0
CLASSES = ("fdm", "laser", "mill")


@st.composite
def parks(draw) -> PassInput:
    machines = tuple(
        MachineSlot(
            id=i,
            machine_class=draw(st.sampled_from(CLASSES)),
            state=draw(st.sampled_from(list(MachineState))),
            loaded_material=draw(st.sampled_from([None, "PLA", "PETG"])),
            busy_until=draw(st.none() | st.floats(NOW, NOW + 10_000)),
        )
        for i in range(draw(st.integers(0, 8)))
    )
    members = list(range(draw(st.integers(1, 5))))
    jobs = tuple(
        WaitingJob(
            id=100 + j,
            member_id=draw(st.sampled_from(members)),
            machine_class=draw(st.sampled_from((*CLASSES, "ghost"))),
            duration_s=draw(st.floats(1, 20_000)),
            submitted_at=draw(st.floats(NOW - 50_000, NOW)),
            priority=draw(st.sampled_from([0.0, 10.0, 500.0, 1234.5])),
            material=draw(st.sampled_from([None, "PLA", "PETG"])),
            preferred_machine_id=draw(st.none() | st.sampled_from([m.id for m in machines] or [0])),
            unfit_machines=frozenset(
                draw(st.lists(st.sampled_from([m.id for m in machines] or [0]), max_size=3))
            ),
        )
        for j in range(draw(st.integers(0, 14)))
    )
    certified = {
        member: frozenset(draw(st.lists(st.sampled_from(CLASSES), max_size=3)))
        for member in members
    }
    reservations = tuple(
        Reservation(
            machine_id=draw(st.sampled_from([m.id for m in machines] or [0])),
            member_id=draw(st.sampled_from(members)),
            start=(start := draw(st.floats(NOW - 5_000, NOW + 30_000))),
            end=start + draw(st.floats(60, 10_000)),
        )
        for _ in range(draw(st.integers(0, 3)))
    )
    room = {
        (draw(st.sampled_from(members)), draw(st.sampled_from(CLASSES))):
            draw(st.floats(0, 30_000))
        for _ in range(draw(st.integers(0, 3)))
    }
    return PassInput(NOW, jobs, machines, certified, reservations, room)


@settings(max_examples=300, deadline=None)
@given(parks())
def test_pass_invariants(data: PassInput) -> None:
    result = schedule(data)
    jobs = {j.id: j for j in data.jobs}
    machines = {m.id: m for m in data.machines}
    assigned_machines = [machine_id for _, machine_id in result.assignments]
    assert len(assigned_machines) == len(set(assigned_machines)), "two jobs on one machine"
    assert len({job_id for job_id, _ in result.assignments}) == len(result.assignments)
    for job_id, machine_id in result.assignments:
        job, machine = jobs[job_id], machines[machine_id]
        assert machine.state is MachineState.IDLE
        assert machine.machine_class == job.machine_class
        assert machine_id not in job.unfit_machines, "assigned to a machine it does not fit"
        assert job.machine_class in data.certified.get(job.member_id, ()), "not certified"
        assert reservation_blocks(job, machine_id, NOW, data.reservations) is None, \
            "overtook a reservation"
    assigned = {job_id for job_id, _ in result.assignments}
    for job in data.jobs:
        if job.id not in assigned:
            reason = result.reasons[job.id]
            assert reason.code and reason.message, "a waiting job without a reason"
    assert set(result.reasons) | assigned == set(jobs)


@settings(max_examples=300, deadline=None)
@given(parks())
def test_no_lower_priority_job_takes_a_machine_a_higher_one_could_use(data: PassInput) -> None:
    result = schedule(data)
    rank = {job_id: i for i, job_id in enumerate(result.order)}
    jobs = {j.id: j for j in data.jobs}
    machines = {m.id: m for m in data.machines}
    for job_id, machine_id in result.assignments:
        for waiting_id in result.reasons:
            waiting = jobs[waiting_id]
            if rank[waiting_id] < rank[job_id] and result.reasons[waiting_id].code not in (
                "over_quota",
            ):
                assert first_failure(waiting, machines[machine_id], data) is not None


@settings(max_examples=200, deadline=None)
@given(parks())
def test_queue_order_is_priority_then_first_come(data: PassInput) -> None:
    order = schedule(data).order
    jobs = {j.id: j for j in data.jobs}
    keys = [(-jobs[i].priority, jobs[i].submitted_at, i) for i in order]
    assert keys == sorted(keys)


def test_backfill_runs_a_short_job_before_a_slot_but_not_a_long_one() -> None:
    machine = MachineSlot(1, "fdm", MachineState.IDLE)
    booking = Reservation(1, member_id=9, start=NOW + 3600, end=NOW + 7200)
    short = WaitingJob(1, 2, "fdm", 1800, NOW - 10, 100.0)
    long = WaitingJob(2, 2, "fdm", 5400, NOW - 20, 200.0)
    data = PassInput(NOW, (short, long), (machine,), {2: frozenset({"fdm"})}, (booking,))
    result = schedule(data)
    assert result.assignments == ((1, 1),)
    assert result.reasons[2].code == "reserved"


def test_reasons_name_the_obstacle() -> None:
    machines = (MachineSlot(1, "fdm", MachineState.BUSY, busy_until=NOW + 600),
                MachineSlot(2, "laser", MachineState.MAINTENANCE))
    jobs = (
        WaitingJob(1, 1, "fdm", 60, NOW, 1.0),
        WaitingJob(2, 2, "fdm", 60, NOW, 1.0),
        WaitingJob(3, 1, "laser", 60, NOW, 1.0),
        WaitingJob(4, 1, "mill", 60, NOW, 1.0),
        WaitingJob(5, 1, "fdm", 60, NOW, 1.0, unfit_machines=frozenset({1}),
                   unfit_reason="The part is taller than the printer."),
        WaitingJob(6, 3, "fdm", 7200, NOW, 1.0),
    )
    certified = {1: frozenset({"fdm", "laser", "mill"}), 2: frozenset(), 3: frozenset({"fdm"})}
    result = schedule(PassInput(NOW, jobs, machines, certified,
                                weekly_room_s={(3, "fdm"): 3600}))
    codes = {job_id: r.code for job_id, r in result.reasons.items()}
    assert codes == {1: "machines_busy", 2: "not_certified", 3: "machines_unavailable",
                     4: "no_machine_in_class", 5: "no_fitting_machine", 6: "over_quota"}
    assert result.reasons[1].details["eta"] == NOW + 600
    assert "maintenance" in result.reasons[3].message
    assert result.reasons[5].message == "The part is taller than the printer."


def test_rank_prefers_loaded_material_then_preferred_machine() -> None:
    machines = (MachineSlot(1, "fdm", MachineState.IDLE, "PETG"),
                MachineSlot(2, "fdm", MachineState.IDLE, "PLA"),
                MachineSlot(3, "fdm", MachineState.IDLE, "PLA"))
    certified = {1: frozenset({"fdm"})}
    pla = WaitingJob(1, 1, "fdm", 60, NOW, 5.0, material="PLA", preferred_machine_id=3)
    assert schedule(PassInput(NOW, (pla,), machines, certified)).assignments == ((1, 3),)
    abs_job = WaitingJob(1, 1, "fdm", 60, NOW, 5.0, material="ABS", preferred_machine_id=2)
    assert schedule(PassInput(NOW, (abs_job,), machines, certified)).assignments == ((1, 2),)
