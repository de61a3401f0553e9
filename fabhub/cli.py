"""The ``fabhub`` command: a thin layer over the library (a composition root)."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from fabhub import config, members
from fabhub.db import opened
from fabhub.instance import check_ready, init_instance

DEMO_MEMBERS: tuple[tuple[str, str, str], ...] = (
    ("steward", "gatekeeper", "Sam Steward"),
    ("ada", "maker", "Ada Maker"),
    ("linus", "maker", "Linus Maker"),
)


class Context:
    """What every subcommand needs: the instance folder."""

    def __init__(self, instance: Path) -> None:
        self.instance = instance

    @contextmanager
    def db(self) -> Iterator:
        """The instance's database for one command; refusals become clean CLI errors."""
        settings = config.load(self.instance)
        with opened(settings["DATABASE"], settings["SQLITE_BUSY_TIMEOUT_MS"]) as db:
            try:
                yield db
            except members.MemberError as exc:
                raise click.ClickException(str(exc)) from exc


pass_ctx = click.make_pass_decorator(Context)


def _fail(message: str) -> None:
    raise click.ClickException(message)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--instance", type=click.Path(file_okay=False, path_type=Path),
              envvar="FABHUB_INSTANCE", default="instance", show_default=True,
              help="Instance folder: configuration, secrets and the database.")
@click.pass_context
def main(ctx: click.Context, instance: Path) -> None:
    """fabhub: share a commons-owned fablab's machines.

    \b
    Examples:
      fabhub init                      create or migrate ./instance
      fabhub user add ada --role maker
      fabhub serve --port 5000
    """
    ctx.obj = Context(instance.resolve())


@main.command()
@pass_ctx
def init(ctx: Context) -> None:
    """Create or migrate the instance; safe to run again, it never wipes data."""
    try:
        done = init_instance(ctx.instance)
    except config.ConfigError as exc:
        _fail(str(exc))
    for line in done:
        click.echo(line)
    if not done:
        click.echo(f"{ctx.instance} is up to date; nothing to do.")


def _serve(ctx: Context, host: str, port: int, threads: int) -> None:
    from waitress import serve

    from fabhub.app import create_app

    try:
        check_ready(ctx.instance)
        app = create_app(instance=ctx.instance)
    except config.ConfigError as exc:
        _fail(str(exc))
    click.echo(f"fabhub is serving on http://{host}:{port}/  (Ctrl-C stops it)")
    sys.stdout.flush()
    serve(app, host=host, port=port, threads=threads, ident="fabhub",
          max_request_body_size=app.config["MAX_CONTENT_LENGTH"] + 1024 * 1024)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Worker threads of the WSGI server.")
@pass_ctx
def serve(ctx: Context, host: str, port: int, threads: int) -> None:
    """Run the hub with the production WSGI server (waitress)."""
    _serve(ctx, host, port, threads)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@pass_ctx
def demo(ctx: Context, host: str, port: int) -> None:
    """Set up a demo instance with three members and serve it.

    Demo passwords are new random ones on every run and are printed here.
    """
    for line in init_instance(ctx.instance):
        click.echo(line)
    with ctx.db() as db:
        click.echo("Demo logins (new passwords on every run):")
        for username, role, name in DEMO_MEMBERS:
            password = secrets.token_urlsafe(9)
            if members.find_by_username(db, username) is None:
                members.add_member(db, username, password, role, display_name=name)
            else:
                members.set_password(db, username, password)
            click.echo(f"  {role:<10} {username:<8} password: {password}")
    _serve(ctx, host, port, threads=8)


@main.group()
def user() -> None:
    """Manage members: add, list, set-role, disable, token."""


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@user.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(members.ROLES), default="maker", show_default=True)
@click.option("--name", "display_name", help="Display name (defaults to the username).")
@click.option("--email")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
@pass_ctx
def user_add(ctx: Context, username: str, role: str, display_name: str | None,
             email: str | None, password_stdin: bool) -> None:
    """Add a member. Example: fabhub user add ada --role maker"""
    password = _read_password(password_stdin)
    with ctx.db() as db:
        member = members.add_member(db, username, password, role, display_name, email)
    click.echo(f"added {member.username} ({member.role})")


@user.command("list")
@pass_ctx
def user_list(ctx: Context) -> None:
    """List members with role and status."""
    with ctx.db() as db:
        rows = members.list_members(db)
    for m in rows:
        status = "disabled" if m.disabled else "active"
        click.echo(f"{m.username:<20} {m.role:<11} {status:<9} {m.display_name}")


@user.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(members.ROLES))
@pass_ctx
def user_set_role(ctx: Context, username: str, role: str) -> None:
    """Change a member's role. Example: fabhub user set-role ada gatekeeper"""
    with ctx.db() as db:
        member = members.set_role(db, username, role)
    click.echo(f"{member.username} is now {member.role}")


@user.command("disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="Re-enable a disabled member instead.")
@pass_ctx
def user_disable(ctx: Context, username: str, enable: bool) -> None:
    """Disable a member: no login, no API tokens. --enable undoes it."""
    with ctx.db() as db:
        member = members.set_disabled(db, username, not enable)
    click.echo(f"{member.username} is {'disabled' if member.disabled else 'enabled'}")


@user.command("token")
@click.argument("username")
@click.option("--label", required=True, help="What the token is for, e.g. 'slicer laptop'.")
@pass_ctx
def user_token(ctx: Context, username: str, label: str) -> None:
    """Create a personal API token for a member and print it (shown once)."""
    from fabhub.tokens import create_token

    with ctx.db() as db:
        member = members.require_member(db, username)
        _, token = create_token(db, member.id, label)
    click.echo(token)
