"""Simulated firmware on real pseudo-terminals, for tests, benchmarks and the demo.

:class:`MarlinSim` and :class:`GrblSim` open a pty pair and behave on its device
path (``sim.path``) like a Marlin printer or a Grbl controller: real buffer sizes,
reply forms, an emulated link speed, per-command processing time, optional motion
time, and fault injection (:class:`Faults`). Every executed command is recorded in
``sim.executed`` so a test can prove exactly-once, in-order execution.

    with MarlinSim(faults=Faults.parse(["corrupt=0.2"])) as sim:
        driver = open_driver(sim.path, "marlin")
"""

from fabhub.drivers.sim.device import PtyDevice
from fabhub.drivers.sim.faults import Faults
from fabhub.drivers.sim.grbl import GrblSim
from fabhub.drivers.sim.marlin import MarlinSim

SIMULATORS = {"marlin": MarlinSim, "grbl": GrblSim}

__all__ = ["SIMULATORS", "Faults", "GrblSim", "MarlinSim", "PtyDevice"]
