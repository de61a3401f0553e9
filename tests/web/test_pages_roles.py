"""Every page, for every role: no server error, and the right people get in."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from tests.web.conftest import Lab, client_as

WEB_BLUEPRINTS = ("home_pages", "auth_pages", "account_pages", "member_pages", "maker_pages",
                  "job_pages", "machine_pages", "node_pages", "reservation_pages",
                  "ledger_pages", "dashboard_pages", "board_pages", "quota_pages",
                  "tuning_pages")
GATEKEEPER_ONLY = ("member_pages", "quota_pages", "machine_pages", "node_pages",
                   "reservation_pages", "ledger_pages", "dashboard_pages", "tuning_pages")
PUBLIC = ("home_pages.home", "auth_pages.login", "board_pages.board", "board_pages.tiles")


def page_urls(app: Flask, lab: Lab) -> dict[str, str]:
    """Every GET page of the web blueprints, with its parameters filled from the lab."""
    values = {"job_id": lab.job_id, "machine_id": lab.machine_id, "username": "ada",
              "fmt": "csv"}
    urls = {}
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or rule.endpoint.split(".")[0] not in WEB_BLUEPRINTS:
                continue
            urls[rule.endpoint] = url_for(rule.endpoint,
                                          **{k: values[k] for k in rule.arguments})
    return urls


def test_every_page_registered_is_covered(app: Flask, lab: Lab) -> None:
    urls = page_urls(app, lab)
    for blueprint in WEB_BLUEPRINTS:
        assert any(e.startswith(blueprint + ".") for e in urls), blueprint
    assert len(urls) >= 20


# wtforms 3.3 deprecates select choices given as tuples; every page gives SelectChoice.
@pytest.mark.filterwarnings("error:Passing SelectField choices as tuples:DeprecationWarning")
@pytest.mark.parametrize("role", [None, "ada", "gina"])
def test_no_page_fails_for_any_role(app: Flask, lab: Lab, role: str | None) -> None:
    client = client_as(app, role)
    for endpoint, url in page_urls(app, lab).items():
        response = client.get(url)
        assert response.status_code < 500, (role, url, response.get_data(as_text=True)[:500])
        blueprint = endpoint.split(".")[0]
        if role is None and endpoint not in PUBLIC:
            assert response.status_code == 302, (url, response.status_code)
            assert "/login" in response.headers["Location"]
        elif role == "ada" and blueprint in GATEKEEPER_ONLY:
            assert response.status_code == 403, (url, response.status_code)
        elif role is not None or endpoint in PUBLIC:
            assert response.status_code == 200, (role, url, response.status_code)


CONTROL = re.compile(r"<(input|select|textarea)\b([^>]*)>")


def test_every_form_control_is_labelled(app: Flask, lab: Lab) -> None:
    client = client_as(app, "gina")
    checked = 0
    for url in page_urls(app, lab).values():
        page = client.get(url).get_data(as_text=True)
        labels = set(re.findall(r'<label[^>]* for="([^"]+)"', page))
        for _tag, attributes in CONTROL.findall(page):
            if re.search(r'type="(hidden|submit)"', attributes):
                continue
            checked += 1
            control_id = re.search(r'\bid="([^"]+)"', attributes)
            assert "aria-label" in attributes or (control_id and control_id.group(1) in labels), (
                url, attributes)
    assert checked > 20
