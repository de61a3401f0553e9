"""``fabhub demo``: a whole lab on one computer.

The hub, three simulated machines on pseudo-terminals (a Marlin printer, a Grbl
laser and a Grbl mill), a node agent for each, and a few sample jobs from
``shared/gcode`` queued for the demo makers, so a newcomer sees jobs run, finish
and reach the ledger. Everything runs as child processes and stops on Ctrl-C.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

import click

from fabhub import config
from fabhub.cli.root import Context, fail, main, pass_ctx
from fabhub.instance import init_instance

# Simulated link and motion: slow enough to watch a progress bar, fast enough to finish.
SIM_ARGS = ("--baud", "115200", "--motion-time-scale", "0.02")
DEFAULT_SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "gcode"


def _fabhub() -> str:
    found = shutil.which("fabhub", path=str(Path(sys.executable).parent)) or shutil.which(
        "fabhub")
    if not found:
        fail("the fabhub command is not on the PATH of this Python")
    return found


def _start_simulator(firmware: str, log: BinaryIO) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([_fabhub(), "sim", firmware, *SIM_ARGS], stdout=subprocess.PIPE,
                            stderr=log, text=True)
    assert proc.stdout is not None
    device = proc.stdout.readline().strip()
    if not device:
        fail(f"the {firmware} simulator did not start; see {log.name}")
    return proc, device


def _wait_for_hub(url: str, hub: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hub.poll() is not None:
            fail("the hub stopped while starting")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    fail(f"the hub did not answer at {url} within {timeout:.0f} s")


def _prepare(ctx: Context, samples: Path) -> tuple[list, dict[str, str], list[str]]:
    from fabhub.demo import DEMO_MACHINES, ensure_park, queue_samples, register_nodes, reset_members

    settings = config.load(ctx.instance)
    with ctx.db() as db:
        logins = reset_members(db)
        park = ensure_park(db)
        codes = register_nodes(db, park)
        queued = queue_samples(db, park, samples, Path(settings["FILES_DIR"]),
                               settings["MAX_CONTENT_LENGTH"])
    click.echo("Demo logins (new passwords on every run):")
    for role, username, password in logins:
        click.echo(f"  {role:<10} {username:<8} password: {password}")
    return list(DEMO_MACHINES), codes, queued


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--samples", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_SAMPLES, show_default=True,
              help="Folder of sample G-code to queue (the repository's shared/gcode).")
@pass_ctx
def demo(ctx: Context, host: str, port: int, samples: Path) -> None:
    """Run a demo lab: hub, three simulated machines with their nodes, sample jobs.

    Demo passwords are new random ones on every run and are printed here.
    """
    for line in init_instance(ctx.instance):
        click.echo(line)
    machines, codes, queued = _prepare(ctx, samples.resolve())
    url = f"http://{host}:{port}"
    logs = ctx.instance / "demo-logs"
    logs.mkdir(exist_ok=True)
    children: list[subprocess.Popen] = []
    with ExitStack() as files:
        def log(name: str) -> BinaryIO:
            return files.enter_context(open(logs / name, "ab"))

        try:
            _run(ctx, url, host, port, machines, codes, queued, children, log)
        except KeyboardInterrupt:
            click.echo("stopping the demo")
        finally:
            _stop(children)


def _run(ctx: Context, url: str, host: str, port: int, machines: list, codes: dict[str, str],
         queued: list[str], children: list[subprocess.Popen],
         log: Callable[[str], BinaryIO]) -> None:
    """Start hub, simulators and nodes as children; wait for the hub to end."""
    hub = subprocess.Popen([_fabhub(), "--instance", str(ctx.instance), "serve", "--host",
                            host, "--port", str(port)], stdout=log("hub.log"),
                           stderr=subprocess.STDOUT)
    children.append(hub)
    _wait_for_hub(url, hub)
    for machine in machines:
        sim, device = _start_simulator(machine.simulator, log(f"{machine.profile}-sim.log"))
        children.append(sim)
        node_dir = ctx.instance / "demo-nodes" / machine.profile
        node_dir.mkdir(parents=True, exist_ok=True)
        cfg = node_dir / "node.toml"
        cfg.unlink(missing_ok=True)
        subprocess.run([_fabhub(), "node", "enroll", url, codes[machine.profile],
                        "--port", device, "--firmware", machine.simulator,
                        "--config", str(cfg), "--journal", str(node_dir / "journal")],
                       check=True, stdout=subprocess.DEVNULL)
        children.append(subprocess.Popen([_fabhub(), "node", "run", "--config", str(cfg)],
                                         stderr=log(f"{machine.profile}-node.log")))
        click.echo(f"  {machine.name:<20} simulated on {device}, node running")
    for line in queued:
        click.echo(f"  queued {line}")
    click.echo(f"fabhub demo is serving on {url}/  (logs in {ctx.instance / 'demo-logs'}; "
               "Ctrl-C stops it)")
    sys.stdout.flush()
    hub.wait()


def _stop(children: list[subprocess.Popen]) -> None:
    """Stop the children, newest first (nodes before the hub), and wait for them."""
    for child in reversed(children):
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
