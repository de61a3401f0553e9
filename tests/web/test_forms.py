"""Forms refuse bad input next to the field, in plain words, and keep what was typed."""

from __future__ import annotations

import io
import re

from flask import Flask
from flask.testing import FlaskClient

from fabhub.db import opened
from tests.conftest import csrf_token
from tests.hub.conftest import SMALL_PRINT, TOO_BIG
from tests.web.conftest import Lab, client_as


def errors_of(page: str, field: str) -> str:
    """The error list rendered next to ``field``."""
    match = re.search(rf'<ul class="errors" id="{field}-errors">(.*?)</ul>', page, re.S)
    assert match, f"no errors next to {field}"
    return re.sub(r"<[^>]+>", " ", match.group(1))


def test_bad_profile_is_refused_next_to_the_field_and_kept(app: Flask, lab: Lab) -> None:
    client = client_as(app, "gina")
    url = f"/machines/{lab.machine_id}"
    typed = 'kind = "fdm"\nbogus_key = 3\n'
    answer = client.post(url, data={"profile": typed, "csrf_token": csrf_token(client, url)})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "bogus_key: unknown key" in errors_of(page, "profile")
    assert "bogus_key = 3" in page  # the typed text is still in the editor
    with opened(app.config["DATABASE"]) as db:
        stored = db.execute("SELECT profile_toml FROM machines WHERE id = ?",
                            [lab.machine_id]).fetchone()[0]
    assert "bogus_key" not in stored


def test_new_machine_name_taken(app: Flask, lab: Lab) -> None:
    client = client_as(app, "gina")
    token = csrf_token(client, "/machines/new")
    profile = client.get("/machines/" + str(lab.machine_id) + "/profile.toml").get_data(
        as_text=True)
    answer = client.post("/machines/new", data={"name": "Prusa 1", "profile": profile,
                                                "csrf_token": token})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "already exists" in page and 'value="Prusa 1"' in page
    imported = client.post("/machines/new", data={
        "name": "Prusa 2", "profile": "", "csrf_token": token,
        "profile_file": (io.BytesIO(profile.encode()), "shared.toml")},
        content_type="multipart/form-data")
    assert imported.status_code == 302


def test_reservation_times_are_checked_next_to_their_fields(app: Flask, lab: Lab) -> None:
    client = client_as(app, "gina")
    token = csrf_token(client, "/reservations")
    answer = client.post("/reservations", data={
        "machine_id": lab.machine_id, "username": "nobody", "starts_at": "tomorrow 2pm",
        "ends_at": "2030-01-01T10:00:00", "csrf_token": token})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "ISO 8601" in errors_of(page, "starts_at")
    assert "time zone" in errors_of(page, "ends_at")
    assert "no member" in errors_of(page, "username")
    assert 'value="tomorrow 2pm"' in page


def test_certification_expiry_in_the_past_is_refused(app: Flask, lab: Lab) -> None:
    client = client_as(app, "gina")
    token = csrf_token(client, "/members/linus")
    answer = client.post("/members/linus/certifications", data={
        "cert-machine_class": "fdm-small", "cert-expires_on": "2001-01-01",
        "csrf_token": token})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "future" in errors_of(page, "cert-expires_on")
    assert 'value="2001-01-01"' in page


def upload(client: FlaskClient, data: bytes) -> tuple[str, int, str]:
    """Post a file to the upload form as ada would; return the page, status and CSRF token."""
    token = csrf_token(client, "/upload")
    answer = client.post("/upload", data={
        "file": (io.BytesIO(data), "part.gcode"), "machine_class": "fdm-small",
        "material": "PLA", "preferred_machine_id": "", "csrf_token": token},
        content_type="multipart/form-data")
    return answer.get_data(as_text=True), answer.status_code, token


def test_upload_preview_then_confirm_queues_once(app: Flask, lab: Lab) -> None:
    client = client_as(app, "ada")
    page, status, token = upload(client, SMALL_PRINT)
    assert status == 200 and "Queue this job" in page
    fields = dict(re.findall(r'id="(preview|machine_class|material|filename)" '
                             r'name="\1" type="hidden" value="([^"]*)"', page))
    assert set(fields) == {"preview", "machine_class", "material", "filename"}, fields
    form = {**fields, "preferred_machine_id": "", "name": "", "csrf_token": token}
    first = client.post("/upload/confirm", data=form)
    assert first.status_code == 302 and "/jobs/" in first.headers["Location"]
    with opened(app.config["DATABASE"]) as db:
        assert db.execute("SELECT count(*) FROM jobs").fetchone()[0] == 2  # lab's + this one
    again = client.post("/upload/confirm", data=form)
    assert again.status_code == 410  # the preview was used up


def test_too_big_upload_is_not_queued(app: Flask, lab: Lab) -> None:
    page, status, _token = upload(client_as(app, "ada"), TOO_BIG)
    assert status == 200
    assert 'id="not-queued"' in page and "Queue this job" not in page
    assert "reaches X=400 mm" in page and "(line 10)" in page
    with opened(app.config["DATABASE"]) as db:
        assert db.execute("SELECT count(*) FROM jobs").fetchone()[0] == 1  # only the lab's
