"""The node's HTTP client for ``/node/v1`` (see docs/node-protocol.md); every call has a timeout.

A hub that cannot be reached, times out or answers 5xx raises :class:`HubUnreachable`
(try again later); a refusal (4xx) raises :class:`HubRefused` with the hub's error code.
Each thread uses its own :class:`HubClient` (a ``requests.Session`` is not shared).
"""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path
from typing import Any

import requests

from fabhub import __version__

CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 10.0
LONG_POLL_S = 20.0


class HubUnreachable(Exception):
    """The hub did not answer usefully (network, timeout, 5xx); try again later."""


class HubRefused(Exception):
    """The hub refused the call (4xx): ``status``, ``code``, ``details``."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.details = details


class HubClient:
    """Calls to one hub as one node."""

    def __init__(self, hub_url: str, token: str | None = None) -> None:
        self.base = hub_url.rstrip("/") + "/node/v1"
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def _call(self, method: str, path: str, body: Any = None, read_timeout: float = READ_TIMEOUT_S,
              **kwargs: Any) -> requests.Response:
        try:
            response = self.session.request(method, self.base + path, json=body,
                                            timeout=(CONNECT_TIMEOUT_S, read_timeout), **kwargs)
        except requests.RequestException as exc:
            raise HubUnreachable(f"{method} {path}: {exc.__class__.__name__}: {exc}") from None
        if response.status_code >= 500:
            raise HubUnreachable(f"{method} {path}: hub answered {response.status_code}")
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                error = {"code": "http_error", "message": response.text[:200]}
            raise HubRefused(response.status_code, str(error.get("code")),
                             str(error.get("message", "")), error.get("details") or {})
        return response

    def enroll(self, code: str, public_key_b64: str) -> dict[str, Any]:
        """Trade a one-time enrolment code and the public key for a token and identity."""
        return self._call("POST", "/enroll", {
            "code": code, "public_key": public_key_b64, "hostname": socket.gethostname(),
            "agent_version": __version__}).json()

    def heartbeat(self, machine_state: str, telemetry: dict[str, Any],
                  job: dict[str, Any] | None, detail: str = "") -> dict[str, Any]:
        """Report the machine's state; the answer carries pending commands."""
        return self._call("POST", "/heartbeat", {"machine_state": machine_state,
                                                  "telemetry": telemetry, "job": job,
                                                  "detail": detail}).json()

    def claim(self) -> dict[str, Any] | None:
        """The job assigned to this machine with its lease, or None."""
        response = self._call("POST", "/claim")
        return None if response.status_code == 204 else response.json()

    def download(self, job_id: int, target: Path) -> str:
        """Save the job's file to ``target``; return its SHA-256 (hex)."""
        digest = hashlib.sha256()
        response = self._call("GET", f"/jobs/{job_id}/file", stream=True, read_timeout=30.0)
        tmp = target.with_name(target.name + ".part")
        try:
            with open(tmp, "wb") as handle:
                for chunk in response.iter_content(64 * 1024):
                    digest.update(chunk)
                    handle.write(chunk)
        except requests.RequestException as exc:
            raise HubUnreachable(f"download of job {job_id} broke off: {exc}") from None
        tmp.replace(target)
        return digest.hexdigest()

    def events(self, job_id: int, batch: int, events: list[dict[str, Any]]) -> dict[str, Any]:
        """Send one numbered batch of a job's events."""
        return self._call("POST", f"/jobs/{job_id}/events",
                          {"batch": batch, "events": events}).json()

    def end(self, job_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """Report how the job ended, with the signed receipt."""
        return self._call("POST", f"/jobs/{job_id}/end", body).json()

    def commands(self, wait_s: float = LONG_POLL_S) -> list[dict[str, Any]]:
        """Long-poll for commands (the read timeout outlasts the wait)."""
        return self._call("GET", "/commands", params={"wait": wait_s},
                          read_timeout=wait_s + READ_TIMEOUT_S).json()["commands"]

    def ack(self, command_id: int, result: str, detail: str = "") -> None:
        """Say that a command was carried out (``done``) or not (``failed``)."""
        self._call("POST", f"/commands/{command_id}/ack", {"result": result, "detail": detail})
