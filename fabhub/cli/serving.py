"""The production server: granian (HTTP in Rust) runs the hub's WSGI app in worker processes.

The node API's load is many small requests on long-lived keep-alive connections, plus one
command long poll per node; granian keeps every connection in its Rust event loop and hands
only whole requests to a pool of Python threads, where a pure-Python server spends its
time walking the open connections. Two workers (two interpreters, two GILs) serve about
1.5 times what one does on two cores; they share everything through the database, the
periodic jobs run in whichever worker holds their lock, and a command issued in one
worker wakes long polls in the other (:mod:`fabhub.nodes.doorbell`).
"""

from __future__ import annotations

import os
import sys
import threading
import time

import click
from flask import Flask

from fabhub import config
from fabhub.app import create_app
from fabhub.cli.root import Context, fail
from fabhub.instance import check_ready

PARENT_CHECK_S = 0.5


def _exit_with_parent(parent_pid: int) -> None:
    """End this worker when the server process that started it is gone (even by SIGKILL).

    An orphaned worker would keep the port, the periodic jobs' lock and the database
    open, and a restarted hub could not take over.
    """
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)
    threading.Thread(target=watch, name="fabhub-parent-watch", daemon=True).start()


def worker_app() -> Flask:
    """The app granian's worker serves (its factory target), built from ``FABHUB_INSTANCE``."""
    _exit_with_parent(int(os.environ["FABHUB_SERVER_PID"]))
    return create_app()


def serve_hub(ctx: Context, host: str, port: int, threads: int, connection_limit: int,
              workers: int) -> None:
    """Check the instance, then serve the hub with granian until interrupted."""
    from granian import Granian
    from granian.constants import Interfaces

    try:
        check_ready(ctx.instance)  # a bad setting or a missing migration is refused here
    except config.ConfigError as exc:
        fail(str(exc))
    os.environ["FABHUB_INSTANCE"] = str(ctx.instance.resolve())
    os.environ["FABHUB_SERVER_PID"] = str(os.getpid())
    click.echo(f"fabhub is serving on http://{host}:{port}/  (Ctrl-C stops it)")
    sys.stdout.flush()
    Granian("fabhub.cli.serving:worker_app", factory=True, interface=Interfaces.WSGI,
            address=host, port=port, workers=workers, blocking_threads=threads,
            backpressure=connection_limit, log_level="warning",
            workers_kill_timeout=10).serve()
