"""Run a real ``fabhub serve`` in a subprocess for tests that kill or restart the hub."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ChildProcess:
    """A test's child process that can be killed (SIGKILL) or stopped (SIGTERM)."""

    proc: subprocess.Popen | None = None
    stop_timeout_s = 10.0
    # A process that leads its own session (started with start_new_session=True) is
    # killed with its children, as a machine losing power would.
    own_group = False

    def kill(self) -> None:
        """SIGKILL the process (and its group, if it leads one): no clean-up of any kind."""
        if self.proc is not None and self.proc.poll() is None:
            if self.own_group:
                os.killpg(self.proc.pid, signal.SIGKILL)
            else:
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        """Stop the process politely (SIGTERM), or kill it if it does not go."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()


class HubProcess(ChildProcess):
    """``fabhub serve`` on loopback; start, kill -9 and restart it."""

    own_group = True  # granian serves from a worker process

    def __init__(self, instance: Path, port: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.instance = instance
        self.port = port or free_port()
        self.env = {**os.environ, **(env or {})}
        self.proc = None
        self.log = instance / "hub.log"

    def cpu_seconds(self) -> float:
        """User plus system CPU time so far of the hub: its server process and workers."""
        assert self.proc is not None
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # the process ended meanwhile
            if int(fields[2]) == self.proc.pid:  # its process group: the hub leads one
                total += (int(fields[11]) + int(fields[12])) / tick
        return total

    @property
    def url(self) -> str:
        """The hub's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        """Start the hub and wait until /healthz answers 200."""
        fabhub = shutil.which("fabhub", path=str(Path(sys.executable).parent))
        assert fabhub, "the fabhub console script is not installed"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [fabhub, "--instance", str(self.instance), "serve", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the hub exited: {self.log.read_text()[-2000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError(f"the hub did not answer within {timeout} s")
