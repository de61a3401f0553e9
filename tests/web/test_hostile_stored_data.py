"""Pages never fail on stored node data, whatever a row holds.

Rows written before node data was checked at intake (cut JSON, text where numbers
belong, infinite percentages) are written straight into the database here, and
every page that shows a job's run, a machine or a node is rendered for the
roles who see it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from fabhub.clock import utc_now_iso
from fabhub.db import opened
from fabhub.nodes import registry, runs
from fabhub.scheduling import run_now
from tests.web.conftest import Lab, client_as
from tests.web.test_pages_roles import page_urls

CUT = json.dumps({"type": "progress", "at": "2026-01-01T00:00:00Z", "percent": 50.0,
                  "log": "x" * 5000})[:4000]
HOSTILE_ROWS: dict[str, dict[str, Any]] = {
    "cut JSON": {"progress_json": CUT, "telemetry_json": CUT},
    "not JSON at all": {"progress_json": "<script>", "telemetry_json": "NaN"},
    "text for numbers": {
        "percent": "abc", "lines_acked": "many", "lines_total": "all",
        "progress_json": json.dumps({"type": "progress", "at": "2026-01-01T00:00:00Z",
                                     "percent": "half", "lines_acked": "ten"}),
        "telemetry_json": json.dumps({"type": "telemetry", "at": "2026-01-01T00:00:00Z",
                                      "temperatures": {"T": ["hot", "cold"], "B": "warm"},
                                      "position": {"X": "far", "Y": None}})},
    "infinite percent": {
        "percent": float("inf"), "lines_acked": -3,
        "progress_json": '{"type": "progress", "at": "2026-01-01T00:00:00Z", '
                         '"percent": Infinity}',
        "telemetry_json": '{"temperatures": {"T": [1e999, NaN]}, "position": {"X": -Infinity}}'},
    "NaN percent": {"percent": "NaN", "lines_total": 10**18,
                    "progress_json": '{"percent": NaN}', "telemetry_json": "[" * 100_000},
    "negative infinity and wrong shapes": {
        "percent": float("-inf"), "progress_json": "[1, 2, 3]",
        "telemetry_json": json.dumps({"temperatures": [[210, 210]], "position": "home",
                                      "machine_state": {"nested": True}})},
    "out of range": {
        "percent": 1e300,
        "progress_json": json.dumps({"type": "progress", "at": "2026-01-01T00:00:00Z",
                                     "percent": 1e300, "lines_acked": -1}),
        "telemetry_json": json.dumps({"temperatures": {"T": [1e300, -1e300]},
                                      "position": {"X": 1e300}})},
}
HOSTILE_NODE_TELEMETRY = ['{"temperatures": {"T": ["hot"', "Infinity",
                          json.dumps({"temperatures": {"T": ["a", "b"]}, "x": [1] * 100})]


def running_job(app: Flask, lab: Lab) -> None:
    """The lab's job, claimed by its node and running."""
    with opened(app.config["DATABASE"]) as db:
        run_now(db, app.config)
        node = registry.get_node(db, lab.node_id)
        assert runs.claim(db, node) is not None
        runs.apply_batch(db, node, lab.job_id, 1, [{"type": "started", "at": utc_now_iso()}])


def write_hostile(app: Flask, lab: Lab, columns: dict[str, Any], node_telemetry: str) -> None:
    """Write values straight into the job's run and the node's row, as old rows may hold."""
    with opened(app.config["DATABASE"]) as db, db.atomic():
        db.execute(f"UPDATE job_runs SET {', '.join(f'{k} = ?' for k in columns)} "
                   "WHERE job_id = ?", [*columns.values(), lab.job_id])
        db.execute("UPDATE nodes SET telemetry_json = ?, last_seen_at = ? WHERE id = ?",
                   [node_telemetry, utc_now_iso(), lab.node_id])


def strict_json(text: str) -> Any:
    """Parse JSON as a browser does: NaN and Infinity are not JSON."""
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in a JSON answer")

    return json.loads(text, parse_constant=refuse)


# Pages that show a job's run, its machine or its node, and who sees them.
SHOWING = {None: ("board_pages.board", "board_pages.tiles"),
           "ada": ("board_pages.board", "board_pages.tiles", "job_pages.job", "job_pages.live"),
           "gina": ("board_pages.board", "board_pages.tiles", "job_pages.job", "job_pages.live",
                    "machine_pages.machines", "machine_pages.machine", "node_pages.nodes",
                    "dashboard_pages.dashboard")}


def hostile_lab(app: Flask, lab: Lab, index: int) -> None:
    """The lab's job running, its run and its node holding hostile case number ``index``."""
    running_job(app, lab)
    write_hostile(app, lab, list(HOSTILE_ROWS.values())[index],
                  HOSTILE_NODE_TELEMETRY[index % len(HOSTILE_NODE_TELEMETRY)])


@pytest.mark.parametrize("index", range(len(HOSTILE_ROWS)), ids=list(HOSTILE_ROWS))
def test_pages_showing_node_data_answer_with_hostile_rows(app: Flask, lab: Lab,
                                                          index: int) -> None:
    hostile_lab(app, lab, index)
    urls = page_urls(app, lab)
    for role, showing in SHOWING.items():
        client = client_as(app, role)
        for endpoint in showing:
            answer = client.get(urls[endpoint])
            assert answer.status_code == 200, (role, endpoint, answer.status_code)
        if role is not None:
            live = strict_json(client.get(f"/jobs/{lab.job_id}/live").get_data(as_text=True))
            assert live["state"] == "running"
            assert 0.0 <= live["percent"] <= 100.0
            api = client.get(f"/api/v1/jobs/{lab.job_id}/run")
            assert api.status_code == 200, (role, api.get_data(as_text=True))
            strict_json(api.get_data(as_text=True))


@pytest.mark.parametrize("role", [None, "ada", "gina", "root"])
def test_no_page_fails_on_hostile_rows(app: Flask, lab: Lab, role: str | None) -> None:
    hostile_lab(app, lab, list(HOSTILE_ROWS).index("infinite percent"))
    client = client_as(app, role)
    for url in page_urls(app, lab).values():
        assert client.get(url).status_code < 500, (role, url)


def test_what_does_not_fit_the_schema_reads_as_unknown(app: Flask, lab: Lab) -> None:
    running_job(app, lab)
    write_hostile(app, lab, HOSTILE_ROWS["text for numbers"], HOSTILE_NODE_TELEMETRY[0])
    with opened(app.config["DATABASE"]) as db:
        status = runs.run_status(db, lab.job_id)
    assert status is not None
    assert (status["percent"], status["lines_acked"], status["lines_total"]) == (None, 0, None)
    assert status["progress"] is None and status["telemetry"] is None
    live = client_as(app, "ada").get(f"/jobs/{lab.job_id}/live").json
    assert live["percent"] == 0.0 and live["telemetry"] == {}


def test_valid_stored_data_still_shows(app: Flask, lab: Lab) -> None:
    running_job(app, lab)
    with opened(app.config["DATABASE"]) as db:
        runs.apply_batch(db, registry.get_node(db, lab.node_id), lab.job_id, 2, [
            {"type": "progress", "at": utc_now_iso(), "lines_acked": 4, "lines_total": 16,
             "percent": 25.0},
            {"type": "telemetry", "at": utc_now_iso(), "machine_state": "printing",
             "temperatures": {"T": [210.0, 215.0]}, "position": {"X": 10.0}}])
        status = runs.run_status(db, lab.job_id)
    assert status is not None
    assert (status["percent"], status["lines_acked"], status["lines_total"]) == (25.0, 4, 16)
    assert status["telemetry"]["temperatures"] == {"T": [210.0, 215.0]}
    live = client_as(app, "ada").get(f"/jobs/{lab.job_id}/live").json
    assert live["percent"] == 25.0
    assert live["telemetry"] == {"machine_state": "printing", "hotend": "210 / 215 °C",
                                 "position": "X10.0"}
