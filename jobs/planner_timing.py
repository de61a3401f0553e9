"""Look-ahead and trapezoids over a batch of planner blocks, with numpy.

Like firmware, the planner keeps a window of at most :data:`WINDOW` blocks; when it
fills, the oldest :data:`STEP` are timed and their successor's entry speed is fixed, and
when the machine comes to rest every queued block is timed. Within a window the backward
pass lets each block's entry speed be at most what still lets the window's end come to
rest; the forward pass lets it be at most what acceleration reaches from the previous
block. Both are min-plus recurrences, ``v²[i] = min(cap[i], v²[i±1] + 2·a·d)``, so with
running sums S they become ``S[i] + running minimum of (cap − S)``: whole windows at once.
"""

from __future__ import annotations

import numpy as np

from fabhub.jobs.planner_blocks import Blocks

WINDOW = 256
LOOKAHEAD = 32
STEP = WINDOW - LOOKAHEAD


def _window_entries(blocks: Blocks, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Backward pass: entry speed² at positions 0..WINDOW of each window (one row per
    window start), the window ending at rest at the standstill-safe speed of its last
    block. Positions past a window's end hold padding."""
    n = len(blocks)
    index = starts[:, None] + np.arange(WINDOW + 1)
    inside = index < ends[:, None]
    clipped = np.minimum(index, n - 1)
    room = np.where(inside, blocks.room[clipped], 0.0)
    cap = np.where(inside, blocks.entry2[clipped], np.inf)
    cap[np.arange(len(starts)), ends - starts] = blocks.safe2[ends - 1]
    suffix = np.cumsum(room[:, ::-1], axis=1)[:, ::-1]
    best = np.minimum.accumulate((cap - suffix)[:, ::-1], axis=1)[:, ::-1]
    return suffix + best


def time_blocks(blocks: Blocks, first_entry2: float | None,
                final: bool) -> tuple[float, float, int, float | None]:
    """Time the blocks a firmware planner would have timed by now.

    ``first_entry2`` is the fixed entry speed² of the first block (``None`` after rest);
    ``final`` means the machine comes to rest after the last block. Returns the total
    time, the tagged time, how many blocks were timed, and the next block's fixed entry
    speed² (``None`` when all were timed).
    """
    n = len(blocks)
    full = (n - WINDOW) // STEP + 1 if n >= WINDOW else 0
    count = n if final else full * STEP
    if count == 0:
        return 0.0, 0.0, 0, first_entry2
    starts = np.arange(full + (1 if final else 0)) * STEP
    ends = np.minimum(starts + WINDOW, n)
    entries = _window_entries(blocks, starts, ends)
    caps = entries[:full, 1:STEP + 1].ravel()
    if final:
        caps = np.concatenate([caps, entries[full, 1:n - full * STEP + 1]])
    first = entries[0, 0] if first_entry2 is None else first_entry2
    room = blocks.room[:count]
    reached = np.concatenate([[0.0], np.cumsum(room)])
    best = np.minimum.accumulate(np.concatenate([[first], caps]) - reached)
    v2 = np.maximum(reached + best, 0.0)
    v0sq, v1sq = v2[:-1], v2[1:]
    v0, v1 = np.sqrt(v0sq), np.sqrt(v1sq)
    a, d, vc = blocks.accel[:count], blocks.length[:count], blocks.speed[:count]
    peak2 = 0.5 * (v0sq + room + v1sq)
    cruise = peak2 >= vc * vc
    peak = np.sqrt(np.where(cruise, 0.0, peak2))
    with np.errstate(divide="ignore", invalid="ignore"):
        cruising = (2.0 * vc - v0 - v1) / a + (d - (2.0 * vc * vc - v0sq - v1sq)
                                                / (2.0 * a)) / vc
    times = np.where(cruise, cruising, (2.0 * peak - v0 - v1) / a)
    carry = None if final else float(v2[count])
    return float(times.sum()), float(times[blocks.tag[:count]].sum()), count, carry
