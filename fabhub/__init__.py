"""fabhub: share a commons-owned fablab's machines.

This module stays import-light on purpose: a node on a Raspberry Pi imports
``fabhub.node`` and ``fabhub.drivers`` and must never load Flask.
"""

__version__ = "0.1.0"
