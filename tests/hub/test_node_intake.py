"""Node data is checked where it enters: a bad event or telemetry gets 422 and nothing is stored.

Bodies are sent as the text Python's json module writes, so NaN, Infinity and
1e999 reach the hub as a careless or hostile node would send them.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from fabhub.clock import utc_now_iso
from fabhub.db import opened
from fabhub.drivers import events as ev
from fabhub.drivers.octoprint_state import telemetry_from
from fabhub.drivers.telemetry import parse_grbl_status, parse_position, parse_temperatures
from fabhub.node.job_run import progress_event, telemetry_event
from fabhub.nodes import registry
from fabhub.nodes.event_schema import MAX_AXES, MAX_HEATERS, MAX_NAME, MAX_TEXT
from fabhub.scheduling import run_now
from tests.hub.conftest import Api
from tests.web.conftest import build_lab

AT = "2026-12-07T20:56:30.123Z"


@dataclass(frozen=True)
class Run:
    """A job claimed by an enrolled node, and that node's API client."""

    app: Flask
    node: Api
    node_id: int
    job_id: int

    def post(self, path: str, body: Any) -> Any:
        """POST ``body`` as Python's json module writes it (NaN and Infinity included)."""
        return self.node.client.post(path, data=body if isinstance(body, str) else
                                     json.dumps(body), content_type="application/json",
                                     headers=self.node.headers)

    def events(self, batch: int, *events: Any) -> Any:
        """Send one numbered batch of events."""
        return self.post(f"/node/v1/jobs/{self.job_id}/events",
                         {"batch": batch, "events": list(events)})

    def stored(self) -> dict[str, Any]:
        """What the hub holds of this run: reports, last batch, progress, job state."""
        with opened(self.app.config["DATABASE"]) as db:
            reports = [r[0] for r in db.execute(
                "SELECT data_json FROM job_reports WHERE job_id = ? ORDER BY id", [self.job_id])]
            run = dict(db.execute("SELECT last_batch, percent, progress_json, telemetry_json "
                                  "FROM job_runs WHERE job_id = ?", [self.job_id]).fetchone())
            state = db.execute("SELECT state FROM jobs WHERE id = ?", [self.job_id]).fetchone()[0]
        return {"reports": reports, "state": state, **run}


@pytest.fixture
def run(app: Flask) -> Run:
    """The web tests' small lab, its job assigned and claimed by a freshly enrolled node."""
    lab = build_lab(app)
    with opened(app.config["DATABASE"]) as db:
        run_now(db, app.config)
        _node, code = registry.register(db, lab.machine_id, "intake", None)
        node, token = registry.enroll(db, code, base64.b64encode(bytes(range(32))).decode(),
                                      "pi", "test")
    api = Api(app.test_client(), token)
    claimed = api.post("/node/v1/claim")
    assert claimed.status_code == 200 and claimed.get_json()["job"]["id"] == lab.job_id
    return Run(app, api, node.id, lab.job_id)


def progress(**fields: Any) -> dict[str, Any]:
    """A progress event with ``fields``."""
    return {"type": "progress", "at": AT, **fields}


def telemetry(**fields: Any) -> dict[str, Any]:
    """A telemetry event with ``fields``."""
    return {"type": "telemetry", "at": AT, **fields}


BAD_EVENTS: dict[str, tuple[Any, str | None]] = {
    "percent Infinity": (progress(percent=math.inf), "percent"),
    "percent -Infinity": (progress(percent=-math.inf), "percent"),
    "percent NaN": (progress(percent=math.nan), "percent"),
    "percent above 100": (progress(percent=100.5), "percent"),
    "percent as text": (progress(percent="50"), "percent"),
    "lines negative": (progress(lines_acked=-1), "lines_acked"),
    "lines a fraction": (progress(lines_acked=2.5), "lines_acked"),
    "lines beyond any file": (progress(lines_total=10**30), "lines_total"),
    "lines a boolean": (progress(current_line=True), "current_line"),
    "temperature as text": (telemetry(temperatures={"T": ["hot", 200.0]}), "temperatures.T[0]"),
    "temperature NaN": (telemetry(temperatures={"B": [60.0, math.nan]}), "temperatures.B[1]"),
    "temperature too hot": (telemetry(temperatures={"T": [5000.0, 210.0]}), "temperatures.T[0]"),
    "reading without target": (telemetry(temperatures={"T": [200.0]}), "temperatures.T[1]"),
    "too many heaters": (telemetry(temperatures={f"T{i}": [20.0, None]
                                                 for i in range(MAX_HEATERS + 1)}),
                         "temperatures"),
    "position as text": (telemetry(position={"X": "12"}), "position.X"),
    "position Infinity": (telemetry(position={"Y": math.inf}), "position.Y"),
    "position beyond any machine": (telemetry(position={"Z": 2e6}), "position.Z"),
    "machine state not text": (telemetry(machine_state=["Run"]), "machine_state"),
    "unknown key": (progress(percent=5.0, owner="mallory"), "owner"),
    "progress longer than 4000 characters": (progress(note="x" * 5000), "note"),
    "message too long": ({"type": "firmware_error", "at": AT, "message": "x" * (MAX_TEXT + 1)},
                         "message"),
    "NUL in a message": ({"type": "log", "at": AT, "message": "a\x00b"}, "message"),
    "recoverable not a boolean": ({"type": "firmware_error", "at": AT, "message": "MINTEMP",
                                   "recoverable": "yes"}, "recoverable"),
    "unknown type": ({"type": "explode", "at": AT}, None),
    "no type": ({"at": AT}, None),
    "no time": ({"type": "resumed"}, "at"),
    "time not ISO 8601": ({"type": "resumed", "at": "yesterday"}, "at"),
    "event not an object": ("started", None),
}


def test_each_bad_event_is_refused_whole_and_its_batch_number_stays_free(run: Run) -> None:
    before = run.stored()
    assert before["state"] == "assigned" and before["last_batch"] == 0
    for name, (bad, key) in BAD_EVENTS.items():
        answer = run.events(1, {"type": "started", "at": AT}, bad)
        assert answer.status_code == 422, (name, answer.get_data(as_text=True))
        error = answer.get_json()["error"]
        assert error["code"] == "invalid_event", name
        assert (error["details"]["event"], error["details"]["key"]) == (1, key), name
        assert error["message"].startswith("event 1"), name
        assert key is None or repr(key) in error["message"], (name, error["message"])
        assert run.stored() == before, name  # not even the good event before it
    good = run.events(1, {"type": "started", "at": AT}, progress(percent=5.0, lines_acked=1))
    assert good.status_code == 200, good.get_data(as_text=True)
    after = run.stored()
    assert after["state"] == "running" and after["last_batch"] == 1 and after["percent"] == 5.0


def test_a_number_too_big_for_a_float_is_refused(run: Run) -> None:
    body = json.dumps({"batch": 1, "events": [progress(percent=50.0)]}).replace("50.0", "1e999")
    answer = run.post(f"/node/v1/jobs/{run.job_id}/events", body)
    assert answer.status_code == 422
    assert answer.get_json()["error"]["details"]["key"] == "percent"
    assert run.stored()["reports"] == []


@pytest.mark.parametrize("events", [[], {"type": "started"}, [{"type": "log", "at": AT,
                                                               "message": "m"}] * 501])
def test_events_must_be_a_bounded_list(run: Run, events: Any) -> None:
    answer = run.post(f"/node/v1/jobs/{run.job_id}/events", {"batch": 1, "events": events})
    assert answer.status_code == 422
    assert answer.get_json()["error"]["details"]["field"] == "events"


def honest_events() -> list[dict[str, Any]]:
    """Events as the node agent builds them from real drivers' reports."""
    marlin = ev.Telemetry(temperatures=parse_temperatures("T:210.12 /210.00 B:60.00 /60.00 @:0"),
                          position=parse_position("X:10.00 Y:20.50 Z:0.20 E:-1.5 Count X:800"))
    grbl = parse_grbl_status("<Hold:0|MPos:-120.000,5.500,-3.000|FS:500,12000|WCO:0,0,0>")
    octoprint = telemetry_from({"temperature": {"tool0": {"actual": 21.5, "target": None},
                                                "bed": {"actual": None, "target": 0}},
                                "state": {"text": "Offline after error"}})
    most = ev.Telemetry(  # the most a telemetry event may hold
        temperatures={f"heater {i:02d}".ljust(MAX_NAME, "_"): (-273.15, 1999.9999999999998)
                      for i in range(MAX_HEATERS)},
        position={f"axis {i:02d}".ljust(MAX_NAME, "_"): -999999.9999999999
                  for i in range(MAX_AXES)},
        machine_state="°" * MAX_TEXT)
    assert grbl is not None
    return [
        {"type": "started", "at": utc_now_iso()},
        progress_event(ev.Progress(lines_acked=40, lines_total=120, bytes_acked=900,
                                   bytes_total=3000, current_line=41, state=ev.STREAMING)),
        *(telemetry_event(t) for t in (marlin, grbl, octoprint, most)),
        {"type": "paused", "at": utc_now_iso(), "reason": "firmware: " + "y" * 900},
        {"type": "resumed", "at": utc_now_iso()},
        {"type": "firmware_error", "at": utc_now_iso(), "message": "Error:Printer halted",
         "recoverable": False, "line": None},
        {"type": "firmware_error", "at": utc_now_iso(), "message": "z" * MAX_TEXT,
         "recoverable": True, "line": 12},
        {"type": "log", "at": utc_now_iso(), "message": "resend of line 7"},
        progress_event(ev.Progress(lines_acked=0, lines_total=0, bytes_acked=0, bytes_total=0,
                                   current_line=0, state=ev.STREAMING)),
    ]


def test_honest_events_pass_and_are_stored_whole(run: Run) -> None:
    events = honest_events()
    answer = run.events(1, *events)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    stored = run.stored()
    assert [json.loads(r) for r in stored["reports"]] == events
    assert json.loads(stored["telemetry_json"]) == events[5]
    assert len(stored["telemetry_json"]) > 4000  # once cut here; whole now
    assert json.loads(stored["progress_json"]) == events[-1]
    assert stored["state"] == "running"


def node_telemetry(app: Flask, node_id: int) -> str | None:
    """The telemetry the hub stored from the node's last heartbeat."""
    with opened(app.config["DATABASE"]) as db:
        return db.execute("SELECT telemetry_json FROM nodes WHERE id = ?",
                          [node_id]).fetchone()[0]


BAD_TELEMETRY: dict[str, tuple[Any, str]] = {
    "not an object": ([210.0], "telemetry"),
    "temperature as text": ({"temperatures": {"T": ["hot", None]}}, "telemetry.temperatures.T[0]"),
    "temperature Infinity": ({"temperatures": {"T": [math.inf, None]}},
                             "telemetry.temperatures.T[0]"),
    "position NaN": ({"position": {"X": math.nan}}, "telemetry.position.X"),
    "unknown key": ({"machine_state": "Idle", "secret": "x" * 30_000}, "telemetry.secret"),
    "bad time": ({"type": "telemetry", "at": "soon"}, "telemetry.at"),
}


def test_bad_heartbeat_telemetry_is_refused_and_not_stored(run: Run) -> None:
    for name, (bad, field) in BAD_TELEMETRY.items():
        answer = run.post("/node/v1/heartbeat", {"machine_state": "idle", "telemetry": bad})
        assert answer.status_code == 422, name
        error = answer.get_json()["error"]
        assert error["code"] == "invalid_field", name
        assert error["details"]["field"] == field and field in error["message"], name
        assert node_telemetry(run.app, run.node_id) is None, name


def test_honest_heartbeat_telemetry_is_stored_whole(run: Run) -> None:
    report = telemetry_event(ev.Telemetry(
        temperatures=parse_temperatures("T:21.30 /0.00 B:20.90 /0.00"), machine_state=""))
    for telemetry_report in ({}, report):
        answer = run.post("/node/v1/heartbeat", {"machine_state": "idle",
                                                 "telemetry": telemetry_report})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert json.loads(node_telemetry(run.app, run.node_id) or "null") == telemetry_report
