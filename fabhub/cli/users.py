"""Member commands: fabhub user add|list|set-role|disable|token."""

from __future__ import annotations

import sys

import click

from fabhub import members
from fabhub.cli.root import Context, main, pass_ctx


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
