"""Hub commands: init, serve, demo."""

from __future__ import annotations

import secrets
import sys

import click

from fabhub import config, members
from fabhub.cli.root import Context, fail, main, pass_ctx
from fabhub.instance import check_ready, init_instance

DEMO_MEMBERS: tuple[tuple[str, str, str], ...] = (
    ("steward", "gatekeeper", "Sam Steward"),
    ("ada", "maker", "Ada Maker"),
    ("linus", "maker", "Linus Maker"),
)


@main.command()
@pass_ctx
def init(ctx: Context) -> None:
    """Create or migrate the instance; safe to run again, it never wipes data."""
    try:
        done = init_instance(ctx.instance)
    except config.ConfigError as exc:
        fail(str(exc))
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
        fail(str(exc))
    click.echo(f"fabhub is serving on http://{host}:{port}/  (Ctrl-C stops it)")
    sys.stdout.flush()
    # Wall screens and job pages keep a connection open between their polls; waitress's
    # default of 100 open connections would leave the 101st viewer waiting.
    serve(app, host=host, port=port, threads=threads, ident="fabhub", connection_limit=1000,
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
