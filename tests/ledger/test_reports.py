"""Balances from the ledger: raw and decayed hours, corrections applied, utilisation,
contributions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fabhub.ledger import reports, store
from fabhub.ledger.corrections import correct, record_work
from tests.ledger.conftest import use

NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
DAY = 86400.0


def test_raw_and_decayed_hours_per_member_and_class(db) -> None:
    store.append(db, [
        use(member_id=1, machine_id=1, seconds=7200, began_at="2025-03-15T10:00:00Z"),
        use(member_id=1, machine_id=2, seconds=3600, began_at="2025-03-08T11:00:00Z"),
        use(member_id=2, machine_id=1, seconds=1800, began_at="2025-03-14T11:30:00Z"),
    ])
    assert reports.usage_hours(db) == {1: {"fdm-small": 2.0, "laser": 1.0},
                                       2: {"fdm-small": 0.5}}
    by_class = reports.decayed_usage_by_class(db, NOW, 7 * DAY)
    assert by_class[1]["fdm-small"] == pytest.approx(2.0)        # ended now
    assert by_class[1]["laser"] == pytest.approx(0.5)            # ended one half-life ago
    assert by_class[2]["fdm-small"] == pytest.approx(0.5 * 2 ** (-1 / 7))  # a day ago
    weighted = reports.decayed_usage_hours(db, NOW, 7 * DAY, {"laser": 3.0})
    assert weighted[1] == pytest.approx(2.0 + 1.5)
    assert weighted[2] == pytest.approx(0.5 * 2 ** (-1 / 7))
    assert reports.usage_hours(db, since=datetime(2025, 3, 10, tzinfo=UTC)) == \
        {1: {"fdm-small": 2.0}, 2: {"fdm-small": 0.5}}
    with pytest.raises(ValueError, match="half-life"):
        reports.decayed_usage_hours(db, NOW, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        reports.decayed_usage_hours(db, NOW.replace(tzinfo=None), DAY)


def test_corrections_replace_what_they_correct(db) -> None:
    store.append(db, [use(member_id=1, seconds=3600), use(member_id=1, seconds=7200),
                      use(member_id=1, seconds=1800)])
    correct(db, 0, "waiver", note="failed print, not the maker's fault")
    correct(db, 1, "reassignment", member_id=2)
    correct(db, 2, "fix", quantity=900)
    correct(db, 2, "fix", quantity=600)  # the latest correction wins
    assert reports.usage_hours(db) == {1: {"fdm-small": 600 / 3600}, 2: {"fdm-small": 2.0}}
    decayed = reports.decayed_usage_hours(db, NOW, 7 * DAY)
    assert set(decayed) == {1, 2}
    with pytest.raises(store.LedgerError, match="needs another member"):
        correct(db, 0, "reassignment")
    with pytest.raises(store.LedgerError, match="needs the corrected quantity"):
        correct(db, 0, "fix")


def test_contributions_per_member(db) -> None:
    start, end = datetime(2025, 3, 1, 9, tzinfo=UTC), datetime(2025, 3, 1, 11, tzinfo=UTC)
    record_work(db, 3, 7200, "repair", start, end, machine_id=1, note="new hotend")
    record_work(db, 3, 1800, "training", start, start.replace(minute=30))
    record_work(db, 1, 3600, "maintenance", start, start.replace(hour=10))
    assert reports.contributions(db) == {3: {"repair": 2.0, "training": 0.5},
                                         1: {"maintenance": 1.0}}
    assert reports.usage_hours(db) == {}


def test_machine_utilisation_per_period(db) -> None:
    store.append(db, [use(machine_id=1, seconds=43200, began_at="2025-03-01T00:00:00Z"),
                      use(machine_id=1, seconds=21600, began_at="2025-03-02T00:00:00Z"),
                      use(machine_id=2, seconds=8640, began_at="2025-03-02T00:00:00Z")])
    days = reports.machine_utilisation(db, "day")
    assert [(u.machine_id, u.period, u.busy_hours, u.fraction) for u in days] == [
        (1, "2025-03-01", 12.0, 0.5), (1, "2025-03-02", 6.0, 0.25),
        (2, "2025-03-02", 2.4, 0.1)]
    (month_1, month_2) = reports.machine_utilisation(db, "month")
    assert month_1.busy_hours == 18.0 and month_1.fraction == pytest.approx(18 / (31 * 24))
    assert month_2.machine_class == "laser"
    assert reports.machine_utilisation(db, "week")[0].period == "2025-W09"
    with pytest.raises(ValueError, match="period must be one of"):
        reports.machine_utilisation(db, "year")
