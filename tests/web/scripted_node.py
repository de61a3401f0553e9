"""A scripted stand-in for the node agent: it plays a node over HTTP against a real hub.

The browser tests use it to make a job run (claim, progress batches, a signed
receipt at the end) until the real agent with simulated machines replaces it.
It speaks only the documented ``/node/v1`` protocol (docs/node-protocol.md).
"""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import timedelta

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from fabhub.clock import utc_now
from fabhub.jobs.receipts import UsageReceipt, sign_receipt, utc_timestamp


class ScriptedNode:
    """One enrolled node for one machine, driven step by step by a test."""

    def __init__(self, hub_url: str, enrolment_code: str) -> None:
        self.url = hub_url
        self.key = Ed25519PrivateKey.generate()
        public = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        answer = requests.post(f"{hub_url}/node/v1/enroll", timeout=10, json={
            "code": enrolment_code, "public_key": base64.b64encode(public).decode(),
            "hostname": "scripted", "agent_version": "scripted-test-node"})
        assert answer.status_code == 201, answer.text
        body = answer.json()
        self.node_id: int = body["node_id"]
        self.machine_id: int = body["machine_id"]
        self.headers = {"Authorization": f"Bearer {body['token']}"}
        self.batch = 0

    def post(self, path: str, body: dict | None = None) -> requests.Response:
        """POST JSON to the node API with the node's token."""
        return requests.post(self.url + path, json=body or {}, headers=self.headers, timeout=10)

    def heartbeat(self, state: str = "idle") -> None:
        """Report the machine's working state."""
        assert self.post("/node/v1/heartbeat", {"machine_state": state,
                                                "telemetry": {}}).status_code == 200

    def claim(self, timeout: float = 20.0) -> dict:
        """Claim the job the scheduler assigned to this machine (waiting for one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.post("/node/v1/claim")
            if answer.status_code == 200:
                return answer.json()["job"]
            assert answer.status_code == 204, answer.text
            time.sleep(0.2)
        raise AssertionError(f"no job was assigned to machine {self.machine_id} in {timeout} s")

    def report(self, job_id: int, *events: dict) -> None:
        """Send one numbered batch of events."""
        self.batch += 1
        at = utc_timestamp(utc_now())
        answer = self.post(f"/node/v1/jobs/{job_id}/events", {
            "batch": self.batch, "events": [{"at": at, **e} for e in events]})
        assert answer.status_code == 200, answer.text

    def run(self, job: dict, steps: int = 5, step_s: float = 0.6, busy_s: int = 1800) -> int:
        """Start ``job``, report progress in ``steps`` steps, end it with a signed receipt.

        ``busy_s`` is the machine time the receipt claims (what lands in the ledger).
        Returns the ledger entry's index.
        """
        self.batch = 0
        file = requests.get(f"{self.url}/node/v1/jobs/{job['id']}/file", headers=self.headers,
                            timeout=30)
        assert hashlib.sha256(file.content).hexdigest() == job["file_sha256"]
        total = file.content.count(b"\n")
        self.report(job["id"], {"type": "started"})
        for step in range(1, steps + 1):
            time.sleep(step_s)
            self.report(job["id"], {"type": "progress", "lines_acked": total * step // steps,
                                    "lines_total": total, "percent": 100.0 * step / steps},
                        {"type": "telemetry", "machine_state": "printing",
                         "temperatures": {"T": [210.0, 210.0], "B": [60.0, 60.0]}})
        end = utc_now()
        start = end - timedelta(seconds=busy_s)
        receipt = sign_receipt(UsageReceipt(
            job_id=job["id"], node_id=self.node_id, machine_id=self.machine_id,
            file_sha256=job["file_sha256"], started_at=utc_timestamp(start),
            ended_at=utc_timestamp(end), busy_s=busy_s, paused_s=0, material_mg=1500,
            outcome="completed"), self.key)
        answer = self.post(f"/node/v1/jobs/{job['id']}/end", {
            "outcome": "completed", "lines_acked": total, "receipt": receipt.to_dict()})
        assert answer.status_code == 200, answer.text
        return answer.json()["ledger_entry"]
