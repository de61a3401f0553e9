"""Live views answer conditional polls: an empty 304 while nothing a viewer sees changed."""

from __future__ import annotations

import time

from flask import Flask

from fabhub.clock import utc_now_iso
from fabhub.db import opened
from fabhub.nodes import registry, runs
from fabhub.scheduling import run_now
from fabhub.web import live
from tests.web.conftest import Lab, client_as


def start_job(app: Flask, lab: Lab, percent: float | None = None) -> None:
    """Assign the lab's job to its printer and let the node report it started."""
    with opened(app.config["DATABASE"]) as db:
        run_now(db, app.config)
        node = registry.get_node(db, lab.node_id)
        assert runs.claim(db, node) is not None
        events = [{"type": "started", "at": utc_now_iso()}]
        if percent is not None:
            events.append({"type": "progress", "lines_acked": 1, "percent": percent,
                           "at": utc_now_iso()})
        runs.apply_batch(db, node, lab.job_id, 1, events)


def test_job_live_view_answers_304_until_it_changes(app: Flask, lab: Lab, monkeypatch) -> None:
    monkeypatch.setattr(live, "CLOCK_RESYNC_S", 1e9)  # no resync in the middle of the test
    start_job(app, lab)
    ada = client_as(app, "ada")
    first = ada.get(f"/jobs/{lab.job_id}/live")
    assert first.status_code == 200 and first.json["state"] == "running"
    assert first.json["ticking"] and first.json["elapsed_s"] is not None
    etag = first.headers["ETag"]
    time.sleep(live.SNAPSHOT_TTL_S + 0.7)  # a new snapshot, and the clocks have moved on
    again = ada.get(f"/jobs/{lab.job_id}/live", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    with opened(app.config["DATABASE"]) as db:
        runs.apply_batch(db, registry.get_node(db, lab.node_id), lab.job_id, 2,
                         [{"type": "progress", "lines_acked": 5, "percent": 42.0,
                           "at": utc_now_iso()}])
    time.sleep(live.SNAPSHOT_TTL_S + 0.1)
    changed = ada.get(f"/jobs/{lab.job_id}/live", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.json["percent"] == 42.0
    assert changed.headers["ETag"] != etag


def test_running_clocks_renew_the_etag_now_and_then(monkeypatch) -> None:
    monkeypatch.setattr(live, "CLOCK_RESYNC_S", 0.2)
    still = live.version_tag({"percent": 5}, clocks_running=False)
    running = live.version_tag({"percent": 5}, clocks_running=True)
    time.sleep(0.25)
    assert live.version_tag({"percent": 5}, clocks_running=False) == still
    assert live.version_tag({"percent": 5}, clocks_running=True) != running


def test_shared_job_snapshot_still_checks_who_may_see_it(app: Flask, lab: Lab) -> None:
    start_job(app, lab)
    etag = client_as(app, "ada").get(f"/jobs/{lab.job_id}/live").headers["ETag"]
    other = client_as(app, "linus").get(f"/jobs/{lab.job_id}/live",
                                       headers={"If-None-Match": etag})
    assert other.status_code == 404
    assert client_as(app, None).get(f"/jobs/{lab.job_id}/live").status_code in (302, 401)


def test_board_names_follow_the_lab_setting_not_a_shared_snapshot(app: Flask, lab: Lab,
                                                                 monkeypatch) -> None:
    monkeypatch.setattr(live, "CLOCK_RESYNC_S", 1e9)
    start_job(app, lab, percent=30.0)
    viewer = client_as(app, None)
    hidden = viewer.get("/board/tiles")
    assert hidden.status_code == 200 and "30.0 %" in hidden.get_data(as_text=True)
    assert "ada" not in hidden.get_data(as_text=True).lower()
    assert viewer.get("/board/tiles", headers={
        "If-None-Match": hidden.headers["ETag"]}).status_code == 304
    app.config["BOARD_SHOW_NAMES"] = True
    shown = viewer.get("/board/tiles", headers={"If-None-Match": hidden.headers["ETag"]})
    assert shown.status_code == 200 and "ada" in shown.get_data(as_text=True)
    french = viewer.get("/board/tiles", headers={"Accept-Language": "fr",
                                                 "If-None-Match": shown.headers["ETag"]})
    assert french.status_code == 200 and "restant" in french.get_data(as_text=True)
