"""The queue's JSON API: submit, list with reasons, cancel, machines, access rules, bad input."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from fabhub.clock import iso_from_epoch, utc_now
from fabhub.jobs.machine_profile import dump_profile, example_profile
from tests.hub.conftest import TOO_BIG, Api


def job_count(app: Flask) -> int:
    from fabhub.db import opened

    with opened(app.config["DATABASE"]) as db:
        return db.execute("SELECT count(*) FROM jobs").fetchone()[0]


def as_scheduled(api: Api, job: dict) -> dict:
    """The job as shown once the scheduler has passed (the upload's answer comes before)."""
    return api.get(f"/api/v1/jobs/{job['id']}").get_json()


def test_submit_waits_for_certification_then_runs(gina: Api, ada: Api, printer: int) -> None:
    response = ada.submit()
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["state"] == "queued"
    job = as_scheduled(ada, response.get_json())
    assert job["state"] == "queued"
    assert job["queue"]["reason"]["code"] == "not_certified"
    assert job["priority"]["fair_share"]["factor"] == 1.0
    assert job["estimated_s"] > 0
    certified = gina.post("/api/v1/certifications",
                          {"username": "ada", "machine_class": "fdm-small"})
    assert certified.status_code == 201
    shown = ada.get(f"/api/v1/jobs/{job['id']}").get_json()
    assert shown["state"] == "assigned"
    assert shown["machine_id"] == printer
    assert [e["to_state"] for e in shown["events"]] == ["queued", "assigned"]


def test_material_is_stored_as_the_profiles_spell_it(ada: Api, printer: int) -> None:
    # The matcher compares a job's material with the loaded one exactly: "pla" is "PLA".
    job = ada.submit(material=" pla ").get_json()
    assert job["material"] == "PLA"


def test_second_job_waits_behind_busy_machine_with_position(gina: Api, ada: Api,
                                                            printer: int) -> None:
    gina.post("/api/v1/certifications", {"username": "ada", "machine_class": "fdm-small"})
    ada.submit()
    second = as_scheduled(ada, ada.submit().get_json())
    assert second["queue"]["position"] == 1
    assert second["queue"]["reason"]["code"] == "machines_busy"
    listed = ada.get("/api/v1/jobs?state=queued").get_json()["jobs"]
    assert [j["id"] for j in listed] == [second["id"]]


def test_out_of_envelope_upload_is_refused_and_changes_nothing(app: Flask, ada: Api,
                                                               printer: int) -> None:
    before = job_count(app)
    response = ada.submit(TOO_BIG)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "does_not_fit"
    assert "line" in error["message"]
    assert error["details"]["findings"]
    assert job_count(app) == before


def test_binary_upload_is_refused(app: Flask, ada: Api, printer: int) -> None:
    response = ada.submit(bytes(range(256)) * 40)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "not_gcode"
    assert job_count(app) == 0


def test_unknown_machine_class_is_422(app: Flask, ada: Api, printer: int) -> None:
    response = ada.submit(machine_class="fdm-huge")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "unknown_machine_class"
    assert "fdm-small" in error["message"]
    assert job_count(app) == 0


def test_idempotency_key_queues_once(app: Flask, ada: Api, printer: int) -> None:
    first = ada.submit(**{"Idempotency-Key": "abc-1"})
    again = ada.submit(**{"Idempotency-Key": "abc-1"})
    assert first.status_code == 201 and again.status_code == 200
    assert first.get_json()["id"] == again.get_json()["id"]
    assert job_count(app) == 1


def test_cancel_rules(ada: Api, linus: Api, gina: Api, printer: int) -> None:
    job = ada.submit().get_json()
    other = linus.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert other.status_code == 403
    assert ada.get(f"/api/v1/jobs/{job['id']}").get_json()["state"] == "queued"
    missing = ada.post("/api/v1/jobs/99999/cancel")
    assert missing.status_code == 404
    done = ada.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert done.status_code == 200 and done.get_json()["state"] == "cancelled"
    again = ada.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert again.status_code == 409


def test_makers_cannot_see_others_jobs_or_certify(ada: Api, linus: Api, printer: int) -> None:
    job = ada.submit().get_json()
    assert linus.get(f"/api/v1/jobs/{job['id']}").status_code == 404
    assert linus.get("/api/v1/jobs?scope=all").status_code == 403
    assert linus.post("/api/v1/certifications",
                      {"username": "linus", "machine_class": "fdm-small"}).status_code == 403
    assert linus.post(f"/api/v1/machines/{printer}/state",
                      {"state": "maintenance"}).status_code == 403


def test_reservations_refuse_past_and_overlap(ada: Api, linus: Api, printer: int) -> None:
    now = utc_now()
    slot = {"machine_id": printer,
            "starts_at": iso_from_epoch((now + timedelta(hours=1)).timestamp()),
            "ends_at": iso_from_epoch((now + timedelta(hours=3)).timestamp())}
    assert ada.post("/api/v1/reservations", slot).status_code == 201
    overlap = dict(slot, starts_at=iso_from_epoch((now + timedelta(hours=2)).timestamp()),
                   ends_at=iso_from_epoch((now + timedelta(hours=4)).timestamp()))
    clash = linus.post("/api/v1/reservations", overlap)
    assert clash.status_code == 409
    assert clash.get_json()["error"]["code"] == "reservation_overlap"
    past = dict(slot, starts_at=iso_from_epoch((now - timedelta(hours=2)).timestamp()),
                ends_at=iso_from_epoch((now - timedelta(hours=1)).timestamp()))
    assert linus.post("/api/v1/reservations", past).status_code == 422
    naive = dict(slot, starts_at="2030-01-01T10:00:00", ends_at="2030-01-01T11:00:00")
    response = linus.post("/api/v1/reservations", naive)
    assert response.status_code == 422 and "time zone" in response.get_json()["error"]["message"]
    assert len(ada.get("/api/v1/reservations").get_json()["reservations"]) == 1


def test_reservation_keeps_others_off_the_machine(gina: Api, ada: Api, linus: Api,
                                                  printer: int) -> None:
    for name in ("ada", "linus"):
        gina.post("/api/v1/certifications", {"username": name, "machine_class": "fdm-small"})
    now = utc_now()
    gina.post("/api/v1/reservations", {
        "username": "ada", "machine_id": printer,
        "starts_at": iso_from_epoch((now + timedelta(seconds=5)).timestamp()),
        "ends_at": iso_from_epoch((now + timedelta(hours=2)).timestamp())})
    job = as_scheduled(linus, linus.submit().get_json())
    assert job["state"] == "queued"
    assert job["queue"]["reason"]["code"] == "reserved"


def test_machine_state_and_profile_rules(gina: Api, printer: int) -> None:
    bad = gina.post(f"/api/v1/machines/{printer}/state", {"state": "busy"})
    assert bad.status_code == 422
    profile = dump_profile(example_profile("fdm-marlin")).replace("x_max = 250.0",
                                                                  "x_max = -5.0")
    wrong = gina.put(f"/api/v1/machines/{printer}/profile", {"profile": profile})
    assert wrong.status_code == 422
    assert "envelope.x_max" in wrong.get_json()["error"]["message"]
    unknown = dump_profile(example_profile("fdm-marlin")) + "\nwarp_drive = true\n"
    refused = gina.put(f"/api/v1/machines/{printer}/profile", {"profile": unknown})
    assert "warp_drive" in refused.get_json()["error"]["message"]
    history = gina.get(f"/api/v1/machines/{printer}/profile-history").get_json()["history"]
    assert len(history) == 1
    assert gina.post("/api/v1/machines/999/state", {"state": "idle"}).status_code == 404


def test_member_class_limits(gina: Api, ada: Api, printer: int) -> None:
    assert gina.put("/api/v1/member-classes/student",
                    {"max_queued_jobs": 1, "max_job_s": 36000}).status_code == 200
    assert gina.put("/api/v1/members/ada/member-class",
                    {"member_class": "student"}).status_code == 200
    assert ada.submit().status_code == 201
    second = ada.submit()
    assert second.status_code == 409
    assert second.get_json()["error"]["code"] == "too_many_jobs"
