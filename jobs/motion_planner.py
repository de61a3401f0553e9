"""A trapezoidal motion planner with look-ahead that adds up how long moves take.

It follows the firmware planners (Marlin's, Grbl's): each move becomes a block with a
nominal speed, clamped by per-axis feed-rate limits, and an acceleration, clamped by
per-axis acceleration limits (print, travel and retract moves have their own). Corner
speeds come from classic jerk (Marlin 1 and Prusa firmware, also what PrusaSlicer's
estimate uses) or junction deviation (Marlin 2, Grbl). A backward pass limits each
block's entry speed so the machine can still stop at the end of the look-ahead window,
a forward pass so the speed reached is within the acceleration, and then every block
runs a trapezoid: accelerate, cruise, decelerate.

Blocks wait in a bounded window; when it fills, the oldest blocks are timed and dropped
(their exit speed is then fixed, as in firmware), so memory does not grow with the file.
"""

from __future__ import annotations

from math import sqrt

from fabhub.jobs.machine_profile import Kinematics

# Blocks kept for look-ahead after a flush, and window size that triggers a flush.
LOOKAHEAD_BLOCKS = 32
WINDOW_BLOCKS = 256
TRAVEL, PRINT, RETRACT = 0, 1, 2


class Planner:
    """Plans moves and accumulates their duration in seconds (see the module docstring).

    The limits are plain attributes so that ``M201``/``M203``/``M204``/``M205`` in a file
    can change them while it is analysed: ``max_feedrate`` and ``max_acceleration`` are
    ``[x, y, z, e]`` lists, ``jerk`` likewise.
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
        # The window: one tuple per block, (2·a·length, acceleration, length, nominal speed,
        # max entry speed², safe standstill speed², tagged).
        self._blocks: list[tuple] = []
        self._first_entry2: float | None = None  # fixed once its predecessor was timed
        self._export = lambda: None
        self.add = self._build(None)

    def limits_changed(self) -> None:
        """Take new values of the limit attributes into account for the next moves."""
        self.add = self._build(self._export())

    def _build(self, prev: tuple | None):
        """The ``add`` function for the current limits, continuing from ``prev``.

        A closure keeps every limit and the previous block's exit state in local
        variables: this is the analyzer's hot path.
        """
        mfx, mfy, mfz, mfe = self.max_feedrate
        max_x, max_y, max_z, max_e = self.max_acceleration
        jx, jy, jz, je = self.jerk
        print_a, travel_a, retract_a = (self.print_acceleration, self.travel_acceleration,
                                        self.retract_acceleration)
        deviation = self.junction_deviation
        use_jerk = self.use_jerk
        min_seg = self.min_segment_time
        min_print, min_travel = self.min_print_feedrate, self.min_travel_feedrate
        blocks = self._blocks
        put = blocks.append
        flush = self._flush
        has_prev = prev is not None
        pvx, pvy, pvz, pve, pv, psafe, pux, puy, puz, pue = prev or (0.0,) * 10

        def add(dx: float, dy: float, dz: float, de: float, feed: float,
                tag: bool = False, arc: tuple | None = None) -> None:
            """Queue a move of (dx, dy, dz, de) mm at ``feed`` mm/s.

            A tagged move's time is also added to ``tagged_s`` (laser or spindle on).
            ``arc`` describes a G2/G3 move as ``(length, radius, entry, exit)`` with unit
            tangent vectors (x, y, z, e); the straight components then only set limits.
            """
            nonlocal has_prev, pvx, pvy, pvz, pve, pv, psafe, pux, puy, puz, pue
            if arc is None:
                if dx or dy or dz:
                    dist = sqrt(dx * dx + dy * dy + dz * dz)
                    kind = PRINT if de else TRAVEL
                elif de:
                    dist = de if de > 0 else -de
                    kind = RETRACT
                else:
                    return
                inv = 1.0 / dist
                ux, uy, uz, ue = dx * inv, dy * inv, dz * inv, de * inv
                xx, xy, xz, xe = ux, uy, uz, ue
                ax = ux if ux >= 0 else -ux
                ay = uy if uy >= 0 else -uy
                az = uz if uz >= 0 else -uz
                ae = ue if ue >= 0 else -ue
            else:
                dist, radius, (ux, uy, uz, ue), (xx, xy, xz, xe) = arc
                kind = PRINT if de else TRAVEL
                ax = 1.0 if (ux or xx) else 0.0  # each in-plane axis reaches full speed
                ay = 1.0 if (uy or xy) else 0.0
                az = abs(dz) / dist
                ae = abs(de) / dist
            if kind == TRAVEL:
                a = travel_a
                v = feed if feed > min_travel else min_travel
            else:
                a = print_a if kind == PRINT else retract_a
                v = feed if feed > min_print else min_print
            v = _cap(v, ax, ay, az, ae, mfx, mfy, mfz, mfe)
            a = _cap(a, ax, ay, az, ae, max_x, max_y, max_z, max_e)
            if arc is not None and v * v > a * radius:
                v = sqrt(a * radius)  # centripetal acceleration on the arc
            if min_seg and dist < v * min_seg:
                v = dist / min_seg
            vx, vy, vz, ve = ux * v, uy * v, uz * v, ue * v
            if use_jerk:
                # Speed from or to standstill: no axis may jump by more than its jerk.
                safe = _cap(v, ax, ay, az, ae, jx, jy, jz, je)
                if has_prev:
                    # Classic jerk (Marlin): the shared junction speed, scaled down until
                    # no axis jumps by more than its jerk; a reversing axis jumps by the
                    # larger of its two speeds, a coasting one by their difference.
                    if pv < v:
                        junction, factor = pv, 1.0
                    else:
                        junction, factor = v, v / pv
                    scale = 1.0
                    jump = _jump(pvx * factor, vx)
                    if jump * scale > jx:
                        scale = jx / jump
                    jump = _jump(pvy * factor, vy)
                    if jump * scale > jy:
                        scale = jy / jump
                    if pvz or vz:
                        jump = _jump(pvz * factor, vz)
                        if jump * scale > jz:
                            scale = jz / jump
                    if pve or ve:
                        jump = _jump(pve * factor, ve)
                        if jump * scale > je:
                            scale = je / jump
                    junction *= scale
                    if psafe > junction * 0.99 and safe > junction * 0.99:
                        junction = safe
                else:
                    junction = safe
            else:
                safe = 0.0
                if not has_prev:
                    junction = 0.0
                else:
                    ce = ue if kind == RETRACT else 0.0
                    cos_theta = -(pux * ux + puy * uy + puz * uz + pue * ce)
                    if cos_theta > 0.999999:
                        junction = 0.0  # a full reversal stops
                    elif cos_theta < -0.999999:
                        junction = v if v < pv else pv  # straight on
                    else:
                        sin_half = sqrt(0.5 * (1.0 - cos_theta))
                        junction = sqrt(a * deviation * sin_half / (1.0 - sin_half))
                        if junction > v:
                            junction = v
                        if junction > pv:
                            junction = pv
            put((2.0 * a * dist, a, dist, v, junction * junction, safe * safe, tag))
            has_prev = True
            pvx, pvy, pvz, pve, pv, psafe = xx * v, xy * v, xz * v, xe * v, v, safe
            pux, puy, puz, pue = xx, xy, xz, (xe if kind == RETRACT else 0.0)
            if len(blocks) >= WINDOW_BLOCKS:
                flush(WINDOW_BLOCKS - LOOKAHEAD_BLOCKS)

        def export() -> tuple | None:
            if not has_prev:
                return None
            return (pvx, pvy, pvz, pve, pv, psafe, pux, puy, puz, pue)

        self._export = export
        return add

    def stop(self) -> None:
        """The machine comes to rest (dwell, wait, homing): time every queued block."""
        if self._blocks:
            self._flush(len(self._blocks))
        self._first_entry2 = None
        self.add = self._build(None)

    def finish(self) -> float:
        """Time everything still queued and return the total in seconds."""
        self.stop()
        return self.total_s

    def _flush(self, count: int) -> None:
        """Plan the window and time its first ``count`` blocks."""
        blocks = self._blocks
        n = len(blocks)
        final = count == n
        # Backward pass: from the end of the window, which must come to rest.
        entry2 = [0.0] * (n + 1)
        nxt = entry2[n] = blocks[-1][5]
        for i in range(n - 1, -1, -1):
            block = blocks[i]
            limit = nxt + block[0]
            nxt = block[4] if block[4] < limit else limit
            entry2[i] = nxt
        if self._first_entry2 is not None:
            entry2[0] = self._first_entry2
        # Forward pass fused with the trapezoids of the blocks being timed:
        # p = min(cruise, peak of a triangle); t = accelerate + decelerate + cruise.
        total = tagged = 0.0
        v0sq = entry2[0]
        v0 = sqrt(v0sq)
        for i in range(count):
            room, a, d, vc, _, _, tag = blocks[i]
            reach = v0sq + room
            v1sq = entry2[i + 1]
            if v1sq > reach:
                v1sq = entry2[i + 1] = reach
            v1 = sqrt(v1sq)
            peak2 = 0.5 * (reach + v1sq)
            if peak2 >= vc * vc:
                t = (vc - v0 + vc - v1) / a + (d - (2.0 * vc * vc - v0sq - v1sq) / (2.0 * a)) / vc
            else:
                peak = sqrt(peak2)
                t = (peak - v0 + peak - v1) / a
            total += t
            if tag:
                tagged += t
            v0sq, v0 = v1sq, v1
        self.total_s += total
        self.tagged_s += tagged
        if final:
            blocks.clear()
            self._first_entry2 = None
        else:
            self._first_entry2 = entry2[count]
            del blocks[:count]


def _jump(before: float, after: float) -> float:
    """An axis's speed jump at a junction: the difference while it keeps its direction,
    the larger speed when it reverses (Marlin's classic jerk)."""
    if before * after > 0:
        return before - after if before > after else after - before
    before = before if before > 0 else -before
    after = after if after > 0 else -after
    return before if before > after else after


def _cap(value: float, ax: float, ay: float, az: float, ae: float,
         lx: float, ly: float, lz: float, le: float) -> float:
    """Lower a speed or acceleration along a move so that no axis, taking the share
    ``ax``..``ae`` of it, exceeds its limit ``lx``..``le``."""
    if ax * value > lx:
        value = lx / ax
    if ay * value > ly:
        value = ly / ay
    if az * value > lz:
        value = lz / az
    if ae * value > le:
        value = le / ae
    return value
