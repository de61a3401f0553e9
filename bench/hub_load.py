"""Benchmark: how many node reports a real ``fabhub serve`` sustains, and how fast an emergency
stop reaches a long-polling node.

Setup (in a temporary instance): ``--nodes`` machines (example profile fdm-marlin), each
with an enrolled node; one uploaded job per machine, assigned by the hub's scheduler and
claimed by its node. Then, against ``fabhub serve`` on loopback (granian; its default two
workers of 48 request threads, and the instance's default settings), lightweight
simulated nodes (asyncio, one keep-alive HTTP/1.1 connection each, not full agents) run:

1. steady: every node sends one progress batch a second and a heartbeat every 5 s;
2. burst: every node sends ``--burst-rate`` progress batches a second (open loop: one
   outstanding request per node) for ``--burst-s`` seconds; the default 5 a second from
   200 nodes offers the issue's 1,000 reports a second;
3. saturation: every node sends its next batch as soon as the last is answered, for
   ``--saturate-s`` seconds: the most the hub answers (its latency is queueing, not kept);
4. emergency stop: ``--estop-nodes`` nodes hold a command long poll open (each holds a
   request thread) while the steady load goes on; a gatekeeper issues ``--estop-trials``
   emergency stops through ``POST /api/v1/machines/ID/emergency-stop``; delivery time is
   from sending that request to the long poll's answer arriving at the node.

The load generator shares the machine with the hub, so the hub's own CPU time per report
is printed too. The issue names no peer for this measurement, so only fabhub is measured.
The last line is JSON: node_reports_per_s and p99_ms (burst phase), estop_delivery_p95_ms,
and max_reports_per_s (saturation phase).

Run: ``.venv/bin/python bench/hub_load.py`` (about a minute; ``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from fabhub import members
from fabhub.db import connect
from fabhub.instance import init_instance
from fabhub.jobqueue import access, classes, machines
from fabhub.jobs.machine_profile import example_profile
from fabhub.nodes import registry
from fabhub.tokens import create_token

PRINT = b"G28\nG90\nM83\nG1 Z0.2 F600\n" + b"".join(
    f"G1 X{20 + i % 30} Y{20 + i % 7} E0.05 F1200\n".encode() for i in range(40))


class Conn:
    """One keep-alive HTTP/1.1 connection speaking JSON, as one node or member."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Send one request and read its answer (reconnecting when the server closed)."""
        data = json.dumps(body).encode() if body is not None else b""
        request = (f"{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer "
                   f"{self.token}\r\nContent-Type: application/json\r\nContent-Length: "
                   f"{len(data)}\r\n\r\n").encode() + data
        for _attempt in range(2):
            if self.writer is None or self.writer.is_closing():
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            assert self.reader is not None
            self.writer.write(request)
            await self.writer.drain()
            first = await self.reader.readline()
            if first:
                break
            # The server closed an idle keep-alive connection before reading this request:
            # send it again on a new one, as HTTP clients do.
            self.writer.close()
        else:
            raise ConnectionError(f"{method} {path}: the hub closed the connection twice")
        status = int(first.split()[1])
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        payload = await self.reader.readexactly(length) if length else b""
        if close:
            self.writer.close()
        return status, json.loads(payload) if payload else None


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children, from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def setup_instance(folder: Path, nodes: int) -> dict[str, Any]:
    """An instance with machines, one enrolled node each, a certified maker and a gatekeeper."""
    init_instance(folder)
    db = connect(folder / "fabhub.sqlite3")
    try:
        maker = members.add_member(db, "maker", "bench password 1", "maker", "Maker")
        gate = members.add_member(db, "gate", "bench password 1", "gatekeeper", "Gate")
        profile = example_profile("fdm-marlin")
        classes.add_machine_class(db, profile.machine_class, profile.kind)
        access.certify(db, maker.id, profile.machine_class, gate.id)
        found = []
        for i in range(nodes):
            machine = machines.add_machine(db, f"printer-{i}", profile, None)
            machines.set_manual_state(db, machine.id, "idle", "bench", None)
            _, code = registry.register(db, machine.id, f"node {i}", None)
            key = base64.b64encode(random.randbytes(32)).decode()
            _, token = registry.enroll(db, code, key, f"pi-{i}", "bench")
            found.append({"machine_id": machine.id, "token": token})
        return {"nodes": found, "maker": create_token(db, maker.id, "bench")[1],
                "gate": create_token(db, gate.id, "bench")[1]}
    finally:
        db.conn.close()


def start_hub(folder: Path, port: int, threads: int, workers: int) -> subprocess.Popen:
    """``fabhub serve`` on loopback; wait for /healthz."""
    fabhub = shutil.which("fabhub", path=str(Path(sys.executable).parent)) or "fabhub"
    env = dict(os.environ)
    with open(folder / "hub.log", "ab") as log:
        proc = subprocess.Popen([fabhub, "--instance", str(folder), "serve", "--port",
                                 str(port), "--threads", str(threads), "--workers",
                                 str(workers)], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the hub did not start; see " + str(folder / "hub.log"))


def upload_jobs(port: int, token: str, count: int) -> None:
    """One job per machine through the upload API (the scheduler assigns them)."""
    def one(i: int) -> None:
        response = requests.post(
            f"http://127.0.0.1:{port}/api/v1/jobs", headers={"Authorization": f"Bearer {token}"},
            files={"file": (f"part-{i}.gcode", PRINT + f"; {i}\n".encode())},
            data={"machine_class": "fdm-small", "material": "PLA"}, timeout=60)
        response.raise_for_status()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(count)))


class SimNode:
    """A lightweight simulated node: claims its job, then reports on it."""

    def __init__(self, port: int, info: dict[str, Any]) -> None:
        self.conn = Conn(port, info["token"])
        self.poll = Conn(port, info["token"])
        self.machine_id = info["machine_id"]
        self.job_id = 0
        self.batch = 0
        self.lines = 0

    async def claim(self) -> None:
        """Claim the assigned job (waiting for the scheduler) and report it started."""
        while True:
            status, body = await self.conn.request("POST", "/node/v1/claim")
            if status == 200:
                self.job_id = body["job"]["id"]
                break
            await asyncio.sleep(0.5)
        await self.report("started")

    async def report(self, kind: str = "progress") -> float:
        """Send the next numbered batch; return its latency in seconds (negative: refused)."""
        self.lines += 10
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        event: dict = {"type": kind, "at": at}
        if kind == "progress":
            event.update(lines_acked=self.lines, lines_total=10**6)
        started = time.perf_counter()
        status, body = await self.conn.request("POST", f"/node/v1/jobs/{self.job_id}/events",
                                               {"batch": self.batch + 1, "events": [event]})
        if status != 200:
            if status < 500:
                raise RuntimeError(f"batch refused: {status} {body}")
            return -(time.perf_counter() - started)  # overloaded: the node sends it again
        self.batch += 1
        return time.perf_counter() - started

    async def heartbeat(self) -> float:
        """One heartbeat; return its latency."""
        started = time.perf_counter()
        status, _ = await self.conn.request("POST", "/node/v1/heartbeat", {
            "machine_state": "busy", "telemetry": {}, "job": {"id": self.job_id,
                                                              "state": "running"}})
        if 400 <= status < 500:
            raise RuntimeError(f"heartbeat refused: {status}")
        elapsed = time.perf_counter() - started
        return elapsed if status == 200 else -elapsed


async def load(nodes: list[SimNode], seconds: float, rate: float, with_heartbeats: bool,
               latencies: list[float]) -> None:
    """Every node reports ``rate`` times a second for ``seconds``; latencies go to the list."""
    end = time.perf_counter() + seconds

    async def one(node: SimNode) -> None:
        interval = 1.0 / rate
        due = time.perf_counter() + random.uniform(0, interval)
        tick = 0
        while due < end and time.perf_counter() < end:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            latencies.append(await node.report())
            tick += 1
            if with_heartbeats and tick % 5 == 0:
                latencies.append(await node.heartbeat())
            due += interval
    await asyncio.gather(*(one(n) for n in nodes))


async def estop(nodes: list[SimNode], gate: Conn, trials: int) -> list[float]:
    """Long polls on ``nodes``; emergency stops one at a time; delivery times in seconds."""
    issued: dict[int, float] = {}
    delivered: dict[int, float] = {}
    stop = asyncio.Event()

    async def long_poll(node: SimNode) -> None:
        while not stop.is_set():
            _, body = await node.poll.request("GET", "/node/v1/commands?wait=20")
            for command in body["commands"]:
                if command["type"] == "emergency_stop" and node.machine_id in issued:
                    delivered.setdefault(node.machine_id, time.perf_counter())
                await node.poll.request("POST", f"/node/v1/commands/{command['id']}/ack",
                                        {"result": "done"})

    polls = [asyncio.create_task(long_poll(n)) for n in nodes]
    await asyncio.sleep(2.0)  # every long poll is waiting now
    times = []
    for node in random.sample(nodes, min(trials, len(nodes))):
        issued[node.machine_id] = time.perf_counter()
        status, body = await gate.request(
            "POST", f"/api/v1/machines/{node.machine_id}/emergency-stop")
        if status != 200:
            raise RuntimeError(f"emergency stop refused: {status} {body}")
        deadline = time.perf_counter() + 10
        while node.machine_id not in delivered and time.perf_counter() < deadline:
            await asyncio.sleep(0.002)
        times.append(delivered.get(node.machine_id, deadline) - issued[node.machine_id])
        await asyncio.sleep(0.2)
    stop.set()
    for task in polls:
        task.cancel()
    return times


def accepted(latencies: list[float]) -> list[float]:
    """Latencies of the reports the hub accepted (failed ones are stored negative)."""
    return [t for t in latencies if t >= 0]


def line(name: str, seconds: float, all_latencies: list[float]) -> None:
    """Print one phase's figures (accepted reports; 5xx answers counted apart)."""
    latencies = accepted(all_latencies)
    count = len(latencies)
    print(f"{name:<28} reports={count:>6}  per_s={count / seconds:>7.1f}  "
          f"errors_5xx={len(all_latencies) - count:>5}  "
          f"p50_ms={percentile(latencies, 50) * 1000:>6.1f}  "
          f"p99_ms={percentile(latencies, 99) * 1000:>6.1f}  "
          f"max_ms={max(latencies, default=0) * 1000:>6.1f}", flush=True)


async def run(args: argparse.Namespace, port: int, info: dict[str, Any],
              hub_pid: int) -> dict[str, float]:
    """All three phases against the running hub."""
    nodes = [SimNode(port, n) for n in info["nodes"]]
    await asyncio.gather(*(n.claim() for n in nodes))
    print(f"{len(nodes)} nodes claimed their jobs", flush=True)
    steady: list[float] = []
    await load(nodes, args.steady_s, 1.0, True, steady)
    line("steady (1/s + heartbeats)", args.steady_s, steady)
    burst: list[float] = []
    started, cpu_before = time.perf_counter(), cpu_seconds(hub_pid)
    await load(nodes, args.burst_s, args.burst_rate, False, burst)
    elapsed = time.perf_counter() - started
    hub_cpu = cpu_seconds(hub_pid) - cpu_before
    line(f"burst ({args.burst_rate:g}/s per node)", elapsed, burst)
    print(f"  hub CPU {hub_cpu:.1f} s in {elapsed:.1f} s: "
          f"{hub_cpu / max(1, len(accepted(burst))) * 1000:.2f} ms per report", flush=True)
    saturated: list[float] = []
    started = time.perf_counter()
    await load(nodes, args.saturate_s, 1000.0, False, saturated)
    saturated_s = time.perf_counter() - started
    line("saturation (back to back)", saturated_s, saturated)
    gate = Conn(port, info["gate"])
    background: list[float] = []
    others = nodes[args.estop_nodes:]
    load_task = asyncio.create_task(load(others, args.estop_trials * 0.3 + 4, 1.0, True,
                                         background))
    times = await estop(nodes[:args.estop_nodes], gate, args.estop_trials)
    await load_task
    line("  reports meanwhile", args.estop_trials * 0.3 + 4, background)
    print(f"emergency stop, {args.estop_nodes} long polls, {len(others)} nodes reporting: "
          f"p50_ms={percentile(times, 50) * 1000:.1f}  p95_ms={percentile(times, 95) * 1000:.1f}"
          f"  max_ms={max(times) * 1000:.1f}", flush=True)
    return {"node_reports_per_s": round(len(accepted(burst)) / elapsed, 1),
            "p99_ms": round(percentile(accepted(burst), 99) * 1000, 1),
            "estop_delivery_p95_ms": round(percentile(times, 95) * 1000, 1),
            "max_reports_per_s": round(len(accepted(saturated)) / saturated_s, 1)}


def main() -> None:
    """Parse options, set up, run, print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--threads", type=int, default=48,
                        help="request threads per worker: the long polls hold one each")
    parser.add_argument("--workers", type=int, default=2, help="the hub's worker processes")
    parser.add_argument("--steady-s", type=float, default=15.0)
    parser.add_argument("--burst-s", type=float, default=10.0)
    parser.add_argument("--burst-rate", type=float, default=5.0,
                        help="progress batches per second per node in the burst (5 x 200 "
                             "nodes offers the issue's 1,000 reports a second)")
    parser.add_argument("--saturate-s", type=float, default=5.0,
                        help="seconds of back-to-back reports (every node, one outstanding)")
    parser.add_argument("--estop-nodes", type=int, default=50)
    parser.add_argument("--estop-trials", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="a few nodes, a few seconds")
    args = parser.parse_args()
    if args.quick:
        args.nodes, args.steady_s, args.burst_s, args.saturate_s = 6, 2.0, 2.0, 1.0
        args.estop_nodes, args.estop_trials, args.threads = 3, 3, 12
    random.seed(7)
    with tempfile.TemporaryDirectory(prefix="fabhub-load-") as tmp:
        folder = Path(tmp) / "instance"
        info = setup_instance(folder, args.nodes)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        hub = start_hub(folder, port, args.threads, args.workers)
        try:
            upload_jobs(port, info["maker"], args.nodes)
            print(f"hub: fabhub serve --threads {args.threads} --workers {args.workers}; "
                  f"{args.nodes} nodes; "
                  f"{os.cpu_count()} cores", flush=True)
            figures = asyncio.run(run(args, port, info, hub.pid))
        except BaseException:
            print((folder / "hub.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            hub.terminate()
            hub.wait(timeout=30)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
