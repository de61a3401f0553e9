"""A trapezoidal motion planner with look-ahead that adds up how long moves take.

It follows the firmware planners (Marlin's, Grbl's): each move becomes a block with a
nominal speed and acceleration clamped by per-axis limits and a corner speed with its
predecessor (:mod:`fabhub.jobs.planner_blocks`); a bounded look-ahead window then runs
backward and forward passes and times every block as a trapezoid: accelerate, cruise,
decelerate (:mod:`fabhub.jobs.planner_timing`).

Moves are queued as plain tuples and planned in batches with numpy, which is what makes
the analyzer fast; batches are bounded, so memory does not grow with the file.
"""

from __future__ import annotations

import numpy as np

from fabhub.jobs.machine_profile import Kinematics
from fabhub.jobs.planner_blocks import Blocks, Limits, Previous, blocks_from_moves
from fabhub.jobs.planner_timing import time_blocks

# Moves queued before they become blocks, and blocks queued before they are timed.
MOVE_BATCH = 8192
BLOCK_BATCH = 32768


class Planner:
    """Plans moves and accumulates their duration in seconds (see the module docstring).

    The limits are plain attributes so that ``M201``/``M203``/``M204``/``M205`` in a file
    can change them while it is analysed (then call :meth:`limits_changed`):
    ``max_feedrate`` and ``max_acceleration`` are ``[x, y, z, e]`` lists, ``jerk`` likewise.
    """

    def __init__(self, kinematics: Kinematics) -> None:
        k = kinematics
        self.max_feedrate = [k.max_feedrate.x, k.max_feedrate.y, k.max_feedrate.z,
                             k.max_feedrate.e]
        self.max_acceleration = [k.max_acceleration.x, k.max_acceleration.y,
                                 k.max_acceleration.z, k.max_acceleration.e]
        self.jerk = [k.jerk.x, k.jerk.y, k.jerk.z, k.jerk.e]
        self.print_acceleration = k.print_acceleration
        self.travel_acceleration = k.travel_acceleration
        self.retract_acceleration = k.retract_acceleration
        self.junction_deviation = k.junction_deviation
        self.use_jerk = k.cornering == "jerk"
        self.min_segment_time = k.min_segment_time
        self.min_print_feedrate = k.min_print_feedrate
        self.min_travel_feedrate = k.min_travel_feedrate
        self.total_s = 0.0
        self.tagged_s = 0.0
        self._moves: list[tuple] = []  # single moves, after the batches
        self._batches: list[np.ndarray] = []
        self._waiting = 0  # moves in self._batches
        self._arcs: dict[int, tuple] = {}
        self._blocks: list[Blocks] = []
        self._queued = 0  # blocks in self._blocks
        self._prev: Previous | None = None
        self._first_entry2: float | None = None
        self._limits = self._snapshot()

    def _snapshot(self) -> Limits:
        return Limits(tuple(self.max_feedrate), tuple(self.max_acceleration),
                      tuple(self.jerk), self.print_acceleration, self.travel_acceleration,
                      self.retract_acceleration, self.junction_deviation, self.use_jerk,
                      self.min_segment_time, self.min_print_feedrate,
                      self.min_travel_feedrate)

    def add(self, dx: float, dy: float, dz: float, de: float, feed: float,
            tag: bool = False, arc: tuple | None = None) -> None:
        """Queue a move of (dx, dy, dz, de) mm at ``feed`` mm/s.

        A tagged move's time is also added to ``tagged_s`` (laser or spindle on).
        ``arc`` describes a G2/G3 move as ``(length, radius, entry, exit)`` with unit
        tangent vectors (x, y, z, e); the straight components then only set limits.
        """
        if arc is not None:
            self._arcs[self._waiting + len(self._moves)] = arc
        self._moves.append((dx, dy, dz, de, feed, tag))
        if len(self._moves) >= MOVE_BATCH:
            self._plan()

    def add_many(self, moves: np.ndarray, arcs: dict[int, tuple] | None = None) -> None:
        """Queue moves: rows of (dx, dy, dz, de, feed, tag) as in :meth:`add`, and
        ``arcs`` mapping a row to its ``arc`` description."""
        self._hold()
        for row, arc in (arcs or {}).items():
            self._arcs[self._waiting + row] = arc
        self._batches.append(moves)
        self._waiting += len(moves)
        if self._waiting >= MOVE_BATCH:
            self._plan()

    def _hold(self) -> None:
        """Move the single queued moves into the list of batches, keeping their order."""
        if self._moves:
            self._batches.append(np.array(self._moves, dtype=float))
            self._waiting += len(self._moves)
            self._moves = []

    def limits_changed(self) -> None:
        """Take new values of the limit attributes into account for the next moves."""
        self._plan()
        self._limits = self._snapshot()

    def settle(self) -> None:
        """Time what a firmware planner would have timed by now (for machine time)."""
        self._plan()
        self._time(final=False)

    def stop(self) -> None:
        """The machine comes to rest (dwell, wait, homing): time every queued block."""
        self._plan()
        self._time(final=True)
        self._prev = None
        self._first_entry2 = None

    def finish(self) -> float:
        """Time everything still queued and return the total in seconds."""
        self.stop()
        return self.total_s

    def _plan(self) -> None:
        """Turn the queued moves into blocks under the limits they were queued with."""
        self._hold()
        if self._batches:
            moves = np.concatenate(self._batches) if len(self._batches) > 1 else self._batches[0]
            arcs = self._arcs
            self._batches, self._arcs, self._waiting = [], {}, 0
            self._queue(moves, arcs)

    def _queue(self, moves: np.ndarray, arcs: dict[int, tuple]) -> None:
        blocks, self._prev = blocks_from_moves(moves, arcs, self._limits, self._prev)
        if len(blocks):
            self._blocks.append(blocks)
            self._queued += len(blocks)
            if self._queued >= BLOCK_BATCH:
                self._time(final=False)

    def _time(self, final: bool) -> None:
        if not self._blocks:
            return
        blocks = Blocks.join(self._blocks)
        total, tagged, count, self._first_entry2 = time_blocks(blocks, self._first_entry2,
                                                               final)
        self.total_s += total
        self.tagged_s += tagged
        rest = blocks.tail(count)
        self._blocks = [rest] if len(rest) else []
        self._queued = len(rest)
