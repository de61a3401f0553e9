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
# plane -> (first axis, second axis, helical axis, offset words for the first two)
PLANES = {17: ("x", "y", "z", "I", "J"), 18: ("z", "x", "y", "K", "I"),
          19: ("y", "z", "x", "J", "K")}


def _target(sc: Scanner, axis: str, params: dict[str, float]) -> float:
    word = axis.upper()
    current = getattr(sc, axis)
    if word not in params:
        return current
    value = params[word] * sc.scale
    return current + value if sc.relative else value


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


def arc_move(sc: Scanner, params: dict[str, float], clockwise: bool) -> None:
    """Move along a G2 (clockwise) or G3 arc in the current plane."""
    first, second, helical, off_a, off_b = PLANES[sc.plane]
    sa, sb, sh = getattr(sc, first), getattr(sc, second), getattr(sc, helical)
    ta, tb = _target(sc, first, params), _target(sc, second, params)
    th = _target(sc, helical, params)
    if "R" in params:
        centre = _centre_from_radius(sa, sb, ta, tb, params["R"] * sc.scale, clockwise)
    elif off_a in params or off_b in params:
        centre = (sa + params.get(off_a, 0.0) * sc.scale, sb + params.get(off_b, 0.0) * sc.scale)
    else:
        centre = None
    de = 0.0
    if "E" in params:
        value = params["E"] * sc.scale
        de = value if sc.relative_e else value - sc.e
        sc.e = sc.e + value if sc.relative_e else value
    if centre is None:
        sc.note("an arc without a usable centre (I/J/K or R) was taken as a straight move")
        sweep, radius = 0.0, 0.0
    else:
        ca, cb = centre
        radius = hypot(sa - ca, sb - cb)
        start_angle = atan2(sb - cb, sa - ca)
        sweep = atan2(tb - cb, ta - ca) - start_angle
        full = abs(ta - sa) < 1e-9 and abs(tb - sb) < 1e-9
        if clockwise and (sweep >= 0 or full):
            sweep -= TAU
        elif not clockwise and (sweep <= 0 or full):
            sweep += TAU
    planar = abs(sweep) * radius
    rise = th - sh
    length = hypot(planar, rise) if planar else hypot(ta - sa, tb - sb, rise)
    points = [(sa, sb, sh), (ta, tb, th)]
    if planar:
        for quarter in range(4):
            angle = quarter * pi / 2.0
            travelled = ((angle - start_angle) if sweep > 0 else (start_angle - angle)) % TAU
            if travelled <= abs(sweep):
                fraction = travelled / abs(sweep)
                points.append((ca + radius * cos(angle), cb + radius * sin(angle),
                               sh + rise * fraction))
    order = {first: 0, second: 1, helical: 2}
    xyz = [(p[order["x"]], p[order["y"]], p[order["z"]]) for p in points]
    start_xyz, end_xyz = xyz[0], xyz[1]
    delta = [end - begin for begin, end in zip(start_xyz, end_xyz, strict=True)]
    for axis, value in zip("xyz", end_xyz, strict=True):
        setattr(sc, axis, value)
    if length < 1e-9:
        return
    sc.count_arc(xyz, de, length, rise != 0)
    speed = sc.feed * sc.speed_factor
    tag = sc.tool_on and sc.spindle_s > 0
    if not planar:
        sc.planner.add(delta[0], delta[1], delta[2], de, speed, tag)
        return
    direction = 1.0 if sweep > 0 else -1.0
    tangents = []
    for angle in (start_angle, start_angle + sweep):
        in_plane = (-sin(angle) * direction * planar / length,
                    cos(angle) * direction * planar / length, rise / length)
        tangents.append((in_plane[order["x"]], in_plane[order["y"]], in_plane[order["z"]],
                         de / length))
    sc.planner.add(delta[0], delta[1], delta[2], de, speed, tag,
                   arc=(length, radius, tangents[0], tangents[1]))
