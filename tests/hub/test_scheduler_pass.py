"""The scheduling pass against the database: assignments, reasons, one scheduler at a time."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from fabhub.clock import utc_now
from fabhub.db import connect
from fabhub.jobqueue import access
from fabhub.jobqueue.jobs import (
    Move,
    cancel_job,
    get_job,
    job_events,
    list_jobs,
    transition_many,
)
from fabhub.jobqueue.machines import set_manual_state
from fabhub.jobqueue.scheduler import SchedulerSettings, assign_pass, run_pass
from fabhub.jobs.states import IllegalTransition, JobState
from fabhub.members import find_by_username
from fabhub.problems import Problem
from tests.hub.queue_fixtures import FixedUsage, add_park, insert_job


def members(db) -> dict[str, int]:
    return {name: find_by_username(db, name).id for name in ("ada", "linus", "gina")}


def test_pass_assigns_certified_jobs_and_explains_the_rest(instance: Path) -> None:
    db = connect(instance / "fabhub.sqlite3")
    ids = members(db)
    park = add_park(db, {"fdm-marlin": 1})
    now = utc_now()
    access.certify(db, ids["ada"], "fdm-small", ids["gina"])
    first = insert_job(db, ids["ada"], "fdm-small", now - timedelta(minutes=5))
    second = insert_job(db, ids["ada"], "fdm-small", now - timedelta(minutes=4))
    uncertified = insert_job(db, ids["linus"], "fdm-small", now - timedelta(minutes=9))
    summary = run_pass(db, now, SchedulerSettings(), FixedUsage())
    assert summary.assigned == ((first, park["fdm-marlin"][0]),)
    assert get_job(db, first).state == "assigned"
    waiting = get_job(db, second)
    assert waiting.wait_code == "machines_busy"
    assert waiting.queue_position is not None
    assert get_job(db, uncertified).wait_code == "not_certified"
    events = db.execute("SELECT actor_kind, to_state FROM job_events WHERE job_id = ?",
                        [first]).fetchall()
    assert [tuple(e) for e in events] == [("scheduler", "assigned")]


def test_maintenance_changes_the_reason(instance: Path) -> None:
    db = connect(instance / "fabhub.sqlite3")
    ids = members(db)
    park = add_park(db, {"fdm-marlin": 1})
    access.certify(db, ids["ada"], "fdm-small", ids["gina"])
    set_manual_state(db, park["fdm-marlin"][0], "maintenance", "nozzle swap", ids["gina"])
    job = insert_job(db, ids["ada"], "fdm-small", utc_now())
    run_pass(db, utc_now(), SchedulerSettings(), FixedUsage())
    reason = get_job(db, job)
    assert reason.wait_code == "machines_unavailable"
    assert "maintenance" in reason.wait_message


def test_less_used_member_goes_first(instance: Path) -> None:
    db = connect(instance / "fabhub.sqlite3")
    ids = members(db)
    add_park(db, {"fdm-marlin": 1})
    for name in ("ada", "linus"):
        access.certify(db, ids[name], "fdm-small", ids["gina"])
    now = utc_now()
    heavy = insert_job(db, ids["ada"], "fdm-small", now - timedelta(minutes=10))
    light = insert_job(db, ids["linus"], "fdm-small", now - timedelta(minutes=1))
    usage = FixedUsage({ids["ada"]: 40.0, ids["linus"]: 0.5})
    summary = run_pass(db, now, SchedulerSettings(), usage)
    assert [job for job, _ in summary.assigned] == [light]
    assert get_job(db, heavy).queue_position == 1


def test_weekly_quota_holds_a_job(instance: Path) -> None:
    from fabhub.jobqueue.classes import assign_member_class, set_member_class

    db = connect(instance / "fabhub.sqlite3")
    ids = members(db)
    add_park(db, {"fdm-marlin": 1})
    access.certify(db, ids["ada"], "fdm-small", ids["gina"])
    set_member_class(db, "student", weekly_hours_per_class=2.0)
    assign_member_class(db, "ada", "student")
    job = insert_job(db, ids["ada"], "fdm-small", utc_now(), estimated_s=3600)
    run_pass(db, utc_now(), SchedulerSettings(),
             FixedUsage(week={(ids["ada"], "fdm-small"): 1.5}))
    assert get_job(db, job).wait_code == "over_quota"


def test_concurrent_passes_never_assign_twice(instance: Path) -> None:
    db = connect(instance / "fabhub.sqlite3")
    ids = members(db)
    add_park(db, {"fdm-marlin": 3})
    access.certify(db, ids["ada"], "fdm-small", ids["gina"])
    now = utc_now()
    for i in range(40):
        insert_job(db, ids["ada"], "fdm-small", now - timedelta(seconds=i))
    db.conn.close()
    errors: list[BaseException] = []

    def worker() -> None:
        own = connect(instance / "fabhub.sqlite3")
        try:
            for _ in range(5):
                run_pass(own, utc_now(), SchedulerSettings(), FixedUsage())
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.conn.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db = connect(instance / "fabhub.sqlite3")
    assigned = list_jobs(db, states=("assigned",))
    assert len(assigned) == 3
    assert len({j.machine_id for j in assigned}) == 3
    transitions = db.execute("SELECT count(*) FROM job_events WHERE to_state = 'assigned'"
                             ).fetchone()[0]
    assert transitions == 3


def test_the_assignment_pass_assigns_as_a_full_pass_reading_only_free_classes(
        instance: Path) -> None:
    """The loop's quick pass makes the same assignments, through the transition table."""
    db = connect(instance / "fabhub.sqlite3")
    ids = members(db)
    park = add_park(db, {"fdm-marlin": 2, "laser-grbl": 1})
    now = utc_now()
    for cls in ("fdm-small", "laser"):
        access.certify(db, ids["ada"], cls, ids["gina"])
        access.certify(db, ids["linus"], cls, ids["gina"])
    for minutes in range(6):
        insert_job(db, ids["ada" if minutes % 2 else "linus"], "fdm-small",
                   now - timedelta(minutes=minutes))
    laser_jobs = [insert_job(db, ids["ada"], "laser", now - timedelta(minutes=m),
                             material=None) for m in (1, 2)]
    first = assign_pass(db, now, SchedulerSettings(), FixedUsage())
    assert first.waiting == 8  # both classes have an idle machine: the whole queue,
    assert first.explained  # so the reasons were stored in the same transaction
    twin = connect(instance / "twin.sqlite3")
    db.conn.backup(twin.conn)
    db.execute("UPDATE jobs SET state = 'queued', machine_id = NULL, assigned_at = NULL "
               "WHERE state = 'assigned'")  # replay the same state for the full pass
    db.execute("DELETE FROM job_events WHERE to_state = 'assigned'")
    db.conn.commit()
    full = run_pass(db, now, SchedulerSettings(), FixedUsage())
    assert sorted(first.assigned) == sorted(full.assigned)
    assert {m for _, m in first.assigned} == {*park["fdm-marlin"], *park["laser-grbl"]}
    events = twin.execute("SELECT actor_kind, from_state, to_state FROM job_events "
                          "WHERE to_state = 'assigned'").fetchall()
    assert [tuple(e) for e in events] == [("scheduler", "queued", "assigned")] * 3
    # Every machine is taken now: the next quick pass reads no job at all.
    set_manual_state(db, park["laser-grbl"][0], "maintenance", "lens", ids["gina"])
    quick = assign_pass(db, now, SchedulerSettings(), FixedUsage())
    assert quick.waiting == 0 and not quick.explained
    assert get_job(db, laser_jobs[1]).state == "queued"


def test_a_batched_transition_moves_all_or_nothing(instance: Path) -> None:
    db = connect(instance / "fabhub.sqlite3")
    ids = members(db)
    add_park(db, {"fdm-marlin": 1})
    jobs = [insert_job(db, ids["ada"], "fdm-small", utc_now()) for _ in range(3)]
    cancel_job(db, jobs[2], find_by_username(db, "ada"))
    moves = [Move(job, "assigned to machine 1", {"machine_id": None}) for job in jobs]
    with pytest.raises(Problem) as refused:
        transition_many(db, JobState.QUEUED, JobState.ASSIGNED, moves, actor_kind="scheduler")
    assert refused.value.status == 409
    assert [get_job(db, job).state for job in jobs] == ["queued", "queued", "cancelled"]
    with pytest.raises(IllegalTransition):
        transition_many(db, JobState.CANCELLED, JobState.ASSIGNED, moves[2:],
                        actor_kind="scheduler")
    transition_many(db, JobState.QUEUED, JobState.CANCELLED, moves[:2], actor_kind="member",
                    actor_member_id=ids["gina"])
    assert [e["to_state"] for e in job_events(db, jobs[0])] == ["cancelled"]
