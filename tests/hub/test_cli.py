"""The fabhub command: init is idempotent, user management works and explains errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

from click.testing import CliRunner

from fabhub.cli import main
from fabhub.db import connect


def run(runner: CliRunner, instance: Path, *args: str, input: str | None = None):
    return runner.invoke(main, ["--instance", str(instance), *args], input=input)


def snapshot(instance: Path) -> dict[str, str]:
    """Every file's digest plus the database's logical dump."""
    files = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(instance.iterdir()) if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }
    db = connect(instance / "fabhub.sqlite3")
    try:
        files["dump"] = hashlib.sha256("\n".join(db.conn.iterdump()).encode()).hexdigest()
    finally:
        db.conn.close()
    return files


def test_init_twice_changes_nothing_the_second_time(runner: CliRunner, tmp_path: Path) -> None:
    instance = tmp_path / "inst"
    first = run(runner, instance, "init")
    assert first.exit_code == 0, first.output
    assert "applied migration fabhub/m001_members" in first.output
    assert run(runner, instance, "user", "add", "ada", "--password-stdin",
               input="long enough password\n").exit_code == 0
    before = snapshot(instance)
    second = run(runner, instance, "init")
    assert second.exit_code == 0
    assert "nothing to do" in second.output
    assert snapshot(instance) == before


def test_user_add_list_set_role_disable(runner: CliRunner, tmp_path: Path) -> None:
    instance = tmp_path / "inst"
    run(runner, instance, "init")
    added = run(runner, instance, "user", "add", "ada", "--role", "maker", "--name", "Ada L",
                "--password-stdin", input="long enough password\n")
    assert added.output.strip() == "added ada (maker)"
    assert run(runner, instance, "user", "set-role", "ada", "gatekeeper").exit_code == 0
    assert run(runner, instance, "user", "disable", "ada").output.strip() == "ada is disabled"
    listing = run(runner, instance, "user", "list").output
    assert "ada" in listing and "gatekeeper" in listing and "disabled" in listing
    enabled = run(runner, instance, "user", "disable", "ada", "--enable")
    assert enabled.output.strip() == "ada is enabled"


def test_user_add_prompts_without_echo(runner: CliRunner, tmp_path: Path) -> None:
    instance = tmp_path / "inst"
    run(runner, instance, "init")
    result = run(runner, instance, "user", "add", "bob",
                 input="a secret pass 1\na secret pass 1\n")
    assert result.exit_code == 0, result.output
    assert "a secret pass 1" not in result.output


def test_cli_errors_say_what_to_do(runner: CliRunner, tmp_path: Path) -> None:
    instance = tmp_path / "inst"
    run(runner, instance, "init")
    short = run(runner, instance, "user", "add", "ada", "--password-stdin", input="short\n")
    assert short.exit_code == 1
    assert "at least 10 characters" in short.output
    bad_name = run(runner, instance, "user", "add", "a b", "--password-stdin",
                   input="long enough password\n")
    assert "username must be" in bad_name.output
    missing = run(runner, instance, "user", "set-role", "ghost", "maker")
    assert missing.exit_code == 1
    assert "no member named 'ghost'" in missing.output
    wrong_role = run(runner, instance, "user", "set-role", "ghost", "king")
    assert wrong_role.exit_code == 2
    run(runner, instance, "user", "add", "ada", "--password-stdin", input="long enough password\n")
    taken = run(runner, instance, "user", "add", "ADA", "--password-stdin",
                input="long enough password\n")
    assert "already taken" in taken.output


def test_serve_refuses_an_uninitialised_instance(runner: CliRunner, tmp_path: Path) -> None:
    result = run(runner, tmp_path / "empty", "serve")
    assert result.exit_code == 1
    assert "init" in result.output


def test_user_token_prints_a_working_token(runner: CliRunner, tmp_path: Path) -> None:
    from fabhub.app import create_app

    instance = tmp_path / "inst"
    run(runner, instance, "init")
    run(runner, instance, "user", "add", "ada", "--password-stdin", input="long enough password\n")
    token = run(runner, instance, "user", "token", "ada", "--label", "script").output.strip()
    client = create_app({"TESTING": True}, instance=instance).test_client()
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.get_json()["username"] == "ada"


def test_help_has_examples(runner: CliRunner) -> None:
    assert "Examples:" in runner.invoke(main, ["--help"]).output
