"""A command issued in one hub process wakes a long poll waiting in another (granian runs
more than one worker); the long poll's own re-check is made too slow to hide a failure."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from fabhub.db import opened
from fabhub.jobqueue import classes, machines
from fabhub.jobs.machine_profile import example_profile
from fabhub.nodes import commands, registry


def _long_poll(database: str, node_id: int, ready: object, out: object) -> None:
    """In a child process: wait for a command, with the periodic re-check at 20 s."""
    commands.RECHECK_S = 20.0
    with opened(database) as db:
        ready.set()  # type: ignore[attr-defined]
        started = time.monotonic()
        found = commands.wait_for(db, node_id, 15.0)
        out.put((time.monotonic() - started, [c.type for c in found]))  # type: ignore[attr-defined]


def test_a_command_wakes_a_long_poll_in_another_process(instance: Path) -> None:
    database = str(instance / "fabhub.sqlite3")
    with opened(database) as db:
        profile = example_profile("fdm-marlin")
        classes.add_machine_class(db, profile.machine_class, profile.kind)
        machine = machines.add_machine(db, "printer", profile, None)
        node, _code = registry.register(db, machine.id, "pi", None)
    context = multiprocessing.get_context("spawn")
    ready, out = context.Event(), context.Queue()
    child = context.Process(target=_long_poll, args=(database, node.id, ready, out))
    child.start()
    try:
        assert ready.wait(60), "the child process did not start"
        time.sleep(1.0)  # the child is inside its long poll now
        with opened(database) as db:
            commands.issue(db, node.id, "emergency_stop", None, None)
        waited, found = out.get(timeout=30)
    finally:
        child.join(timeout=30)
    assert found == ["emergency_stop"]
    # Woken by the bell: about a second after the poll began (the issue came after 1 s),
    # far below the 20 s the re-check alone would take.
    assert waited < 3.0, f"the long poll took {waited:.1f} s to see the command"
