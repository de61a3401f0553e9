"""Login, sessions, roles, CSRF, API tokens and login rate limits."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from fabhub.app import create_app
from tests.conftest import PASSWORD, csrf_token, login, make_token


def test_login_sets_hardened_session_cookie(client: FlaskClient) -> None:
    response = login(client, "ada")
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie
    assert client.get("/api/v1/me").get_json()["username"] == "ada"


def test_cookie_is_secure_behind_https(instance: Path) -> None:
    app = create_app({"TESTING": True, "HTTPS": True}, instance=instance)
    client = app.test_client()
    token = csrf_token(client)
    response = client.post("/login", data={"username": "ada", "password": PASSWORD,
                                           "csrf_token": token})
    assert "Secure" in response.headers["Set-Cookie"]


def test_failure_message_is_the_same_for_unknown_user_and_wrong_password(
    client: FlaskClient,
) -> None:
    unknown = login(client, "nobody-here", "whatever-it-is")
    wrong = login(client, "ada", "not the password")
    assert unknown.status_code == wrong.status_code == 401
    assert "Unknown username or wrong password." in unknown.get_data(as_text=True)
    assert "Unknown username or wrong password." in wrong.get_data(as_text=True)


def test_login_redirect_never_leaves_the_hub(client: FlaskClient) -> None:
    token = csrf_token(client)
    response = client.post("/login?next=//evil.example/x",
                           data={"username": "ada", "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    token = csrf_token(client)
    response = client.post("/login?next=/account/tokens",
                           data={"username": "ada", "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/account/tokens"


def test_form_post_without_csrf_token_is_rejected(client: FlaskClient) -> None:
    response = client.post("/login", data={"username": "ada", "password": PASSWORD})
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert client.get("/api/v1/me").status_code == 401


def test_logged_in_form_post_without_csrf_token_is_rejected(client: FlaskClient) -> None:
    login(client, "ada")
    response = client.post("/account/tokens", data={"label": "x"})
    assert response.status_code == 400
    api = client.post("/api/v1/tokens", json={"label": "x"})
    assert api.status_code == 400
    assert api.get_json()["error"]["code"] == "csrf_failed"
    assert client.get("/api/v1/tokens").get_json()["tokens"] == []


def test_logout_needs_post_with_csrf(client: FlaskClient) -> None:
    login(client, "ada")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/api/v1/me").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert client.get("/api/v1/me").status_code == 401


def test_maker_gets_403_on_gatekeeper_routes(client: FlaskClient, app: Flask) -> None:
    login(client, "ada")
    assert client.get("/members").status_code == 403
    api = client.get("/api/v1/members")
    assert api.status_code == 403
    assert api.get_json()["error"]["code"] == "forbidden"
    token = make_token(app, "ada")
    bearer = client.get("/api/v1/members", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 403


def test_gatekeeper_and_admin_reach_gatekeeper_routes(app: Flask) -> None:
    for username in ("gina", "root"):
        client = app.test_client()
        login(client, username)
        assert client.get("/members").status_code == 200
        names = [m["username"] for m in client.get("/api/v1/members").get_json()["members"]]
        assert {"ada", "gina", "linus", "root"} <= set(names)


def test_anonymous_page_redirects_to_login_and_api_answers_401(client: FlaskClient) -> None:
    page = client.get("/members")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/login?next=/members")
    api = client.get("/api/v1/me")
    assert api.status_code == 401
    assert api.get_json()["error"]["code"] == "unauthorized"


def test_token_works_until_revoked(client: FlaskClient) -> None:
    login(client, "ada")
    headers = {"X-CSRFToken": csrf_token(client, "/account/tokens")}
    created = client.post("/api/v1/tokens", json={"label": "slicer"}, headers=headers)
    assert created.status_code == 201
    token = created.get_json()["token"]
    token_id = created.get_json()["id"]
    listed = client.get("/api/v1/tokens").get_json()["tokens"]
    assert token not in str(listed)

    anonymous = FlaskClient(client.application)
    bearer = {"Authorization": f"Bearer {token}"}
    assert anonymous.get("/api/v1/me", headers=bearer).get_json()["username"] == "ada"
    # A bearer-authenticated POST needs no CSRF token: no browser sends it on its own.
    second = anonymous.post("/api/v1/tokens", json={"label": "ci"}, headers=bearer)
    assert second.status_code == 201

    revoked = client.delete(f"/api/v1/tokens/{token_id}", headers=headers)
    assert revoked.status_code == 200
    assert revoked.get_json()["revoked_at"]
    after = anonymous.get("/api/v1/me", headers=bearer)
    assert after.status_code == 401
    assert after.get_json()["error"]["code"] == "unauthorized"


def test_token_page_shows_secret_once_and_revokes(client: FlaskClient) -> None:
    login(client, "ada")
    token = csrf_token(client, "/account/tokens")
    page = client.post("/account/tokens", data={"label": "laptop", "csrf_token": token})
    text = page.get_data(as_text=True)
    assert "will not be shown again" in text
    secret = text.split('<code class="secret">')[1].split("<")[0]
    assert secret.startswith("fhp_")
    again = client.get("/account/tokens").get_data(as_text=True)
    assert secret not in again
    token_id = secret.split("_")[1]
    client.post(f"/account/tokens/{token_id}/revoke",
                data={"csrf_token": csrf_token(client, "/account/tokens")})
    after = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert after.status_code == 401


def test_token_form_keeps_input_and_explains_errors(client: FlaskClient) -> None:
    login(client, "ada")
    token = csrf_token(client, "/account/tokens")
    page = client.post("/account/tokens", data={"label": "x" * 150, "csrf_token": token})
    assert page.status_code == 400
    text = page.get_data(as_text=True)
    assert "Field must be between 1 and 100 characters long." in text
    assert 'value="' + "x" * 150 in text


def test_malformed_and_unknown_tokens_get_401(client: FlaskClient) -> None:
    for header in ("Bearer", "Bearer fhp_nope_nope", "Basic abc", "Bearer garbage"):
        response = client.get("/api/v1/me", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.get_json()["error"]["code"] == "unauthorized"


def test_disabled_member_loses_session_and_tokens(app: Flask, runner, instance: Path) -> None:
    from fabhub.cli import main

    client = app.test_client()
    login(client, "ada")
    token = make_token(app, "ada")
    result = runner.invoke(main, ["--instance", str(instance), "user", "disable", "ada"])
    assert result.exit_code == 0, result.output
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert login(app.test_client(), "ada").status_code == 401


def test_login_rate_limited_per_account(instance: Path) -> None:
    app = create_app({"TESTING": True, "LOGIN_MAX_FAILURES_ACCOUNT": 3}, instance=instance)
    client = app.test_client()
    for _ in range(3):
        assert login(client, "ada", "wrong password").status_code == 401
    blocked = login(client, "ada", PASSWORD)
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.get_data(as_text=True)
    # Another account from the same address is unaffected.
    assert login(app.test_client(), "linus").status_code == 302


def test_login_rate_limited_per_address(instance: Path) -> None:
    app = create_app({"TESTING": True, "LOGIN_MAX_FAILURES_ADDRESS": 4}, instance=instance)
    client = app.test_client()
    for name in ("a1", "a2", "a3", "a4"):
        login(client, name, "wrong password")
    assert login(client, "linus").status_code == 429
    other = app.test_client()
    token = csrf_token(other)
    ok = other.post("/login", data={"username": "linus", "password": PASSWORD,
                                    "csrf_token": token},
                    environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert ok.status_code == 302


def test_password_never_stored_or_logged_in_clear(
    app: Flask, client: FlaskClient, caplog, runner, instance: Path
) -> None:
    from fabhub.cli import main

    secret = "Unmistakable-Passphrase-4242"
    caplog.set_level(logging.DEBUG)
    result = runner.invoke(main, ["--instance", str(instance), "user", "add", "mallory",
                                  "--password-stdin"], input=secret + "\n")
    assert result.exit_code == 0, result.output
    assert secret not in result.output
    assert login(client, "mallory", secret).status_code == 302
    login(app.test_client(), "mallory", secret + "x")
    assert secret not in caplog.text
    for path in instance.iterdir():
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    from fabhub.db import connect

    db = connect(app.config["DATABASE"])
    stored = db.execute("SELECT password_hash FROM members WHERE username='mallory'").fetchone()[0]
    db.conn.close()
    assert stored.startswith("$argon2id$")
