"""Hub commands: init and serve."""

from __future__ import annotations

import sys

import click

from fabhub import config
from fabhub.cli.root import Context, fail, main, pass_ctx
from fabhub.db import connect
from fabhub.instance import check_ready, init_instance


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


def serve_hub(ctx: Context, host: str, port: int, threads: int = 48,
           connection_limit: int = 1000) -> None:
    """Check the instance, then serve the hub with waitress until interrupted."""
    from waitress import serve

    from fabhub.app import create_app

    try:
        check_ready(ctx.instance)
        app = create_app(instance=ctx.instance)
    except config.ConfigError as exc:
        fail(str(exc))
    click.echo(f"fabhub is serving on http://{host}:{port}/  (Ctrl-C stops it)")
    sys.stdout.flush()
    # Hold one connection for the server's life: a request's own connection is then never
    # the last to close, so SQLite does not checkpoint and remove the WAL (with fsyncs) at
    # the end of every request. That cost 6 of a node report's 14 ms.
    keeper = connect(app.config["DATABASE"], app.config["SQLITE_BUSY_TIMEOUT_MS"])
    try:
        serve(app, host=host, port=port, threads=threads, ident="fabhub",
              connection_limit=connection_limit,
              max_request_body_size=app.config["MAX_CONTENT_LENGTH"] + 1024 * 1024)
    finally:
        keeper.conn.close()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=48, show_default=True, type=click.IntRange(1, 512),
              help="Worker threads of the WSGI server (each node's command long poll "
                   "holds one while it waits).")
@click.option("--connection-limit", default=1000, show_default=True,
              type=click.IntRange(10, 100_000),
              help="Open connections accepted at once (every node keeps one or two open).")
@pass_ctx
def serve(ctx: Context, host: str, port: int, threads: int, connection_limit: int) -> None:
    """Run the hub with the production WSGI server (waitress)."""
    serve_hub(ctx, host, port, threads, connection_limit)
