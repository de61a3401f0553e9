"""Benchmark: fabhub's G-code analyzer against OctoPrint 1.11's, on the sample files.

For every ``*.gcode`` file in the sample folder (default ``<repo>/../shared/gcode``) it
runs, in one run, fabhub's ``analyze_file`` in this process and OctoPrint's
``octoprint.util.gcodeInterpreter`` in OctoPrint's own virtual environment (a
subprocess; its Python is ``$FABHUB_OCTOPRINT_PYTHON`` or ``<repo>/.venv-octoprint``).
Each analysis is timed in its own process, best of ``--repeats`` runs.

Per file it prints both analysis durations, both time estimates and the slicer's. The
error is fabhub's estimate without modelled heat-up (slicers leave heating out) against
the slicer's. The last line is JSON: speedup_vs_octoprint (total time over the files
both analyse), median_abs_error_pct, max_abs_error_pct, files_octoprint_refused.

Run: ``make bench-venv && .venv-bench/bin/python bench/analysis.py``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from fabhub.jobs.analysis import AnalysisError, analyze_file

ROOT = Path(__file__).resolve().parent.parent

# Runs inside OctoPrint's environment: times gcodeInterpreter on each file and says
# whether OctoPrint's own analysis command would refuse the result.
OCTOPRINT_SCRIPT = """
import json, sys, time
from octoprint.cli.analysis import empty_result, validate_result
from octoprint.util.gcodeInterpreter import gcode
repeats = int(sys.argv[1])
for path in sys.argv[2:]:
    best = None
    for _ in range(repeats):
        start = time.perf_counter()
        interpreter = gcode()
        interpreter.load(path)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    result = interpreter.get_result()
    refused = empty_result(result) or not validate_result(result)
    print(json.dumps({"path": path, "seconds": best, "refused": bool(refused),
                      "estimate_s": result["total_time"] * 60.0}))
"""


def octoprint_python() -> str:
    """OctoPrint's interpreter; a clear error if its environment is missing."""
    python = os.environ.get("FABHUB_OCTOPRINT_PYTHON") or str(
        ROOT / ".venv-octoprint" / "bin" / "python")
    if not Path(python).exists():
        sys.exit(f"OctoPrint's Python not found at {python}; run `make octoprint-venv` "
                 "or set FABHUB_OCTOPRINT_PYTHON")
    return python


def run_octoprint(paths: list[Path], repeats: int) -> dict[str, dict]:
    """OctoPrint's figures per file path."""
    done = subprocess.run([octoprint_python(), "-c", OCTOPRINT_SCRIPT, str(repeats),
                           *map(str, paths)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"OctoPrint's analyzer failed:\n{done.stderr}")
    return {row["path"]: row for row in map(json.loads, done.stdout.splitlines())}


def run_fabhub(path: Path, repeats: int) -> tuple[float, object]:
    """Best time and the analysis (or the AnalysisError) of one file."""
    best = None
    result: object = None
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            result = analyze_file(path)
        except AnalysisError as exc:
            result = exc
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def main() -> None:
    """Run the benchmark and print per-file figures, then the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gcode-dir", type=Path, default=ROOT.parent / "shared" / "gcode")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    paths = sorted(args.gcode_dir.glob("*.gcode"))
    if not paths:
        sys.exit(f"no .gcode files in {args.gcode_dir}")
    octoprint = run_octoprint(paths, args.repeats)
    print(f"{'file':34} {'fabhub ms':>9} {'octo ms':>8} {'fabhub s':>9} {'octo s':>8} "
          f"{'slicer s':>8} {'error':>7}  kind")
    both_fabhub = both_octoprint = 0.0
    errors: list[float] = []
    refused = 0
    for path in paths:
        seconds, analysis = run_fabhub(path, args.repeats)
        peer = octoprint[str(path)]
        refused += peer["refused"]
        octo_ms = "refused" if peer["refused"] else f"{peer['seconds'] * 1000:.1f}"
        octo_s = "-" if peer["refused"] else f"{peer['estimate_s']:.0f}"
        if isinstance(analysis, AnalysisError):
            print(f"{path.name:34} {seconds * 1000:9.1f} {octo_ms:>8} rejected: {analysis}")
            continue
        if not peer["refused"]:
            both_fabhub += seconds
            both_octoprint += peer["seconds"]
        slicer = analysis.slicer_estimate_s
        error = "-"
        if slicer:
            pct = ((analysis.estimated_s - analysis.heating_s) / slicer - 1.0) * 100.0
            errors.append(abs(pct))
            error = f"{pct:+.2f}%"
        print(f"{path.name:34} {seconds * 1000:9.1f} {octo_ms:>8} "
              f"{analysis.estimated_s - analysis.heating_s:9.0f} {octo_s:>8} "
              f"{slicer if slicer else '-':>8} {error:>7}  {analysis.kind_hint} "
              f"(+{analysis.heating_s:.0f} s heat-up modelled)")
    summary = {
        "speedup_vs_octoprint": round(both_octoprint / both_fabhub, 2) if both_fabhub else None,
        "median_abs_error_pct": round(statistics.median(errors), 2) if errors else None,
        "max_abs_error_pct": round(max(errors), 2) if errors else None,
        "files_octoprint_refused": refused,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
