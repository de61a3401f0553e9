"""Job priority: a documented weighted sum of normalised factors (Slurm's multifactor idea).

Every factor lies in [0, 1]::

    fair_share = 2 ** (-usage_hours / share_hours)       # less recent use -> nearer 1
    age        = min(waited_s / age_saturation_s, 1)      # older -> nearer 1
    size       = 1 - min(duration_s / size_saturation_s, 1)  # shorter -> nearer 1
    boost      = gatekeeper's manual boost, clamped to [0, 1]

    priority = w_fs * fair_share + w_age * age + w_size * size + w_boost * boost

``usage_hours`` is the member's machine-hours decayed with a half-life (default
7 days) and weighted by machine class, from the ledger. Ties are broken first
come, first served (earlier submission, then lower job id).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PriorityWeights:
    """The weights and normalisation constants; gatekeepers may tune them."""

    fair_share: float = 1000.0
    age: float = 300.0
    size: float = 100.0
    boost: float = 2000.0
    share_hours: float = 10.0
    age_saturation_s: float = 7 * 24 * 3600.0
    size_saturation_s: float = 24 * 3600.0

    def __post_init__(self) -> None:
        for name in ("fair_share", "age", "size", "boost"):
            if getattr(self, name) < 0:
                raise ValueError(f"priority weight {name} must be zero or more")
        for name in ("share_hours", "age_saturation_s", "size_saturation_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"priority constant {name} must be more than zero")


@dataclass(frozen=True)
class PriorityBreakdown:
    """Each normalised factor, its weighted contribution and the total."""

    fair_share: float
    age: float
    size: float
    boost: float
    total: float

    def as_dict(self, weights: PriorityWeights) -> dict[str, dict[str, float] | float]:
        """Factors with their weights and contributions, for the API and the queue page."""
        parts = {}
        for name in ("fair_share", "age", "size", "boost"):
            factor = getattr(self, name)
            weight = getattr(weights, name)
            parts[name] = {"factor": round(factor, 6), "weight": weight,
                           "contribution": round(factor * weight, 3)}
        return {**parts, "total": round(self.total, 3)}


def priority_total(usage_hours: float, waited_s: float, duration_s: float, boost: float,
                   weights: PriorityWeights) -> float:
    """The same total as :func:`compute_priority`, without the breakdown (for whole queues)."""
    return (weights.fair_share * 2.0 ** (-max(usage_hours, 0.0) / weights.share_hours)
            + weights.age * min(max(waited_s, 0.0) / weights.age_saturation_s, 1.0)
            + weights.size * (1.0 - min(max(duration_s, 0.0) / weights.size_saturation_s, 1.0))
            + weights.boost * min(max(boost, 0.0), 1.0))


def compute_priority(
    usage_hours: float, waited_s: float, duration_s: float, boost: float,
    weights: PriorityWeights,
) -> PriorityBreakdown:
    """The priority of one job from its owner's decayed usage, its wait, size and boost."""
    fair_share = 2.0 ** (-max(usage_hours, 0.0) / weights.share_hours)
    age = min(max(waited_s, 0.0) / weights.age_saturation_s, 1.0)
    size = 1.0 - min(max(duration_s, 0.0) / weights.size_saturation_s, 1.0)
    boost = min(max(boost, 0.0), 1.0)
    total = (weights.fair_share * fair_share + weights.age * age + weights.size * size
             + weights.boost * boost)
    return PriorityBreakdown(fair_share, age, size, boost, total)
