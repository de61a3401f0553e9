"""The ``fabhub`` command: a thin layer over the library (a composition root).

Each module of this package adds one area's commands to :data:`main`. Heavy
imports (Flask, the WSGI server) happen inside the commands that need them, so
that ``fabhub node ...`` on a Raspberry Pi never loads the hub.
"""

from fabhub.cli import analyze, demo, hub, ledger, node, sim, users
from fabhub.cli.root import main

__all__ = ["analyze", "demo", "hub", "ledger", "main", "node", "sim", "users"]
