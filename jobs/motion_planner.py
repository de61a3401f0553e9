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
        # The window: per block length, acceleration, nominal speed², max entry speed²,
        # safe (standstill) speed², and whether its time counts as tagged (tool on).
        self._length: list[float] = []
        self._accel: list[float] = []
        self._nominal2: list[float] = []
        self._max_entry2: list[float] = []
        self._safe2: list[float] = []
        self._tag: list[bool] = []
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
        lengths = self._length
        put_length, put_accel = lengths.append, self._accel.append
        put_nominal, put_entry = self._nominal2.append, self._max_entry2.append
        put_safe, put_tag = self._safe2.append, self._tag.append
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
            if ax * v > mfx:
                v = mfx / ax
            if ay * v > mfy:
                v = mfy / ay
            if az * v > mfz:
                v = mfz / az
            if ae * v > mfe:
                v = mfe / ae
            if ax * a > max_x:
                a = max_x / ax
            if ay * a > max_y:
                a = max_y / ay
            if az * a > max_z:
                a = max_z / az
            if ae * a > max_e:
                a = max_e / ae
            if arc is not None and v * v > a * radius:
                v = sqrt(a * radius)  # centripetal acceleration on the arc
            if min_seg and dist < v * min_seg:
                v = dist / min_seg
            vx, vy, vz, ve = ux * v, uy * v, uz * v, ue * v
            if use_jerk:
                safe = v
                limited = False
                speed = ax * v
                if speed > jx:
                    safe *= jx / speed
                    limited = True
                speed = ay * v
                if speed > jy:
                    if not limited:
                        safe *= jy / speed
                        limited = True
                    elif speed * safe > jy * v:
                        safe = jy * v / speed
                speed = az * v
                if speed > jz:
                    if not limited:
                        safe *= jz / speed
                        limited = True
                    elif speed * safe > jz * v:
                        safe = jz * v / speed
                speed = ae * v
                if speed > je:
                    if not limited:
                        safe *= je / speed
                    elif speed * safe > je * v:
                        safe = je * v / speed
                if has_prev:
                    # Classic jerk (Marlin): scale the shared junction speed down until no
                    # axis jumps by more than its jerk; a reversing axis jumps by the larger
                    # of its two speeds, a coasting one by their difference.
                    if pv < v:
                        junction, factor = pv, 1.0
                    else:
                        junction, factor = v, v / pv
                    vf = 1.0
                    before, after = pvx * factor, vx
                    jump = (before - after if before > after else after - before) \
                        if before * after > 0 else max(abs(before), abs(after))
                    if jump > jx:
                        vf = jx / jump
                    before, after = pvy * factor * vf, vy * vf
                    jump = (before - after if before > after else after - before) \
                        if before * after > 0 else max(abs(before), abs(after))
                    if jump > jy:
                        vf *= jy / jump
                    if pvz or vz:
                        before, after = pvz * factor * vf, vz * vf
                        jump = (before - after if before > after else after - before) \
                            if before * after > 0 else max(abs(before), abs(after))
                        if jump > jz:
                            vf *= jz / jump
                    if pve or ve:
                        before, after = pve * factor * vf, ve * vf
                        jump = (before - after if before > after else after - before) \
                            if before * after > 0 else max(abs(before), abs(after))
                        if jump > je:
                            vf *= je / jump
                    junction *= vf
                    threshold = junction * 0.99
                    if psafe > threshold and safe > threshold:
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
            put_length(dist)
            put_accel(a)
            put_nominal(v * v)
            put_entry(junction * junction)
            put_safe(safe * safe)
            put_tag(tag)
            has_prev = True
            pvx, pvy, pvz, pve, pv, psafe = xx * v, xy * v, xz * v, xe * v, v, safe
            pux, puy, puz, pue = xx, xy, xz, (xe if kind == RETRACT else 0.0)
            if len(lengths) >= WINDOW_BLOCKS:
                flush(len(lengths) - LOOKAHEAD_BLOCKS)

        def export() -> tuple | None:
            if not has_prev:
                return None
            return (pvx, pvy, pvz, pve, pv, psafe, pux, puy, puz, pue)

        self._export = export
        return add

    def stop(self) -> None:
        """The machine comes to rest (dwell, wait, homing): time every queued block."""
        if self._length:
            self._flush(len(self._length))
        self._first_entry2 = None
        self.add = self._build(None)

    def finish(self) -> float:
        """Time everything still queued and return the total in seconds."""
        self.stop()
        return self.total_s

    def _flush(self, count: int) -> None:
        """Plan the window and time its first ``count`` blocks."""
        length, accel, max_entry2 = self._length, self._accel, self._max_entry2
        n = len(length)
        entry2 = max_entry2[:]
        # Backward pass: from the end of the window, which must come to rest.
        final = count == n
        nxt = self._safe2[-1] if self.use_jerk else 0.0
        for i in range(n - 1, -1, -1):
            limit = nxt + 2.0 * accel[i] * length[i]
            value = entry2[i]
            if limit < value:
                value = limit
                entry2[i] = limit
            nxt = value
        if self._first_entry2 is not None:
            entry2[0] = self._first_entry2
        # Forward pass fused with the trapezoids of the blocks being timed.
        nominal2, tags = self._nominal2, self._tag
        total = tagged = 0.0
        v0sq = entry2[0]
        for i in range(count):
            a, d = accel[i], length[i]
            reach = v0sq + 2.0 * a * d
            if i + 1 < n:
                v1sq = entry2[i + 1]
                if v1sq > reach:
                    v1sq = reach
                    entry2[i + 1] = reach
            else:
                v1sq = min(self._safe2[i] if self.use_jerk else 0.0, reach)
            vc2 = nominal2[i]
            two_a = 2.0 * a
            accel_d = (vc2 - v0sq) / two_a
            decel_d = (vc2 - v1sq) / two_a
            v0, v1 = sqrt(v0sq), sqrt(v1sq)
            if accel_d + decel_d <= d:
                vc = sqrt(vc2)
                t = (vc - v0) / a + (vc - v1) / a + (d - accel_d - decel_d) / vc
            else:
                peak = sqrt((two_a * d + v0sq + v1sq) * 0.5)
                if peak < v0:
                    peak = v0
                if peak < v1:
                    peak = v1
                t = (peak - v0) / a + (peak - v1) / a
            total += t
            if tags[i]:
                tagged += t
            v0sq = v1sq
        self.total_s += total
        self.tagged_s += tagged
        if final:
            del length[:], accel[:], max_entry2[:], nominal2[:], self._safe2[:], tags[:]
            self._first_entry2 = None
            return
        self._first_entry2 = entry2[count]
        for lst in (length, accel, max_entry2, nominal2, self._safe2, tags):
            del lst[:count]

