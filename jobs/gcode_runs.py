"""A run of plain ``G0``-``G3`` and ``G92`` lines applied to the scanner at once (numpy).

Between two other commands the modes (absolute or relative, units, speed factor, tool)
cannot change, so positions are running sums or last-values-carried-forward, and every
figure the scanner keeps (bounds, filament, lengths, layers) is a reduction over the run.
It does what :meth:`fabhub.jobs.gcode_scan.Scanner.move` does line by line, which stays
the reference for single moves; :func:`apply_run` returns ``False`` (having changed
nothing) for the rare runs it leaves to that path: a move beyond the coordinate limit,
``G92`` setting X/Y/Z in relative mode, or arcs outside the XY plane.
"""

from __future__ import annotations

from math import inf
from typing import TYPE_CHECKING

import numpy as np

from fabhub.jobs.arc_batch import arc_batch
from fabhub.jobs.scan_state import Box

if TYPE_CHECKING:
    from fabhub.jobs.gcode_scan import Scanner

LIMIT = 1e9


def _carried(values: np.ndarray, start: float) -> np.ndarray:
    """Each NaN replaced by the last number before it (``start`` before the first)."""
    index = np.where(np.isnan(values), -1, np.arange(len(values)))
    np.maximum.accumulate(index, out=index)
    out = values[np.maximum(index, 0)]
    out[index < 0] = start
    return out


def _before(values: np.ndarray, start: float) -> np.ndarray:
    """``values`` one place later, ``start`` first: the value before each line."""
    out = np.empty_like(values)
    out[0] = start
    out[1:] = values[:-1]
    return out


def _running_sum(start: float, steps: np.ndarray) -> np.ndarray:
    """``start`` plus each prefix of ``steps``, added in order as a loop would."""
    return np.cumsum(np.concatenate([[start], steps]))[1:]


def grow(box: Box, xs: np.ndarray, ys: np.ndarray, zs: np.ndarray, lines: np.ndarray) -> None:
    """Grow ``box`` by the points in order, as repeated :meth:`Box.add` calls would."""
    if not len(xs):
        return
    for values, low, high in ((xs, "x0", "x1"), (ys, "y0", "y1"), (zs, "z0", "z1")):
        i = int(np.argmin(values))
        if values[i] < getattr(box, low):
            setattr(box, low, float(values[i]))
            setattr(box, low + "l", int(lines[i]))
        i = int(np.argmax(values))
        if values[i] > getattr(box, high):
            setattr(box, high, float(values[i]))
            setattr(box, high + "l", int(lines[i]))


def _segments(points: list, box: Box, start: tuple, end: tuple, lines: np.ndarray,
              mask: np.ndarray, with_start: bool) -> int:
    """Count the moves in ``mask`` in ``box`` and add their points (start then end) to
    ``points``; their count."""
    count = int(mask.sum())
    if count:
        pick = [axis[mask] for axis in end]
        at = lines[mask]
        if with_start:
            first = [axis[mask] for axis in start]
            pick = [np.column_stack([a, b]).ravel() for a, b in zip(first, pick, strict=True)]
            at = np.repeat(at, 2)
        points.append((*pick, at))
        box.moves += count
    return count


def apply_run(sc: Scanner, head: np.ndarray, values: np.ndarray, lines: np.ndarray) -> bool:
    """Apply plain lines (``head`` 0 to 3 or 92; ``values`` X Y Z E F I J K R, NaN when
    absent; ``lines`` their line numbers) to ``sc``; ``False`` (and nothing changed) if
    they are left to the line-by-line path."""
    g92 = head == 92
    arc = (head == 2) | (head == 3)
    if arc.any() and sc.plane != 17:
        return False
    present = ~np.isnan(values)
    if g92.any():
        bare = g92 & ~present[:, :4].any(axis=1)
        if sc.relative and (present[g92, :3].any() or bare.any()):
            return False
        values = values.copy()
        values[bare, :4] = 0.0  # G92 alone: every axis is 0
        present[bare, :4] = True
    if not (np.abs(values[present]) < LIMIT).all():
        return False
    scale = sc.scale
    starts = (sc.x, sc.y, sc.z)
    ends = []
    for axis, start in enumerate(starts):
        given = values[:, axis] * scale
        if sc.relative:
            ends.append(_running_sum(start, np.where(present[:, axis], given, 0.0)))
        else:
            ends.append(_carried(given, start))
    if not all((np.abs(end) < LIMIT).all() for end in ends):
        return False
    _record(sc, head, lines)
    moving = ~g92
    befores = tuple(_before(end, start) for end, start in zip(ends, starts, strict=True))
    dx, dy, dz = (np.where(moving, end - before, 0.0)
                  for end, before in zip(ends, befores, strict=True))
    de = _extrusion(sc, values[:, 3] * scale, present[:, 3], g92)
    feed = values[:, 4]
    feed = _carried(np.where((feed > 0) & (feed < LIMIT), feed * scale / 60.0, np.nan),
                    sc.feed)
    sc.feed = float(feed[-1])
    speed = feed * sc.speed_factor
    if sc.rapid_g0:
        speed = np.where(head == 0, inf, speed)
    moved = (dx != 0) | (dy != 0) | (dz != 0)
    straight = moved & ~arc
    extrude = straight & (de > 0)
    points = _count_moves(sc, head, lines, befores, ends, (dx, dy, dz), straight, extrude)
    planned: dict[int, tuple] = {}
    if arc.any():
        _count_arcs(sc, head, lines, befores, ends, values, de, arc, points, planned)
    for box, parts in points.items():
        if parts:
            xs, ys, zs, at = (np.concatenate(p) for p in zip(*parts, strict=True))
            order = np.argsort(at, kind="stable")
            grow(sc.boxes[box], xs[order], ys[order], zs[order], at[order])
    flowing = de != 0
    if flowing.any():
        sc.used = float(_running_sum(sc.used, de[flowing] * sc.flow)[-1])
    tagging = sc.tool_on and sc.spindle_s > 0
    tag = ((head == 1) | arc) if tagging else np.zeros(len(head))
    rows = np.flatnonzero(moving)
    index = np.cumsum(moving) - 1
    sc.planner.add_many(np.column_stack([dx, dy, dz, de, speed, tag])[rows],
                        {int(index[i]): move for i, move in planned.items()})
    sc.x, sc.y, sc.z = (float(end[-1]) for end in ends)
    changes = np.flatnonzero(moved | g92 | arc)
    if len(changes):
        sc.extruding = bool(extrude[changes[-1]])
    return True


def _record(sc: Scanner, head: np.ndarray, lines: np.ndarray) -> None:
    """Count the lines as valid and note each command's first line."""
    sc.valid_lines += len(head)
    for code in (0, 1, 2, 3, 92):
        at = np.flatnonzero(head == code)
        if len(at):
            sc.commands.setdefault(f"G{code}", int(lines[at[0]]))
    motions = np.flatnonzero(head != 92)
    if len(motions):
        sc.motion = int(head[motions[-1]])


def _extrusion(sc: Scanner, given: np.ndarray, present: np.ndarray,
               g92: np.ndarray) -> np.ndarray:
    """Filament pushed by each line (mm), updating ``sc.e``."""
    moving = present & ~g92
    if sc.relative_e:
        de = np.where(moving, given, 0.0)
        resets = np.flatnonzero(present & g92)
        start = sc.e if not len(resets) else float(given[resets[-1]])
        tail = de if not len(resets) else de[resets[-1] + 1:]
        sc.e = float(_running_sum(start, tail)[-1]) if len(tail) else start
        return de
    after = _carried(np.where(present, given, np.nan), sc.e)
    de = np.where(moving, given - _before(after, sc.e), 0.0)
    sc.e = float(after[-1])
    return de


def _count_moves(sc: Scanner, head: np.ndarray, lines: np.ndarray, starts: tuple,
                 ends: tuple, deltas: tuple, moved: np.ndarray,
                 extrude: np.ndarray) -> dict[str, list]:
    """Layers, cut and feed lengths of the straight moves by kind of work; the points
    they add to each box."""
    boxes = sc.boxes
    points: dict[str, list] = {name: [] for name in boxes}
    if _segments(points["extrude"], boxes["extrude"], starts, ends, lines, extrude, True):
        sc.extruded = True
        if sc.rapid_g0 is None:
            sc.rapid_g0 = False
        _count_layers(sc, ends[2][extrude])
    working = moved & ~extrude & (head == 1)
    dx, dy, dz = deltas
    if sc.tool_on:
        if _segments(points["tool"], boxes["tool"], starts, ends, lines, working, True):
            sc.tool_on_z_move = sc.tool_on_z_move or bool((dz[working] != 0).any())
            if sc.spindle_s > 0:
                lengths = np.sqrt(dx * dx + dy * dy + dz * dz)[working]
                sc.cut_length = float(_running_sum(sc.cut_length, lengths)[-1])
    elif _segments(points["feed"], boxes["feed"], starts, ends, lines, working, False):
        lengths = np.sqrt(dx * dx + dy * dy + dz * dz)[working]
        sc.feed_length = float(_running_sum(sc.feed_length, lengths)[-1])
        sc.feed_below_zero = sc.feed_below_zero or bool((ends[2][working] < 0).any())
    _segments(points["rapid"], boxes["rapid"], starts, ends, lines,
              moved & ~extrude & (head == 0), False)
    return points


def _count_arcs(sc: Scanner, head: np.ndarray, lines: np.ndarray, starts: tuple,
                ends: tuple, values: np.ndarray, de: np.ndarray, arc: np.ndarray,
                points: dict[str, list], planned: dict[int, tuple]) -> None:
    """Bounds, lengths and planner moves of the arcs; ``de`` of an arc too short to
    count is cleared, as it is not pushed."""
    rows = np.flatnonzero(arc)
    batch = arc_batch(head[rows] == 2, np.column_stack([e[rows] for e in starts]),
                      np.column_stack([e[rows] for e in ends]), values[rows, 5:7],
                      values[rows, 8], de[rows], sc.scale)
    if batch.centreless.any():
        line, sc.line = sc.line, int(lines[rows[batch.centreless][0]])
        sc.note("an arc without a usable centre (I/J/K or R) was taken as a straight move")
        sc.line = line
    counted = batch.length > 0
    de[rows[~counted]] = 0.0
    planned.update(zip(rows[batch.planar].tolist(), batch.planner, strict=True))
    pushes = de[rows] > 0
    kinds = [("extrude", counted & pushes)]
    if sc.tool_on:
        kinds.append(("tool", counted & ~pushes))
    else:
        kinds.append(("feed", counted & ~pushes))
    for name, mask in kinds:
        if not mask.any():
            continue
        box = sc.boxes[name]
        box.moves += int(mask.sum())
        chosen = batch.points[mask]
        used = ~np.isnan(chosen[:, :, 0])
        at = np.repeat(lines[rows[mask]], 6).reshape(-1, 6)[used]
        points[name].append((*chosen[used].T, at))
        length = batch.length[mask]
        if name == "extrude":
            sc.extruded = True
            if sc.rapid_g0 is None:
                sc.rapid_g0 = False
        elif name == "tool":
            rises = (chosen[:, 1, 2] != chosen[:, 0, 2]).any()
            sc.tool_on_z_move = sc.tool_on_z_move or bool(rises)
            if sc.spindle_s > 0:
                sc.cut_length = float(_running_sum(sc.cut_length, length)[-1])
        else:
            sc.feed_length = float(_running_sum(sc.feed_length, length)[-1])
            sc.feed_below_zero = sc.feed_below_zero or bool((chosen[used][:, 2] < 0).any())


def _count_layers(sc: Scanner, heights: np.ndarray) -> None:
    """A new layer whenever an extruding move goes 1 µm above the last layer's height."""
    record = np.maximum.accumulate(np.concatenate([[sc.layer_z], heights]))[:-1]
    layer_z = sc.layer_z
    for z in heights[heights > record].tolist():
        if z > layer_z + 1e-6:
            layer_z = z
            sc.layers_z += 1
    sc.layer_z = layer_z
