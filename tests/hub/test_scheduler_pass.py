"""The scheduling pass against the database: assignments, reasons, one scheduler at a time."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from fabhub.clock import utc_now
from fabhub.db import connect
from fabhub.jobqueue import access
from fabhub.jobqueue.jobs import get_job, list_jobs
from fabhub.jobqueue.machines import set_manual_state
from fabhub.jobqueue.scheduler import SchedulerSettings, run_pass
from fabhub.members import find_by_username
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
