"""The scheduling latency benchmark runs end to end at a tiny size and ends with its JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_scheduling_latency_quick_run_prints_both_series() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "scheduling_latency.py"),
                           "--quick"], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(figures) == {"event_to_assignment_p50_ms", "event_to_assignment_p95_ms",
                            "in_request_pass_p50_ms", "in_request_pass_p95_ms", "signal_us",
                            "events"}
    assert "loop (off the request path): 6 of 6 events assigned" in done.stdout
    # Woken through the bell file across processes, far sooner than the 5 s tick.
    assert 0 < figures["event_to_assignment_p50_ms"] < 2000
    assert 0 < figures["in_request_pass_p50_ms"] <= figures["in_request_pass_p95_ms"]
