"""The end report: outcome, lines acknowledged and the signed receipt, as the node measured."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fabhub.jobs.receipts import UsageReceipt, sign_receipt, utc_timestamp


@dataclass(frozen=True)
class Measured:
    """What the node measured about one job run (wall-clock start, monotonic durations)."""

    started_epoch: float
    elapsed_s: float
    paused_s: float
    lines_acked: int
    material_mg: int


def end_report(job: dict[str, Any], node_id: int, machine_id: int, key: Ed25519PrivateKey,
               outcome: str, reason: str, measured: Measured, emergency: bool = False
               ) -> dict[str, Any]:
    """The body of ``POST /jobs/ID/end``: busy time is streaming time less paused time."""
    start = datetime.fromtimestamp(measured.started_epoch, UTC)
    end = datetime.fromtimestamp(measured.started_epoch + max(measured.elapsed_s, 0.0), UTC)
    paused = max(0, round(measured.paused_s))
    busy = max(0, round(measured.elapsed_s - measured.paused_s))
    signed = sign_receipt(UsageReceipt(
        job_id=int(job["id"]), node_id=node_id, machine_id=machine_id,
        file_sha256=job["file_sha256"], started_at=utc_timestamp(start),
        ended_at=utc_timestamp(end), busy_s=busy, paused_s=paused,
        material_mg=max(0, measured.material_mg), outcome=outcome), key)
    return {"outcome": outcome, "reason": reason[:300], "lines_acked": measured.lines_acked,
            "emergency_stop": emergency, "receipt": signed.to_dict()}
