"""Why a job waits, in the reader's language, from the scheduler's reason code and details.

The scheduler stores an English message beside a stable code; the pages rebuild
the sentence from the code so that French readers get French. An unknown code
falls back to the stored message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import gettext as _

from fabhub.jobqueue.fit import job_blocking_findings
from fabhub.jobqueue.jobs import Job
from fabhub.request_db import get_db
from fabhub.web.common import translated_states
from fabhub.web.core_messages import finding_text


def _states(details: dict[str, Any]) -> str:
    names = translated_states()
    return ", ".join(names.get(s, s) for s in details.get("states", []))


MESSAGES: dict[str, Callable[[dict[str, Any]], str]] = {
    "machines_busy": lambda d: _("All %(n)s fitting machine(s) are busy.",
                                 n=d.get("machines", 1)),
    "machines_unavailable": lambda d: _("No fitting machine is available now (%(states)s).",
                                        states=_states(d)),
    "not_certified": lambda d: _("You are not certified for %(cls)s machines yet; ask a "
                                 "gatekeeper.", cls=d.get("machine_class", "?")),
    "no_machine_in_class": lambda d: _("The lab has no machine of class %(cls)s.",
                                       cls=d.get("machine_class", "?")),
    "over_quota": lambda d: _("This job would take you over your weekly hours on %(cls)s "
                              "machines.", cls=d.get("machine_class", "?")),
    "no_fitting_machine": lambda d: _("No %(cls)s machine can run this file.",
                                      cls=d.get("machine_class", "?")),
    "reserved": lambda _d: _("The fitting idle machine(s) are reserved by another member."),
}


def _why_unfit(job_id: int) -> str:
    """The first finding that keeps the job's file off its class's machines, with its line."""
    findings = job_blocking_findings(get_db(), job_id)
    if not findings:
        return ""
    first = findings[0]
    where = " (" + _("line %(n)s", n=first.line) + ")" if first.line else ""
    return " " + finding_text(first) + where


def wait_reason(job: Job) -> str:
    """The sentence that says why ``job`` waits, with the jobs of higher priority ahead."""
    build = MESSAGES.get(job.wait_code or "")
    text = build(job.wait_details) if build else (job.wait_message or "")
    if job.wait_code == "no_fitting_machine":
        text += _why_unfit(job.id)
    if job.wait_ahead:
        text += " " + _("%(n)s job(s) of higher priority wait for the same machines.",
                        n=job.wait_ahead)
    return text
