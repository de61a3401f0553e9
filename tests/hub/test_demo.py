"""`fabhub demo` (what `make demo` runs): the login page, and sample jobs that run to the ledger."""

from __future__ import annotations

import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.hub.hub_process import free_port

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "gcode"


def test_demo_runs_a_lab_whose_jobs_reach_the_ledger(tmp_path: Path) -> None:
    assert SAMPLES.is_dir(), f"the sample G-code is missing at {SAMPLES}"
    port = free_port()
    fabhub = shutil.which("fabhub", path=str(Path(sys.executable).parent))
    assert fabhub, "the fabhub console script is not installed"
    instance = tmp_path / "demo"
    proc = subprocess.Popen(
        [fabhub, "--instance", str(instance), "demo", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "serving on" in line or not line:
                break
        output = "".join(lines)
        assert f"http://127.0.0.1:{port}/" in output, output
        logins = re.findall(r"(\w+)\s+(\w+)\s+password: (\S+)", output)
        assert {role for role, _, _ in logins} == {"gatekeeper", "maker"}
        assert output.count("node running") == 3
        assert output.count("queued job") == 4
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5)
        assert page.status == 200
        assert "Log in" in page.read().decode()
        deadline = time.monotonic() + 180
        finished = []
        while time.monotonic() < deadline and len(finished) < 2:
            time.sleep(1)
            with sqlite3.connect(instance / "fabhub.sqlite3") as db:
                finished = db.execute(
                    "SELECT j.id FROM jobs j JOIN ledger_facts f ON f.job_id = j.id "
                    "WHERE j.state = 'completed' AND f.action = 'use'").fetchall()
        assert len(finished) >= 2, "the laser and mill jobs should have run to the ledger"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
