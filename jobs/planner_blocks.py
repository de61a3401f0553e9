"""Moves to planner blocks, many at a time: nominal speed, acceleration and corner speed.

:func:`blocks_from_moves` does with numpy arrays what a firmware planner does to each
move as it is queued (Marlin's, Grbl's): the nominal speed and the acceleration are
clamped by per-axis limits (print, travel and retract moves have their own
acceleration), and the speed at the corner with the previous move comes from classic
jerk (Marlin 1, Prusa firmware, PrusaSlicer's estimate) or junction deviation
(Marlin 2, Grbl). A move's corner depends on its predecessor only, so a whole batch is
computed at once; :class:`Previous` carries the last move of one batch to the next.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRAVEL, PRINT, RETRACT = 0, 1, 2


@dataclass(frozen=True)
class Limits:
    """The kinematic limits in force when a batch of moves was queued."""

    max_feedrate: tuple[float, float, float, float]
    max_acceleration: tuple[float, float, float, float]
    jerk: tuple[float, float, float, float]
    print_acceleration: float
    travel_acceleration: float
    retract_acceleration: float
    junction_deviation: float
    use_jerk: bool
    min_segment_time: float
    min_print_feedrate: float
    min_travel_feedrate: float


@dataclass(frozen=True)
class Previous:
    """The last queued move: exit velocity per axis, speed, standstill-safe speed and
    exit direction (its extruder part only for a retraction)."""

    velocity: tuple[float, float, float, float]
    speed: float
    safe: float
    direction: tuple[float, float, float, float]


@dataclass(frozen=True)
class Blocks:
    """Planner blocks as arrays: ``room`` is 2·acceleration·length, ``entry2`` the
    largest corner speed² with the previous block, ``safe2`` the speed² from which the
    block may stop at once, ``tag`` whether its time counts as tool-on time."""

    room: np.ndarray
    accel: np.ndarray
    length: np.ndarray
    speed: np.ndarray
    entry2: np.ndarray
    safe2: np.ndarray
    tag: np.ndarray

    def __len__(self) -> int:
        return len(self.room)

    @staticmethod
    def join(parts: list[Blocks]) -> Blocks:
        """One batch of the blocks of ``parts``, in order."""
        if len(parts) == 1:
            return parts[0]
        return Blocks(*(np.concatenate([getattr(p, f) for p in parts]) for f in FIELDS))

    def tail(self, start: int) -> Blocks:
        """The blocks from index ``start`` on."""
        return Blocks(*(getattr(self, f)[start:] for f in FIELDS))


FIELDS = ("room", "accel", "length", "speed", "entry2", "safe2", "tag")


def _cap(value: np.ndarray, shares: np.ndarray, limits: tuple[float, ...]) -> np.ndarray:
    """Lower a speed or acceleration along each move so that no axis, taking its share
    of it (``shares`` has one row per axis), exceeds its limit."""
    for share, limit in zip(shares, limits, strict=True):
        over = share * value > limit
        if over.any():
            value = np.where(over, limit / np.where(over, share, 1.0), value)
    return value


def _jump(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """An axis's speed jump at a corner: the difference while it keeps its direction,
    the larger speed when it reverses (Marlin's classic jerk)."""
    return np.where(before * after > 0, np.abs(before - after),
                    np.maximum(np.abs(before), np.abs(after)))


def blocks_from_moves(moves: np.ndarray, arcs: dict[int, tuple], limits: Limits,
                      prev: Previous | None) -> tuple[Blocks, Previous | None]:
    """Plan the moves (rows of dx, dy, dz, de in mm, feed in mm/s, tag) under ``limits``
    after ``prev``; return their blocks and the new last move.

    ``arcs`` maps a row index to ``(length, radius, entry tangent, exit tangent)`` for a
    G2/G3 move; its straight components then only set the axis limits. Rows that do not
    move are dropped.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return _plan(moves, arcs, limits, prev)


def _plan(moves: np.ndarray, arcs: dict[int, tuple], limits: Limits,
          prev: Previous | None) -> tuple[Blocks, Previous | None]:
    is_arc = np.zeros(len(moves), dtype=bool)
    is_arc[list(arcs)] = True
    dx, dy, dz, de = moves[:, 0], moves[:, 1], moves[:, 2], moves[:, 3]
    moved = (dx != 0) | (dy != 0) | (dz != 0)
    keep = moved | (de != 0) | is_arc
    if not keep.all():
        new_index = np.cumsum(keep) - 1
        arcs = {int(new_index[old]): arc for old, arc in arcs.items()}
        moves, moved, is_arc = moves[keep], moved[keep], is_arc[keep]
        dx, dy, dz, de = moves[:, 0], moves[:, 1], moves[:, 2], moves[:, 3]
    n = len(moves)
    if n == 0:
        return Blocks(*(np.empty(0) for _ in FIELDS)), prev
    feed, tag = moves[:, 4], moves[:, 5] != 0
    dist = np.where(moved, np.sqrt(dx * dx + dy * dy + dz * dz), np.abs(de))
    kind = np.where(moved, np.where(de != 0, PRINT, TRAVEL), RETRACT)
    entry = moves[:, :4] / dist[:, None]
    leave = entry.copy()
    shares = np.abs(entry).T.copy()
    radius = np.full(n, np.inf)
    if arcs:
        rows = np.fromiter(arcs, dtype=np.intp, count=len(arcs))
        info = list(arcs.values())
        dist[rows] = [arc[0] for arc in info]
        radius[rows] = [arc[1] for arc in info]
        entry[rows] = [arc[2] for arc in info]
        leave[rows] = [arc[3] for arc in info]
        kind[rows] = np.where(de[rows] != 0, PRINT, TRAVEL)
        # Each in-plane axis of an arc reaches full speed somewhere along it.
        for axis in (0, 1):
            shares[axis, rows] = (entry[rows, axis] != 0) | (leave[rows, axis] != 0)
        shares[2, rows] = np.abs(dz[rows]) / dist[rows]
        shares[3, rows] = np.abs(de[rows]) / dist[rows]
    lim = limits
    travel = kind == TRAVEL
    accel = np.where(travel, lim.travel_acceleration,
                     np.where(kind == PRINT, lim.print_acceleration, lim.retract_acceleration))
    speed = np.where(travel, np.maximum(feed, lim.min_travel_feedrate),
                     np.maximum(feed, lim.min_print_feedrate))
    speed = _cap(speed, shares, lim.max_feedrate)
    accel = _cap(accel, shares, lim.max_acceleration)
    speed = np.where(speed * speed > accel * radius, np.sqrt(accel * radius), speed)
    if lim.min_segment_time:
        speed = np.where(dist < speed * lim.min_segment_time, dist / lim.min_segment_time,
                         speed)
    retract = kind == RETRACT
    exit_direction = leave.copy()
    exit_direction[:, 3] = np.where(retract, leave[:, 3], 0.0)
    if lim.use_jerk:
        safe = _cap(speed, shares, lim.jerk)
        junction = _jerk_corners(entry, leave, speed, safe, lim.jerk, prev)
    else:
        safe = np.zeros(n)
        junction = _deviation_corners(entry, exit_direction, retract, speed, accel,
                                      lim.junction_deviation, prev)
    blocks = Blocks(2.0 * accel * dist, accel, dist, speed, junction * junction, safe * safe,
                    tag)
    last = n - 1
    v = float(speed[last])
    new_prev = Previous(tuple((leave[last] * v).tolist()), v, float(safe[last]),
                        tuple(exit_direction[last].tolist()))
    return blocks, new_prev


def _shifted(values: np.ndarray, first: float | tuple) -> np.ndarray:
    """``values`` moved one place later, with ``first`` in front (the previous batch)."""
    out = np.empty_like(values)
    out[1:] = values[:-1]
    out[0] = first
    return out


def _jerk_corners(entry: np.ndarray, leave: np.ndarray, speed: np.ndarray, safe: np.ndarray,
                  jerk: tuple[float, ...], prev: Previous | None) -> np.ndarray:
    """Classic jerk: the shared corner speed, scaled down until no axis jumps by more
    than its jerk; a corner from or to standstill-safe speeds on both sides is free."""
    p = prev or Previous((0.0,) * 4, 1.0, 0.0, (0.0,) * 4)
    pv = _shifted(speed, p.speed)
    psafe = _shifted(safe, p.safe)
    pvel = _shifted(leave * speed[:, None], p.velocity)
    slower = pv < speed
    junction = np.where(slower, pv, speed)
    factor = np.where(slower, 1.0, speed / pv)
    scale = np.ones(len(speed))
    for axis, limit in enumerate(jerk):
        jump = _jump(pvel[:, axis] * factor, entry[:, axis] * speed)
        scale = np.where(jump * scale > limit, limit / jump, scale)
    junction = junction * scale
    free = (psafe > junction * 0.99) & (safe > junction * 0.99)
    junction = np.where(free, safe, junction)
    if prev is None:
        junction[0] = safe[0]
    return junction


def _deviation_corners(entry: np.ndarray, exit_direction: np.ndarray, retract: np.ndarray,
                       speed: np.ndarray, accel: np.ndarray, deviation: float,
                       prev: Previous | None) -> np.ndarray:
    """Junction deviation: the corner speed of a circle of radius set by ``deviation``
    tangent to both moves; a full reversal stops, a straight line keeps its speed."""
    p = prev or Previous((0.0,) * 4, 0.0, 0.0, (0.0,) * 4)
    pdir = _shifted(exit_direction, p.direction)
    pv = _shifted(speed, p.speed)
    mine = np.where(retract, entry[:, 3], 0.0)
    cos_theta = -(pdir[:, 0] * entry[:, 0] + pdir[:, 1] * entry[:, 1]
                  + pdir[:, 2] * entry[:, 2] + pdir[:, 3] * mine)
    sin_half = np.sqrt(0.5 * (1.0 - cos_theta))
    corner = np.sqrt(accel * deviation * sin_half / (1.0 - sin_half))
    limit = np.minimum(speed, pv)
    junction = np.where(cos_theta > 0.999999, 0.0,
                        np.where(cos_theta < -0.999999, limit, np.minimum(corner, limit)))
    if prev is None:
        junction[0] = 0.0
    return junction
