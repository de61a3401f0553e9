"""Small mutable helpers of the scanner: a growing box with lines, and a heater model."""

from __future__ import annotations

from fabhub.jobs.analysis_model import Bounds

AMBIENT_C = 25.0


class Box:
    """The bounds of a set of points, growing as points are added, with their lines."""

    __slots__ = ("moves", "x0", "x0l", "x1", "x1l", "y0", "y0l", "y1", "y1l", "z0", "z0l",
                 "z1", "z1l")

    def __init__(self) -> None:
        inf = float("inf")
        self.x0 = self.y0 = self.z0 = inf
        self.x1 = self.y1 = self.z1 = -inf
        self.x0l = self.x1l = self.y0l = self.y1l = self.z0l = self.z1l = 0
        self.moves = 0

    def add(self, x: float, y: float, z: float, line: int) -> None:
        """Grow the box to hold the point (x, y, z) reached on ``line``."""
        if x < self.x0:
            self.x0, self.x0l = x, line
        if x > self.x1:
            self.x1, self.x1l = x, line
        if y < self.y0:
            self.y0, self.y0l = y, line
        if y > self.y1:
            self.y1, self.y1l = y, line
        if z < self.z0:
            self.z0, self.z0l = z, line
        if z > self.z1:
            self.z1, self.z1l = z, line

    def bounds(self) -> Bounds:
        """The box as plain data (empty when no move was counted)."""
        if not self.moves or self.x0 > self.x1:
            return Bounds()
        return Bounds(self.x0, self.x1, self.y0, self.y1, self.z0, self.z1,
                      self.x0l, self.x1l, self.y0l, self.y1l, self.z0l, self.z1l, self.moves)


class Heater:
    """A heater warming (or cooling) linearly towards its set point.

    ``rate`` is in °C/s. :meth:`wait` returns how long a wait for the set point takes when
    it starts at machine time ``now`` (seconds), and moves the heater's clock there.
    """

    __slots__ = ("rate", "set_at", "start_c", "target_c")

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.start_c = AMBIENT_C
        self.target_c = AMBIENT_C
        self.set_at = 0.0

    def temperature(self, now: float) -> float:
        """Modelled temperature at machine time ``now``."""
        span = abs(self.target_c - self.start_c)
        moved = min(span, max(0.0, now - self.set_at) * self.rate)
        return self.start_c + moved if self.target_c >= self.start_c else self.start_c - moved

    def set(self, target: float, now: float) -> None:
        """Change the set point at machine time ``now`` (0 switches the heater off)."""
        self.start_c = self.temperature(now)
        self.target_c = max(target, AMBIENT_C)
        self.set_at = now

    def wait(self, now: float, cooling_too: bool) -> float:
        """Seconds until the set point is reached, waiting from ``now``."""
        current = self.temperature(now)
        gap = self.target_c - current
        if gap <= 0 and not cooling_too:
            return 0.0
        return abs(gap) / self.rate
