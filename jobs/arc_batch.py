"""G2/G3 arcs in the XY plane (G17), many at once with numpy: the batch form of
:func:`fabhub.jobs.arcs.arc_move` for runs of plain lines.

For each arc it finds the centre (I/J or R form), the sweep, the helical length, the
points that bound it (ends and the quadrant points it passes) and its entry and exit
tangents, which the planner uses for corner speeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fabhub.jobs.arcs import QUARTERS, TAU


@dataclass(frozen=True)
class ArcBatch:
    """Arcs of a run: ``length`` (0 for an arc too short to count), ``planar`` (False
    when it is taken as a straight move), the planner's ``(length, radius, entry,
    exit)`` per planar arc, bounding ``points`` (x, y, z rows, NaN when unused, start
    and end first) and which arcs have no usable centre."""

    length: np.ndarray
    planar: np.ndarray
    planner: list[tuple]
    points: np.ndarray
    centreless: np.ndarray


def arc_batch(clockwise: np.ndarray, start: np.ndarray, end: np.ndarray,
              offsets: np.ndarray, radius_word: np.ndarray, de: np.ndarray,
              scale: float) -> ArcBatch:
    """Arcs from ``start`` to ``end`` (rows of x, y, z in mm) with ``offsets`` (I, J in
    file units, NaN when absent) or ``radius_word`` (R, NaN when absent)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return _batch(clockwise, start, end, offsets, radius_word, de, scale)


def _centres(clockwise: np.ndarray, sa: np.ndarray, sb: np.ndarray, ta: np.ndarray,
             tb: np.ndarray, offsets: np.ndarray, radius_word: np.ndarray,
             scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre (a, b) of each arc and whether it has a usable one."""
    by_radius = ~np.isnan(radius_word)
    radius = radius_word * scale
    da, db = ta - sa, tb - sb
    chord = np.hypot(da, db)
    half = chord / 2.0
    offset = np.sqrt(np.maximum(0.0, radius * radius - half * half))
    side = np.where(clockwise != (radius < 0), -1.0, 1.0)
    ra = (sa + ta) / 2.0 - side * offset * db / chord
    rb = (sb + tb) / 2.0 + side * offset * da / chord
    given = ~np.isnan(offsets)
    ia = sa + np.where(given[:, 0], offsets[:, 0], 0.0) * scale
    ib = sb + np.where(given[:, 1], offsets[:, 1], 0.0) * scale
    usable = np.where(by_radius, chord != 0, given.any(axis=1))
    return np.where(by_radius, ra, ia), np.where(by_radius, rb, ib), usable


def _batch(clockwise: np.ndarray, start: np.ndarray, end: np.ndarray, offsets: np.ndarray,
           radius_word: np.ndarray, de: np.ndarray, scale: float) -> ArcBatch:
    sa, sb, sh = start.T
    ta, tb, th = end.T
    ca, cb, usable = _centres(clockwise, sa, sb, ta, tb, offsets, radius_word, scale)
    radius = np.where(usable, np.hypot(sa - ca, sb - cb), 0.0)
    start_angle = np.where(usable, np.arctan2(sb - cb, sa - ca), 0.0)
    full = (np.abs(ta - sa) < 1e-9) & (np.abs(tb - sb) < 1e-9)
    sweep = np.arctan2(tb - cb, ta - ca) - start_angle
    sweep = np.where(clockwise & ((sweep >= 0) | full), sweep - TAU, sweep)
    sweep = np.where(~clockwise & ((sweep <= 0) | full), sweep + TAU, sweep)
    sweep = np.where(usable, sweep, 0.0)
    planar_length = np.abs(sweep) * radius
    rise = th - sh
    planar = planar_length != 0
    length = np.where(planar, np.hypot(planar_length, rise),
                      np.hypot(np.hypot(ta - sa, tb - sb), rise))
    length = np.where(length < 1e-9, 0.0, length)
    planar &= length > 0
    points = np.full((len(sa), 6, 3), np.nan)
    points[:, 0], points[:, 1] = start, end
    turned = np.abs(sweep)
    for k, angle in enumerate(QUARTERS):
        travelled = np.where(sweep > 0, angle - start_angle, start_angle - angle) % TAU
        reached = planar & (travelled <= turned)
        points[reached, k + 2] = np.column_stack([
            ca + radius * np.cos(angle), cb + radius * np.sin(angle),
            sh + rise * travelled / turned])[reached]
    along = np.where(sweep > 0, 1.0, -1.0) * planar_length / length
    up, push = rise / length, de / length
    tangents = []
    for angle in (start_angle, start_angle + sweep):
        tangents.append(np.column_stack([-np.sin(angle) * along, np.cos(angle) * along,
                                         up, push])[planar].tolist())
    planner = [(d, r, tuple(a), tuple(b)) for d, r, a, b in zip(
        length[planar].tolist(), radius[planar].tolist(), *tangents, strict=True)]
    return ArcBatch(length, planar, planner, points, ~usable)
