"""`fabhub demo` (what `make demo` runs) serves the login page and its printed logins work."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_serves_login_page(tmp_path: Path) -> None:
    port = free_port()
    fabhub = shutil.which("fabhub", path=str(Path(sys.executable).parent))
    assert fabhub, "the fabhub console script is not installed"
    proc = subprocess.Popen(
        [fabhub, "--instance", str(tmp_path / "demo"), "demo", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "serving on" in line:
                break
        output = "".join(lines)
        assert f"http://127.0.0.1:{port}/" in output, output
        logins = re.findall(r"(\w+)\s+(\w+)\s+password: (\S+)", output)
        assert {role for role, _, _ in logins} == {"gatekeeper", "maker"}
        assert len(logins) == 3
        for _ in range(50):
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5)
                break
            except OSError:
                time.sleep(0.1)
        assert page.status == 200
        assert "Log in" in page.read().decode()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
