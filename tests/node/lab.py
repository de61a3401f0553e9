"""A whole lab for end-to-end tests: a real hub process, simulated machines, node agents."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from fabhub.db import opened
from fabhub.drivers.sim import GrblSim, MarlinSim, PtyDevice
from fabhub.jobqueue import access
from fabhub.members import find_by_username
from tests.conftest import make_token
from tests.hub.hub_process import ChildProcess, HubProcess
from tests.hub.queue_fixtures import add_park

FABHUB = shutil.which("fabhub", path=str(Path(sys.executable).parent))
LEASE_TTL_S = 8.0
PROFILES = {"fdm-marlin": (MarlinSim, "fdm-small", "PLA"), "laser-grbl": (GrblSim, "laser", None),
            "cnc-grbl": (GrblSim, "cnc-router", None)}


def eventually(check: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class NodeProcess(ChildProcess):
    """``fabhub node run`` in its own process, for one machine."""

    stop_timeout_s = 40.0

    def __init__(self, folder: Path, hub_url: str, code: str, port: str) -> None:
        assert FABHUB, "the fabhub console script is not installed"
        self.folder = folder
        self.config = folder / "node.toml"
        self.log = folder / "node.log"
        self.proc = None
        done = subprocess.run([FABHUB, "node", "enroll", hub_url, code, "--port", port,
                               "--config", str(self.config)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr + done.stdout

    @property
    def token(self) -> str:
        """The node's token, from its configuration file."""
        import tomllib

        return tomllib.loads(self.config.read_text())["token"]

    def start(self) -> None:
        """Start the agent."""
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([FABHUB, "node", "run", "--config", str(self.config)],
                                         stdout=log, stderr=subprocess.STDOUT)

    def journal_end(self, job_id: int) -> dict[str, Any]:
        """The end report the node journaled for a job (its signed receipt inside)."""
        return self.journal(job_id)["end"]

    def journal(self, job_id: int) -> dict[str, Any]:
        """The node's journal of a job: batches (in order) and the end report."""
        folder = self.folder / "journal"
        path = next(p for p in (folder / f"job-{job_id}.jsonl",
                                 folder / "done" / f"job-{job_id}.jsonl") if p.exists())
        batches, end = [], None
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record["t"] == "batch":
                batches.append(record)
            elif record["t"] == "end":
                end = record["body"]
        return {"batches": batches, "end": end}


class Lab:
    """A hub process with machines of the given example profiles, each with a simulator."""

    def __init__(self, root: Path, instance: Path, profiles: list[str],
                 command_time_s: float = 0.01) -> None:
        self.root = root
        self.instance = instance
        with opened(instance / "fabhub.sqlite3") as db:
            gina = find_by_username(db, "gina")
            ada = find_by_username(db, "ada")
            self.machines: dict[str, int] = {}
            for name in profiles:
                machine_id = add_park(db, {name: 1})[name][0]
                self.machines[name] = machine_id
                access.certify(db, ada.id, PROFILES[name][1], gina.id)
        from fabhub.app import create_app

        app = create_app({"TESTING": True}, instance=instance)
        self.ada = {"Authorization": f"Bearer {make_token(app, 'ada')}"}
        self.gina = {"Authorization": f"Bearer {make_token(app, 'gina')}"}
        self.hub = HubProcess(instance, env={"FABHUB_SCHEDULER_INTERVAL_S": "0.2",
                                             "FABHUB_NODE_LEASE_TTL_S": str(LEASE_TTL_S)})
        self.sims: dict[str, PtyDevice] = {
            name: PROFILES[name][0](command_time_s=command_time_s).start() for name in profiles}
        self.nodes: dict[str, NodeProcess] = {}

    def add_node(self, name: str, hub_url: str | None = None,
                 port: str | None = None) -> NodeProcess:
        """Register, enrol and start the node of machine ``name``.

        ``hub_url`` may point at a proxy; ``port`` replaces the simulator (e.g. an
        ``octoprint+http://`` address).
        """
        added = subprocess.run([FABHUB, "--instance", str(self.instance), "node", "add",
                                str(self.machines[name])],
                               capture_output=True, text=True, timeout=60)
        assert added.returncode == 0, added.stderr
        code = added.stdout.split()[-1]
        node = NodeProcess(self.root / f"node-{name}", hub_url or self.hub.url, code,
                           port or self.sims[name].path)
        node.start()
        self.nodes[name] = node
        return node

    def submit(self, name: str, data: bytes) -> int:
        """Upload a job for machine ``name``'s class as ada; return its id."""
        _, machine_class, material = PROFILES[name]
        form = {"machine_class": machine_class, **({"material": material} if material else {})}
        response = requests.post(self.hub.url + "/api/v1/jobs", headers=self.ada,
                                 files={"file": (f"{name}.gcode", data)}, data=form, timeout=30)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def job(self, job_id: int) -> dict[str, Any]:
        """The job as ada sees it."""
        return requests.get(f"{self.hub.url}/api/v1/jobs/{job_id}", headers=self.ada,
                            timeout=10).json()

    def wait_state(self, job_id: int, states: tuple[str, ...], timeout: float) -> str:
        """Wait until the job is in one of ``states``; return it."""
        return eventually(lambda: self.job(job_id)["state"] in states and
                          self.job(job_id)["state"], timeout, f"job {job_id} in {states}")

    def uses(self) -> list[dict[str, Any]]:
        """Every ``use`` fact in the ledger."""
        with opened(self.instance / "fabhub.sqlite3") as db:
            rows = db.execute("SELECT idx, job_id, seconds, machine_id FROM ledger_facts "
                              "WHERE action = 'use' ORDER BY idx").fetchall()
        return [dict(r) for r in rows]

    def close(self) -> None:
        """Stop the nodes, the hub and the simulators."""
        for node in self.nodes.values():
            node.kill()
        self.hub.stop()
        for sim in self.sims.values():
            sim.close()
