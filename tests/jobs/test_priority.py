"""Priority: documented factors, monotone in the right directions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fabhub.jobs.priority import PriorityWeights, compute_priority

W = PriorityWeights()
hours = st.floats(min_value=0, max_value=10_000, allow_nan=False)
seconds = st.floats(min_value=0, max_value=10**7, allow_nan=False)
boosts = st.floats(min_value=0, max_value=1, allow_nan=False)


def test_known_values() -> None:
    fresh = compute_priority(0, 0, 0, 0, W)
    assert fresh.fair_share == 1.0 and fresh.age == 0.0 and fresh.size == 1.0
    assert fresh.total == pytest.approx(1000 + 100)
    half = compute_priority(10, 3.5 * 24 * 3600, 12 * 3600, 0.5, W)
    assert half.fair_share == pytest.approx(0.5)
    assert half.age == pytest.approx(0.5)
    assert half.size == pytest.approx(0.5)
    assert half.total == pytest.approx(500 + 150 + 50 + 1000)


@given(hours, hours, seconds, seconds, boosts)
def test_less_usage_never_ranks_lower(u1, u2, waited, duration, boost) -> None:
    low, high = sorted((u1, u2))
    assert (compute_priority(low, waited, duration, boost, W).total
            >= compute_priority(high, waited, duration, boost, W).total)


@given(hours, seconds, seconds, seconds, boosts)
def test_longer_wait_never_ranks_lower(usage, w1, w2, duration, boost) -> None:
    short, long = sorted((w1, w2))
    assert (compute_priority(usage, long, duration, boost, W).total
            >= compute_priority(usage, short, duration, boost, W).total)


def test_breakdown_lists_weights_and_contributions() -> None:
    parts = compute_priority(0, 0, 0, 0, W).as_dict(W)
    assert parts["fair_share"] == {"factor": 1.0, "weight": 1000.0, "contribution": 1000.0}
    assert parts["total"] == 1100.0


def test_bad_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="age must be zero or more"):
        PriorityWeights(age=-1)
    with pytest.raises(ValueError, match="share_hours must be more than zero"):
        PriorityWeights(share_hours=0)


@given(hours, seconds, seconds, boosts)
def test_fast_total_equals_the_breakdown_total(usage, waited, duration, boost) -> None:
    from fabhub.jobs.priority import priority_total

    assert priority_total(usage, waited, duration, boost, W) == pytest.approx(
        compute_priority(usage, waited, duration, boost, W).total)
