"""Streaming benchmark: fabhub's drivers against Printrun's printcore and send-and-wait.

Run in the bench environment (``make bench-venv``)::

    .venv-bench/bin/python bench/streaming.py [--marlin-lines 20000] [--repeat 3]

(a) Lines per second streaming the first 20,000 commands of a real slicer file
    (Cura, ``cura-puzzle.gcode``) to one simulated Marlin on a pseudo-terminal that
    acknowledges at once, run in its own process: fabhub's Marlin driver (default
    profile) and printcore, one after the other over the same simulator.
(b) A short-segment laser file (``grbl-laser-tball-engrave.gcode``) streamed to the
    simulated Grbl over an emulated 115,200-baud link: character counting (the grbl
    profile) against send-and-wait (the same profile with ``flow.mode = ping_pong``),
    as the share of the link's byte capacity used until the last acknowledgement.

The best of ``--repeat`` runs counts. The last line is the JSON summary.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fabhub.drivers import open_driver
from fabhub.drivers.gcode import read_commands
from fabhub.drivers.sim.device import bytes_per_second

ROOT = Path(__file__).resolve().parent.parent
GCODE = ROOT.parent / "shared" / "gcode"
MARLIN_FILE = "cura-puzzle.gcode"
LASER_FILE = "grbl-laser-tball-engrave.gcode"
LINK_BAUD = 115_200


@contextmanager
def simulator(*args: str) -> Iterator[str]:
    """A ``fabhub sim`` process; yields its device path."""
    command = [sys.executable, "-c", "from fabhub.cli import main; main()", "sim", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


def marlin_job(count: int, folder: Path) -> Path:
    """The first ``count`` commands of the Cura file, as a file of their own."""
    commands = read_commands(GCODE / MARLIN_FILE, paren_comments=False, max_line_bytes=96)
    if len(commands) < count:
        raise SystemExit(f"{MARLIN_FILE} has only {len(commands)} commands")
    path = folder / f"marlin-{count}.gcode"
    path.write_text("".join(c.text + "\n" for c in commands[:count]), encoding="ascii")
    return path


def fabhub_marlin(device: str, job: Path) -> float:
    """Lines per second of fabhub's Marlin driver."""
    driver = open_driver(device, "marlin")
    try:
        result = driver.stream(job, timeout=600)
    finally:
        driver.disconnect()
    if result.outcome != "completed":
        raise SystemExit(f"fabhub did not complete: {result.reason}")
    return result.lines_total / result.acked_s


def printcore_marlin(device: str, job: Path) -> float:
    """Lines per second of Printrun's printcore."""
    from printrun.gcoder import LightGCode
    from printrun.printcore import printcore

    lines = job.read_text(encoding="ascii").splitlines()
    core = printcore(device, 115200)
    try:
        deadline = time.monotonic() + 30
        while not core.online:
            if time.monotonic() > deadline:
                raise SystemExit("printcore did not come online")
            time.sleep(0.01)
        gcode = LightGCode(lines)
        start = time.monotonic()
        core.startprint(gcode)
        while core.printing:
            time.sleep(0.001)
        return len(lines) / (time.monotonic() - start)
    finally:
        core.disconnect()


def grbl_utilisation(device: str, job: Path, mode: str) -> float:
    """Share of the link's byte capacity used streaming ``job`` in ``mode``."""
    overrides = {} if mode == "character_counting" else {"flow.mode": "ping_pong",
                                                         "flow.window_lines": 1}
    driver = open_driver(device, "grbl", overrides=overrides)
    try:
        result = driver.stream(job, timeout=600)
        bytes_total = sum(len(c.text) + 1 for c in read_commands(
            job, paren_comments=True, max_line_bytes=driver.rx_buffer_bytes))
    finally:
        driver.disconnect()
    if result.outcome != "completed":
        raise SystemExit(f"grbl {mode} did not complete: {result.reason}")
    return bytes_total / (result.acked_s * bytes_per_second(LINK_BAUD))


def main() -> None:
    """Run both measurements and print the per-run figures, then the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--marlin-lines", type=int, default=20_000)
    parser.add_argument("--laser-file", type=Path, default=GCODE / LASER_FILE)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        job = marlin_job(args.marlin_lines, Path(folder))
        fabhub_rates, printcore_rates = [], []
        with simulator("marlin") as device:
            for run in range(args.repeat):
                fabhub_rates.append(fabhub_marlin(device, job))
                printcore_rates.append(printcore_marlin(device, job))
                print(f"marlin run {run + 1}: fabhub {fabhub_rates[-1]:.0f} lines/s, "
                      f"printcore {printcore_rates[-1]:.0f} lines/s", flush=True)
    counting, waiting = [], []
    with simulator("grbl", "--baud", str(LINK_BAUD)) as device:
        for run in range(args.repeat):
            counting.append(grbl_utilisation(device, args.laser_file, "character_counting"))
            waiting.append(grbl_utilisation(device, args.laser_file, "send_and_wait"))
            print(f"grbl run {run + 1}: character counting {counting[-1]:.3f}, "
                  f"send-and-wait {waiting[-1]:.3f} of {LINK_BAUD} baud", flush=True)
    marlin, peer = max(fabhub_rates), max(printcore_rates)
    print(json.dumps({
        "marlin_lines_per_s": round(marlin, 1),
        "printcore_lines_per_s": round(peer, 1),
        "speedup_vs_printcore": round(marlin / peer, 2),
        "grbl_link_utilisation": round(max(counting), 3),
        "grbl_send_wait_utilisation": round(max(waiting), 3),
    }))


if __name__ == "__main__":
    main()
