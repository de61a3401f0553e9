"""Gatekeepers set a machine's loaded material and a job's boost; the queue page shows both."""

from __future__ import annotations

import html
import re

import pytest
from flask import Flask

from fabhub.db import opened
from fabhub.jobqueue import machines
from fabhub.members import require_member
from tests.conftest import csrf_token
from tests.web.conftest import Lab, client_as
from tests.web.test_forms import errors_of


@pytest.fixture
def waiting_lab(app: Flask, lab: Lab) -> Lab:
    """The lab with its printer in maintenance, so that the job keeps waiting in the queue."""
    with opened(app.config["DATABASE"]) as db:
        machines.set_manual_state(db, lab.machine_id, "maintenance", "test",
                                  require_member(db, "gina").id)
    return lab


def _queue_card(client, job_id: int) -> str:
    page = client.get("/queue?scope=all").get_data(as_text=True)
    card = re.search(rf'<article class="card job-card" id="job-{job_id}">(.*?)</article>',
                     page, re.S)
    assert card, page[:2000]
    return html.unescape(re.sub(r"<[^>]+>", " ", card.group(1)))


def test_gatekeeper_sets_the_loaded_material(app: Flask, waiting_lab: Lab) -> None:
    lab = waiting_lab
    client = client_as(app, "gina")
    url = f"/machines/{lab.machine_id}/material"
    assert "not loaded on any fdm-small machine yet" in _queue_card(client, lab.job_id)
    assert url in client.get(f"/machines/{lab.machine_id}").get_data(as_text=True)
    token = csrf_token(client, url)
    refused = client.post(url, data={"loaded_material": "Unobtainium", "csrf_token": token})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "accepts: PLA, PETG" in errors_of(page, "loaded_material")
    assert 'value="Unobtainium"' in page
    done = client.post(url, data={"loaded_material": "pla", "csrf_token": token})
    assert done.status_code == 302 and done.headers["Location"].endswith(
        f"/machines/{lab.machine_id}")
    with opened(app.config["DATABASE"]) as db:
        assert machines.get_machine(db, lab.machine_id).loaded_material == "PLA"
    card = _queue_card(client, lab.job_id)
    assert "PLA, loaded on Prusa 1" in card and "not loaded" not in card
    cleared = client.post(url, data={"loaded_material": "", "csrf_token": token})
    assert cleared.status_code == 302
    assert "not loaded on any" in _queue_card(client, lab.job_id)


def test_material_page_and_boost_are_for_gatekeepers_only(app: Flask, waiting_lab: Lab) -> None:
    maker = client_as(app, "ada")
    assert 'id="boost-form"' not in maker.get(f"/jobs/{waiting_lab.job_id}").get_data(as_text=True)
    token = csrf_token(maker, "/queue")
    for url, data in ((f"/jobs/{waiting_lab.job_id}/boost", {"boost": "1"}),
                      (f"/machines/{waiting_lab.machine_id}/material",
                       {"loaded_material": "PLA"})):
        assert maker.post(url, data={**data, "csrf_token": token}).status_code == 403
    assert client_as(app, "gina").post(f"/jobs/{waiting_lab.job_id}/boost",
                                       data={"boost": "1"}).status_code == 400  # no CSRF


def test_gatekeeper_boosts_a_job(app: Flask, waiting_lab: Lab) -> None:
    lab = waiting_lab
    client = client_as(app, "gina")
    job_page = client.get(f"/jobs/{lab.job_id}").get_data(as_text=True)
    assert 'id="boost-form"' in job_page
    assert re.search(r'<input id="boost"[^>]* value="0">', job_page)
    token = csrf_token(client, f"/jobs/{lab.job_id}")
    url = f"/jobs/{lab.job_id}/boost"
    for typed in ("2", "lots", ""):
        refused = client.post(url, data={"boost": typed, "csrf_token": token})
        page = refused.get_data(as_text=True)
        assert refused.status_code == 422, typed
        assert errors_of(page, "boost").count("from 0 (no boost) to 1") == 1, typed
        assert f'value="{typed}"' in page or not typed
    done = client.post(url, data={"boost": "0.5", "csrf_token": token})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/jobs/{lab.job_id}")
    card = _queue_card(client, lab.job_id)
    boost_row = re.search(r"gatekeeper boost\s+(\S+)\s+(\S+)\s+(\S+)", card)
    assert boost_row and boost_row.groups() == ("0.500", "2000.0", "1000.000"), card


def test_refusals_read_in_french(app: Flask, waiting_lab: Lab) -> None:
    client = client_as(app, "gina")
    french = {"Accept-Language": "fr"}
    token = csrf_token(client, f"/jobs/{waiting_lab.job_id}")
    page = client.post(f"/jobs/{waiting_lab.job_id}/boost", data={
        "boost": "7", "csrf_token": token}, headers=french).get_data(as_text=True)
    assert "un nombre de 0" in errors_of(page, "boost")
    page = client.post(f"/machines/{waiting_lab.machine_id}/material", data={
        "loaded_material": "bois", "csrf_token": token}, headers=french).get_data(as_text=True)
    assert "Cette machine accepte : PLA" in html.unescape(errors_of(page, "loaded_material"))
