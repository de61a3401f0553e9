"""Silent nodes: a machine whose node stopped heartbeating goes offline, its waiting jobs back.

A job assigned to a machine but never claimed would otherwise wait forever for a node
that is gone. A machine counts as silent when none of its enrolled, unrevoked nodes
has been heard (heartbeat or enrolment) for ``silent_s`` seconds. A machine whose node
holds a claimed job is left to the lease (``fabhub.nodes.runs.reap_expired``), and a
state a person set stays: the table in ``fabhub.jobs.states`` decides.
"""

from __future__ import annotations

import sqlite_utils

from fabhub.clock import iso_from_epoch
from fabhub.jobqueue.machine_state import claimed_job, move_machine
from fabhub.jobs.states import Actor, MachineState


def silent_machines(db: sqlite_utils.Database, now_epoch: float, silent_s: float) -> list[int]:
    """Machines not offline whose nodes have all been silent for ``silent_s`` or more."""
    cutoff = iso_from_epoch(now_epoch - silent_s)
    rows = db.execute(
        "SELECT m.id FROM machines m LEFT JOIN nodes n ON n.machine_id = m.id "
        "AND n.revoked_at IS NULL AND n.enrolled_at IS NOT NULL "
        "WHERE m.state != 'offline' GROUP BY m.id "
        "HAVING COALESCE(MAX(COALESCE(n.last_seen_at, n.enrolled_at)), '') < ?",
        [cutoff]).fetchall()
    return [r[0] for r in rows]


def reap_silent(db: sqlite_utils.Database, now_epoch: float, silent_s: float,
                not_before_epoch: float) -> list[int]:
    """Take machines with silent nodes offline (unclaimed jobs go back to the queue).

    ``not_before_epoch`` is when this hub started plus ``silent_s``: time the hub was
    down never counts against a node. Returns the machines taken offline.
    """
    if now_epoch < not_before_epoch:
        return []
    taken = []
    for machine_id in silent_machines(db, now_epoch, silent_s):
        with db.atomic():
            if claimed_job(db, machine_id) is not None:
                continue
            after = move_machine(db, machine_id, MachineState.OFFLINE, actor=Actor.HUB,
                                 reason=f"no word from its node for {silent_s:.0f} s",
                                 on_refusal="keep")
        if after is MachineState.OFFLINE:
            taken.append(machine_id)
    return taken
