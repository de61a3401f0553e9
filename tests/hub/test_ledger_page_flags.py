"""The gatekeeper's ledger page lists refused receipts and verifies receipts too."""

from __future__ import annotations

import pytest
from flask import Flask

from fabhub.db import opened
from fabhub.ledger.intake import record_receipt
from fabhub.ledger.receipt_bounds import ReceiptOutOfBounds
from tests.conftest import csrf_token
from tests.ledger.conftest import expectation, node_key, receipt
from tests.web.conftest import build_lab, client_as


def test_refused_receipts_appear_on_the_ledger_page(app: Flask) -> None:
    job_id = build_lab(app).job_id
    client = client_as(app, "gina")
    assert "No receipt has been refused." in client.get("/ledger").get_data(as_text=True)
    with opened(app.config["DATABASE"]) as db:
        for year in (2098, 2099):
            with pytest.raises(ReceiptOutOfBounds):
                record_receipt(db, receipt(job_id=job_id, ended_at=f"{year}-12-31T23:59:59Z",
                                           busy_s=1), node_key()[1], expectation(job_id=job_id))
    page = client.get("/ledger").get_data(as_text=True)
    assert "No receipt has been refused." not in page
    assert page.count(f'<a href="/jobs/{job_id}">{job_id}</a>') == 2
    newest = page.index("the receipt&#39;s ended_at 2099-12-31T23:59:59Z is after "
                        "2025-03-01T11:02:30Z")
    assert newest < page.index("ended_at 2098-12-31T23:59:59Z")
    verdict = client.post("/ledger/verify", data={"csrf_token": csrf_token(client, "/ledger")})
    assert "receipts OK: 0 use entries" in verdict.get_data(as_text=True)


def test_makers_do_not_see_refused_receipts(app: Flask) -> None:
    assert client_as(app, "ada").get("/ledger").status_code == 403
