"""Receipts bounded by what the hub saw: exact bounds, refusals, flags, the offline journal."""

from __future__ import annotations

import pytest

from fabhub.ledger import store
from fabhub.ledger.intake import flags, record_receipt
from fabhub.ledger.receipt_bounds import (
    CLOCK_SKEW_TOLERANCE_S,
    ReceiptOutOfBounds,
    check_receipt,
)
from tests.ledger.conftest import expectation, node_key, observed, receipt, table_counts

# The default receipt runs 10:00:00-11:00:00 (busy 3000 s, paused 600 s); by default the
# hub saw node 5 claim the job at 09:59:00 and the end report arrive at 11:00:30.


def refusal(signed, seen) -> ReceiptOutOfBounds:
    with pytest.raises(ReceiptOutOfBounds) as caught:
        check_receipt(signed.receipt, seen)
    return caught.value


def test_tolerance_is_small_and_documented() -> None:
    assert CLOCK_SKEW_TOLERANCE_S == 120


def test_started_at_may_be_up_to_the_tolerance_before_the_claim() -> None:
    check_receipt(receipt(started_at="2025-03-01T09:57:00Z").receipt, observed())
    refused = refusal(receipt(started_at="2025-03-01T09:56:59Z"), observed())
    assert refused.details["figure"] == "started_at"
    assert refused.details["bound"] == "2025-03-01T09:57:00Z"
    assert refused.details["observed"]["claimed_at"] == "2025-03-01T09:59:00Z"
    assert "claimed at 2025-03-01T09:59:00Z" in str(refused) and refused.own_run
    assert str(refused).endswith("If the node's clock is off, set it right (NTP).")


def test_ended_at_may_be_up_to_the_tolerance_after_the_end_report() -> None:
    check_receipt(receipt(ended_at="2025-03-01T11:02:30Z").receipt, observed())
    refused = refusal(receipt(ended_at="2025-03-01T11:02:31Z"), observed())
    assert (refused.details["figure"], refused.details["bound"]) == \
        ("ended_at", "2025-03-01T11:02:30Z")
    assert "received the end report at 2025-03-01T11:00:30Z" in str(refused)


def test_busy_and_paused_may_exceed_the_observed_interval_by_the_tolerance_only() -> None:
    seen = observed(claimed_at="2025-03-01T10:00:00Z", arrived_at="2025-03-01T11:00:00Z")
    wide = {"started_at": "2025-03-01T09:58:00Z", "ended_at": "2025-03-01T11:02:00Z"}
    check_receipt(receipt(busy_s=3120, **wide).receipt, seen)
    refused = refusal(receipt(busy_s=3121, **wide), seen)
    assert refused.details["figure"] == "busy_s + paused_s"
    assert (refused.details["value"], refused.details["bound"]) == (3721, 3720)


def test_a_hub_arrival_between_whole_seconds_is_rounded_in_the_nodes_favour() -> None:
    seen = observed(arrived_at="2025-03-01T11:00:29.250000Z")
    check_receipt(receipt(ended_at="2025-03-01T11:02:30Z").receipt, seen)


def test_the_recorded_time_never_exceeds_the_exact_interval_plus_the_tolerance() -> None:
    seen = observed(claimed_at="2025-03-01T10:00:00.900Z", arrived_at="2025-03-01T11:00:00.100Z")
    wide = {"started_at": "2025-03-01T09:58:00Z", "ended_at": "2025-03-01T11:02:01Z"}
    check_receipt(receipt(busy_s=3119, **wide).receipt, seen)  # 3599.2 s seen, + 120
    assert refusal(receipt(busy_s=3120, **wide), seen).details["bound"] == 3719
    assert refusal(receipt(started_at="2025-03-01T09:57:59Z"), seen).details["bound"] == \
        "2025-03-01T09:58:00Z"
    assert refusal(receipt(ended_at="2025-03-01T11:02:02Z", busy_s=10), seen
                   ).details["bound"] == "2025-03-01T11:02:01Z"


def test_a_receipt_from_2000_to_2099_is_refused() -> None:
    century = receipt(started_at="2000-01-01T00:00:00Z", ended_at="2099-12-31T23:59:59Z",
                      busy_s=876_600 * 3600, paused_s=0)
    refused = refusal(century, observed())
    assert refused.details["figure"] == "started_at"
    late = refusal(receipt(started_at="2025-03-01T10:00:00Z", ended_at="2099-12-31T23:59:59Z",
                           busy_s=10), observed())
    assert late.details["figure"] == "ended_at"


def test_a_job_nobody_claimed_or_another_node_claimed_gets_no_time() -> None:
    nobody = refusal(receipt(), observed(claimed_by=None))
    assert nobody.details["figure"] == "job_id" and not nobody.own_run
    assert "never claimed" in nobody.reason and "No machine time was recorded" in str(nobody)
    assert "clock" not in str(nobody)
    other = refusal(receipt(), observed(claimed_by=4))
    assert other.details["figure"] == "node_id" and not other.own_run
    assert "claimed by node 4, not by node 5" in other.reason


def journal(*times: str, arrived_at: str = "2025-03-01T13:00:00Z"):
    """The hub stopped watching (the job was reaped); these events came from the journal."""
    return observed(arrived_at=arrived_at, watched_to_end=False, event_times=times)


def test_offline_journal_vouches_for_the_time_it_covers() -> None:
    seen = journal("2025-03-01T10:00:01.250Z", "2025-03-01T10:30:00.000Z",
                   "2025-03-01T11:00:00.500Z")
    check_receipt(receipt().receipt, seen)  # ran 10:00-11:00, reported at 13:00
    beyond = refusal(receipt(ended_at="2025-03-01T12:59:00Z", busy_s=6000), seen)
    assert beyond.details["figure"] == "ended_at"
    assert beyond.details["bound"] == "2025-03-01T11:02:01Z"
    assert "journal reach 2025-03-01T11:00:01Z" in str(beyond)
    assert not beyond.details["observed"]["watched_to_end"]


def test_offline_journal_end_is_never_after_the_end_report() -> None:
    seen = journal("2025-03-01T10:00:01Z", "2025-03-01T11:01:00Z",
                   arrived_at="2025-03-01T11:00:30Z")
    check_receipt(receipt(ended_at="2025-03-01T11:02:30Z").receipt, seen)
    assert refusal(receipt(ended_at="2025-03-01T11:02:31Z"), seen).details["bound"] == \
        "2025-03-01T11:02:30Z"


def test_without_journal_events_only_an_instant_near_the_claim_is_vouched_for() -> None:
    instant = receipt(started_at="2025-03-01T09:59:30Z", ended_at="2025-03-01T09:59:30Z",
                      busy_s=0, paused_s=0, outcome="interrupted")
    check_receipt(instant.receipt, journal())
    assert refusal(receipt(), journal()).details["figure"] == "ended_at"


@pytest.mark.parametrize(("times", "message"), [
    (("2025-03-01T10:00:00Z", "soon"), "event 2 has the time 'soon'"),
    (("2025-03-01T10:00:00", ), "event 1 has the time"),  # no time zone
    (("2025-03-01T09:56:59Z", "2025-03-01T11:00:00Z"), "event 1 is dated 2025-03-01T09:56:59Z"),
    (("2025-03-01T10:00:00Z", "2099-01-01T00:00:00Z"), "event 2 is dated 2099"),
    (("2025-03-01T11:00:00Z", "2025-03-01T10:57:59Z"), "dated before the event received"),
])
def test_an_incoherent_journal_vouches_for_nothing(times: tuple[str, ...], message: str) -> None:
    refused = refusal(receipt(), journal(*times))
    assert refused.details["figure"] == "journal" and message in refused.reason


def test_a_refused_receipt_leaves_no_entry_and_a_flag(db) -> None:
    before = table_counts(db)
    century = receipt(started_at="2000-01-01T00:00:00Z", ended_at="2099-12-31T23:59:59Z",
                      busy_s=876_600 * 3600, paused_s=0)
    with pytest.raises(ReceiptOutOfBounds, match="started_at 2000-01-01T00:00:00Z"):
        record_receipt(db, century, node_key()[1], expectation())
    after = table_counts(db)
    assert after == {**before, "ledger_flags": before["ledger_flags"] + 1}
    assert store.tree_size(db) == 0
    (flag,) = flags(db)
    assert flag["job_id"] == 7 and flag["node_id"] == 5
    assert flag["reason"].startswith("the receipt's started_at 2000-01-01T00:00:00Z is before")
    assert '"ended_at": "2099-12-31T23:59:59Z"' in flag["receipt"]


def test_an_honest_receipt_after_a_refused_one_is_recorded(db) -> None:
    with pytest.raises(ReceiptOutOfBounds):
        record_receipt(db, receipt(ended_at="2025-03-01T12:00:00Z"), node_key()[1],
                       expectation())
    use = record_receipt(db, receipt(), node_key()[1], expectation())
    assert use.kind == "use" and use.data["effortQuantity"]["hasNumericalValue"] == 3000
    assert len(flags(db)) == 1
