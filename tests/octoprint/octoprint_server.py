"""A real ``octoprint serve`` (from ``.venv-octoprint``) on loopback, for the tests.

The basedir is temporary. ``config.yaml`` turns the first-run wizard and every
online check off and the Virtual Printer on; ``octoprint user add`` (OctoPrint's own
CLI, offline) creates an admin user, and the application key for that user is preset
in the Application Keys plugin's store (``data/appkeys/keys.yaml``), which OctoPrint
1.11 reads at start. No global API key is configured.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import requests

from tests.hub.hub_process import free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 90.0
CONFIG = """\
server:
  firstRun: false
  onlineCheck: {enabled: false}
  pluginBlacklist: {enabled: false}
serial:
  port: VIRTUAL
  baudrate: 115200
plugins:
  virtual_printer:
    enabled: true
    simulated_errors: []
  _disabled: [announcements, softwareupdate, tracking, errortracking, discovery, pi_support,
              firmware_check, file_check, achievements, backup]
"""


def octoprint_python() -> str:
    """``FABHUB_OCTOPRINT_PYTHON``, else ``.venv-octoprint``'s python; fails if neither."""
    for candidate in (os.environ.get("FABHUB_OCTOPRINT_PYTHON", ""),
                      str(ROOT / ".venv-octoprint" / "bin" / "python")):
        if candidate and Path(candidate).exists():
            return candidate
    raise AssertionError("OctoPrint's python was not found: run 'make octoprint-venv' (make "
                         "test does) or set FABHUB_OCTOPRINT_PYTHON to a python with octoprint")


class OctoPrintServer:
    """One OctoPrint with its Virtual Printer; start, stop and restart it."""

    def __init__(self, basedir: Path) -> None:
        self.python = octoprint_python()
        self.basedir = basedir
        self.port = free_port()
        self.api_key = secrets.token_hex(16)
        self.proc: subprocess.Popen | None = None
        basedir.mkdir(parents=True, exist_ok=True)
        (basedir / "config.yaml").write_text(CONFIG, encoding="utf-8")
        self._octoprint("user", "add", "fabhub", "--password", secrets.token_hex(12), "--admin")
        keys = basedir / "data" / "appkeys"
        keys.mkdir(parents=True, exist_ok=True)
        (keys / "keys.yaml").write_text(
            f"fabhub:\n- app_id: fabhub-tests\n  api_key: {self.api_key}\n", encoding="utf-8")

    def _octoprint(self, *args: str) -> None:
        subprocess.run([self.python, "-m", "octoprint", "--basedir", str(self.basedir), *args],
                       check=True, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        """OctoPrint's own base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def driver_url(self) -> str:
        """The address fabhub's drivers take."""
        return f"octoprint+http://127.0.0.1:{self.port}"

    def get(self, path: str) -> requests.Response:
        """GET an API path with the test's application key."""
        return requests.get(self.url + path, headers={"X-Api-Key": self.api_key}, timeout=10)

    def post(self, path: str, body: dict) -> requests.Response:
        """POST a JSON command with the test's application key."""
        return requests.post(self.url + path, json=body, headers={"X-Api-Key": self.api_key},
                             timeout=10)

    def start(self) -> None:
        """Start ``octoprint serve`` and wait until its API answers the key."""
        log = open(self.basedir / "serve.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [self.python, "-m", "octoprint", "--basedir", str(self.basedir), "serve",
             "--host", "127.0.0.1", "--port", str(self.port), "--iknowwhatimdoing"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log_tail()
            try:
                if self.get("/api/version").status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"OctoPrint did not start in {START_TIMEOUT_S} s: {self.log_tail()}")

    def stop(self) -> None:
        """Stop OctoPrint the way a service manager does (SIGTERM, then SIGKILL)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_tail(self) -> str:
        """The end of OctoPrint's log, for failure messages."""
        path = self.basedir / "serve.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""
