"""SIGKILL the hub during a burst of submissions and scheduling passes; lose and double nothing."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import requests

from fabhub.db import opened
from fabhub.jobqueue import access
from fabhub.members import find_by_username
from tests.conftest import make_token
from tests.hub.conftest import SMALL_PRINT
from tests.hub.hub_process import HubProcess
from tests.hub.queue_fixtures import add_park

KILLS = 4
SUBMISSIONS = 60


def submitter(hub: HubProcess, token: str, accepted: dict[str, int], done: threading.Event,
              rnd: random.Random) -> None:
    """Submit jobs, each with its own idempotency key, retrying across hub restarts."""
    for n in range(SUBMISSIONS):
        key = f"burst-{n}"
        body = SMALL_PRINT + f"; variant {rnd.randrange(4)}\n".encode()
        while True:
            try:
                response = requests.post(
                    hub.url + "/api/v1/jobs",
                    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
                    files={"file": ("part.gcode", body)},
                    data={"machine_class": "fdm-small", "material": "PLA"}, timeout=10)
            except requests.RequestException:
                time.sleep(0.05)  # the hub is down: retry the same key
                continue
            assert response.status_code in (200, 201), response.text
            accepted[key] = response.json()["id"]
            break
    done.set()


def test_sigkill_during_submissions_loses_and_doubles_nothing(instance: Path) -> None:
    rnd = random.Random(20261125)
    with opened(instance / "fabhub.sqlite3") as db:
        add_park(db, {"fdm-marlin": 8})
        ada = find_by_username(db, "ada")
        gina = find_by_username(db, "gina")
        access.certify(db, ada.id, "fdm-small", gina.id)
    from fabhub.app import create_app

    token = make_token(create_app({"TESTING": True}, instance=instance), "ada")
    hub = HubProcess(instance, env={"FABHUB_SCHEDULER_INTERVAL_S": "0.2"})
    hub.start()
    accepted: dict[str, int] = {}
    done = threading.Event()
    thread = threading.Thread(target=submitter, args=(hub, token, accepted, done, rnd))
    thread.start()
    try:
        for _ in range(KILLS):
            time.sleep(rnd.uniform(0.2, 1.2))
            hub.kill()
            hub.start()
        done.wait(timeout=180)
    finally:
        thread.join(timeout=60)
        hub.stop()
    assert done.is_set(), "the submitter did not finish"
    assert len(accepted) == SUBMISSIONS
    with opened(instance / "fabhub.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute("SELECT idempotency_key, count(*) FROM jobs GROUP BY idempotency_key"
                          ).fetchall()
        assert {r[0]: r[1] for r in rows} == {key: 1 for key in accepted}
        ids = {r[0]: r[1] for r in db.execute("SELECT idempotency_key, id FROM jobs")}
        assert ids == accepted
        events = db.execute("SELECT job_id, count(*) FROM job_events WHERE to_state = "
                            "'assigned' GROUP BY job_id HAVING count(*) > 1").fetchall()
        assert events == [], "a job was assigned twice"
        machines = db.execute("SELECT machine_id, count(*) FROM jobs WHERE state = 'assigned' "
                              "GROUP BY machine_id").fetchall()
        assert all(count == 1 for _, count in machines)
        assert len(machines) == 8, "every printer should have received one job"
        for job_id in accepted.values():
            first = db.execute("SELECT to_state FROM job_events WHERE job_id = ? ORDER BY id "
                               "LIMIT 1", [job_id]).fetchone()[0]
            assert first == "queued"
