"""What OctoPrint's state texts mean to fabhub, and its temperatures as telemetry.

The texts are those of ``/api/job``'s ``state`` (OctoPrint 1.11, not translated).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fabhub.drivers.events import CANCELLED, COMPLETED, FAILED, Telemetry

READY_STATES: tuple[str, ...] = ("Operational",)
PRINTING_STATES: tuple[str, ...] = ("Starting", "Printing", "Resuming", "Finishing", "Cancelling")
PAUSED_STATES: tuple[str, ...] = ("Pausing", "Paused")
ERROR_STATES: tuple[str, ...] = ("Error", "Offline after error")


def _heater_name(key: str, tools: int) -> str:
    if key.startswith("tool"):
        return "T" if tools == 1 else "T" + key[4:]
    return {"bed": "B", "chamber": "C"}.get(key, key)


def telemetry_from(printer: dict[str, Any]) -> Telemetry:
    """Telemetry from ``/api/printer``: ``{"T": (actual, target), "B": ...}`` and the state."""
    temps = printer.get("temperature") or {}
    heaters = {k: v for k, v in temps.items() if isinstance(v, dict) and "actual" in v}
    tools = sum(1 for k in heaters if k.startswith("tool"))
    temperatures = {
        _heater_name(key, tools): (float(value["actual"] or 0.0),
                                   None if value.get("target") is None else float(value["target"]))
        for key, value in heaters.items()}
    return Telemetry(temperatures=temperatures,
                     machine_state=str((printer.get("state") or {}).get("text", "")))


@dataclass(frozen=True)
class Ending:
    """What the driver knows when OctoPrint no longer prints its job."""

    state: str  # OctoPrint's state text now
    file_name: str | None  # the file OctoPrint now has selected
    ours: bool  # is it the file the driver uploaded?
    completion: float | None  # OctoPrint's progress, percent of the file
    error: str  # from /api/printer/error
    error_reason: str
    gone_for: float | None  # seconds OctoPrint did not answer, if it did not
    stopping: bool  # the driver asked for a cancel
    where: str  # "after line N"


def job_ending(seen: Ending) -> tuple[str, str]:
    """How the job ended (outcome, reason), judged from what OctoPrint shows now."""
    shown = repr(seen.file_name) if seen.file_name else "no job"
    if seen.gone_for is not None:
        return FAILED, (f"OctoPrint restarted during the job: it did not answer for "
                        f"{seen.gone_for:.1f} s and came back {seen.state!r} with {shown}; "
                        f"the print stopped {seen.where}")
    if seen.state in ERROR_STATES:
        return FAILED, (f"OctoPrint reports a printer error ({seen.error_reason or 'unknown'}): "
                        f"{seen.error}; the print stopped {seen.where}")
    if seen.state not in READY_STATES:
        return FAILED, f"OctoPrint lost the printer ({seen.state}) {seen.where}"
    if not seen.ours:
        return FAILED, (f"the job vanished from OctoPrint, which now shows {shown} "
                        f"({seen.state}): it was restarted or another client took the "
                        f"printer; the print stopped {seen.where}")
    if seen.stopping:
        return CANCELLED, f"cancelled {seen.where}"
    if seen.completion is not None and seen.completion >= 100:
        return COMPLETED, "OctoPrint finished the print"
    return FAILED, (f"the print was stopped in OctoPrint, not by fabhub, {seen.where} "
                    f"({seen.completion or 0:.0f}% of the file)")


def error_text(state: str, error: dict[str, Any]) -> str:
    """The printer error OctoPrint reports, or what to say when it gives no details."""
    return str(error.get("error") or f"OctoPrint is in state {state!r} and gives no details")
