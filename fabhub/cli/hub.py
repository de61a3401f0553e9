"""Hub commands: init and serve."""

from __future__ import annotations

import click

from fabhub import config
from fabhub.cli.root import Context, fail, main, pass_ctx
from fabhub.instance import init_instance


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


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=48, show_default=True, type=click.IntRange(1, 512),
              help="Python threads that run requests, per worker (each node's command "
                   "long poll holds one while it waits).")
@click.option("--connection-limit", default=1000, show_default=True,
              type=click.IntRange(10, 100_000),
              help="Connections served at once (every node keeps one or two open).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes; each has its own request threads (--threads each).")
@pass_ctx
def serve(ctx: Context, host: str, port: int, threads: int, connection_limit: int,
          workers: int) -> None:
    """Run the hub with the production server (granian)."""
    from fabhub.cli.serving import serve_hub

    serve_hub(ctx, host, port, threads, connection_limit, workers)
