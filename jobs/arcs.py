"""G2/G3 arcs: centre (I/J/K or R form), sweep, helical length, bounds and tangents.

The arc is planned as one block of its true (helical) length; its entry and exit
tangents set the corner speeds with its neighbours, and its radius caps its speed so the
centripetal acceleration stays within the block's acceleration.
"""

from __future__ import annotations

from math import atan2, cos, hypot, pi, sin, sqrt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fabhub.jobs.gcode_scan import Scanner

TAU = 2.0 * pi
QUARTERS = tuple(q * pi / 2.0 for q in range(4))
# plane -> indices (into x, y, z) of the first, second and helical axes, and the words
PLANES = {17: (0, 1, 2, "X", "Y", "Z", "I", "J"), 18: (2, 0, 1, "Z", "X", "Y", "K", "I"),
          19: (1, 2, 0, "Y", "Z", "X", "J", "K")}


def _centre_from_radius(sa: float, sb: float, ta: float, tb: float, radius: float,
                        clockwise: bool) -> tuple[float, float] | None:
    """Centre of the arc of signed ``radius`` from (sa, sb) to (ta, tb); negative R is
    the long way round. ``None`` when start and end coincide (R cannot say where)."""
    da, db = ta - sa, tb - sb
    chord = hypot(da, db)
    if chord == 0:
        return None
    half = chord / 2.0
    offset = sqrt(max(0.0, radius * radius - half * half))
    side = -1.0 if clockwise != (radius < 0) else 1.0
    return ((sa + ta) / 2.0 - side * offset * db / chord,
            (sb + tb) / 2.0 + side * offset * da / chord)


def _sweep(start_angle: float, end_angle: float, clockwise: bool, full: bool) -> float:
    """Signed angle travelled from start to end: negative clockwise, a full turn if
    start and end coincide."""
    sweep = end_angle - start_angle
    if clockwise and (sweep >= 0 or full):
        sweep -= TAU
    elif not clockwise and (sweep <= 0 or full):
        sweep += TAU
    return sweep


def arc_move(sc: Scanner, params: dict[str, float], clockwise: bool) -> None:
    """Move along a G2 (clockwise) or G3 arc in the current plane."""
    ia, ib, ih, wa, wb, wh, off_a, off_b = PLANES[sc.plane]
    start = (sc.x, sc.y, sc.z)
    end = list(start)
    scale, relative = sc.scale, sc.relative
    for index, word in ((ia, wa), (ib, wb), (ih, wh)):
        if word in params:
            end[index] = (start[index] if relative else 0.0) + params[word] * scale
    sa, sb, sh = start[ia], start[ib], start[ih]
    ta, tb, th = end[ia], end[ib], end[ih]
    if "R" in params:
        centre = _centre_from_radius(sa, sb, ta, tb, params["R"] * scale, clockwise)
    elif off_a in params or off_b in params:
        centre = (sa + params.get(off_a, 0.0) * scale, sb + params.get(off_b, 0.0) * scale)
    else:
        centre = None
    de = 0.0
    if "E" in params:
        value = params["E"] * scale
        de = value if sc.relative_e else value - sc.e
        sc.e = sc.e + value if sc.relative_e else value
    sweep = radius = start_angle = 0.0
    if centre is None:
        sc.note("an arc without a usable centre (I/J/K or R) was taken as a straight move")
    else:
        ca, cb = centre
        radius = hypot(sa - ca, sb - cb)
        start_angle = atan2(sb - cb, sa - ca)
        full = abs(ta - sa) < 1e-9 and abs(tb - sb) < 1e-9
        sweep = _sweep(start_angle, atan2(tb - cb, ta - ca), clockwise, full)
    planar = abs(sweep) * radius
    rise = th - sh
    length = hypot(planar, rise) if planar else hypot(ta - sa, tb - sb, rise)
    sc.x, sc.y, sc.z = end
    if length < 1e-9:
        return
    points = [start, tuple(end)]
    if planar:
        for angle in QUARTERS:  # where the circle reaches its extremes in the plane
            travelled = ((angle - start_angle) if sweep > 0 else (start_angle - angle)) % TAU
            if travelled <= abs(sweep):
                point = [0.0, 0.0, 0.0]
                point[ia] = ca + radius * cos(angle)
                point[ib] = cb + radius * sin(angle)
                point[ih] = sh + rise * travelled / abs(sweep)
                points.append(tuple(point))
    sc.count_arc(points, de, length, rise != 0)
    speed = sc.feed * sc.speed_factor
    tag = sc.tool_on and sc.spindle_s > 0
    dx, dy, dz = end[0] - start[0], end[1] - start[1], end[2] - start[2]
    if not planar:
        sc.planner.add(dx, dy, dz, de, speed, tag)
        return
    direction = 1.0 if sweep > 0 else -1.0
    along, up = direction * planar / length, rise / length
    tangents = []
    for angle in (start_angle, start_angle + sweep):
        tangent = [0.0, 0.0, 0.0, de / length]
        tangent[ia] = -sin(angle) * along
        tangent[ib] = cos(angle) * along
        tangent[ih] = up
        tangents.append(tuple(tangent))
    sc.planner.add(dx, dy, dz, de, speed, tag, arc=(length, radius, tangents[0], tangents[1]))
