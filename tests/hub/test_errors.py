"""Bad input gets a clear 4xx in JSON or HTML, never a stack trace."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fabhub.app import create_app
from tests.conftest import make_token


@pytest.fixture
def bearer(app: Flask) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(app, 'ada')}"}


def assert_api_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert isinstance(error["details"], dict)
    assert "Traceback" not in response.get_data(as_text=True)
    return error


def test_unknown_api_route_is_json_404(client: FlaskClient) -> None:
    assert_api_error(client.get("/api/v1/no-such-thing"), 404, "not_found")


def test_unknown_page_is_html_404(client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "There is nothing at this address" in response.get_data(as_text=True)


def test_json_accept_header_gets_json_404(client: FlaskClient) -> None:
    response = client.get("/nowhere", headers={"Accept": "application/json"})
    assert_api_error(response, 404, "not_found")


def test_wrong_method_is_405_with_allow(client: FlaskClient, bearer) -> None:
    response = client.put("/api/v1/me", headers=bearer)
    assert_api_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_malformed_json_is_400(client: FlaskClient, bearer) -> None:
    response = client.post("/api/v1/tokens", data="{not json",
                           content_type="application/json", headers=bearer)
    assert_api_error(response, 400, "malformed_json")
    response = client.post("/api/v1/tokens", json=["a", "list"], headers=bearer)
    assert_api_error(response, 400, "malformed_json")


@pytest.mark.parametrize("path", ["/node/v1/enroll", "/api/v1/tokens"])
def test_a_lone_surrogate_is_400_not_500(client: FlaskClient, bearer, path: str) -> None:
    body = '{"code": "x", "hostname": "a\\ud800", "name": "a\\ud800", "kind": "fdm"}'
    response = client.post(path, data=body, content_type="application/json", headers=bearer)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "malformed_json"
    assert "lone surrogate" in response.get_json()["error"]["message"]


def test_wrong_content_type_is_415(client: FlaskClient, bearer) -> None:
    response = client.post("/api/v1/tokens", data="label=x",
                           content_type="application/x-www-form-urlencoded", headers=bearer)
    error = assert_api_error(response, 415, "unsupported_media_type")
    assert "application/json" in error["message"]


def test_missing_field_is_422_naming_it(client: FlaskClient, bearer) -> None:
    error = assert_api_error(client.post("/api/v1/tokens", json={}, headers=bearer),
                             422, "invalid_field")
    assert error["details"]["field"] == "label"


def test_oversized_body_is_413(instance: Path) -> None:
    app = create_app({"TESTING": True, "MAX_CONTENT_LENGTH": 1024}, instance=instance)
    client = app.test_client()
    token = make_token(app, "ada")
    response = client.post("/api/v1/tokens", data=b'{"label": "' + b"x" * 4096 + b'"}',
                           content_type="application/json",
                           headers={"Authorization": f"Bearer {token}"})
    assert_api_error(response, 413, "payload_too_large")
    page = client.post("/login", data={"username": "x" * 4096})
    assert page.status_code == 413
    assert page.mimetype == "text/html"


def test_unexpected_exception_is_500_without_trace(instance: Path) -> None:
    app = create_app({"TESTING": True, "PROPAGATE_EXCEPTIONS": False}, instance=instance)

    @app.get("/api/v1/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    response = app.test_client().get("/api/v1/boom")
    error = assert_api_error(response, 500, "internal_error")
    assert "secret internals" not in response.get_data(as_text=True)
    assert error["message"]


def test_unknown_token_id_on_revoke_is_404(client: FlaskClient, bearer) -> None:
    assert_api_error(client.delete("/api/v1/tokens/ffffffffffff", headers=bearer),
                     404, "not_found")


def test_healthz_reports_database(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"


def test_healthz_503_when_database_is_not_initialised(tmp_path: Path) -> None:
    from fabhub.config import ensure_secret_key

    tmp_path.mkdir(exist_ok=True)
    ensure_secret_key(tmp_path)
    app = create_app({"TESTING": True}, instance=tmp_path)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"
