"""The hub load benchmark runs end to end on a tiny load and ends with its JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_hub_load_quick_run_prints_the_issues_figures() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "hub_load.py"), "--quick"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(figures) == {"node_reports_per_s", "p99_ms", "estop_delivery_p95_ms",
                            "max_reports_per_s"}
    assert figures["node_reports_per_s"] > 0 and figures["max_reports_per_s"] > 0
    assert 0 < figures["estop_delivery_p95_ms"] < 1000
