"""The ``fabhub`` group and what every subcommand shares: the instance and its database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from fabhub import config, members
from fabhub.db import opened


class Context:
    """What every subcommand needs: the instance folder."""

    def __init__(self, instance: Path) -> None:
        self.instance = instance

    @contextmanager
    def db(self) -> Iterator:
        """The instance's database for one command; refusals become clean CLI errors."""
        try:
            settings = config.load(self.instance)
        except config.ConfigError as exc:
            raise click.ClickException(str(exc)) from exc
        with opened(settings["DATABASE"], settings["SQLITE_BUSY_TIMEOUT_MS"]) as db:
            try:
                yield db
            except members.MemberError as exc:
                raise click.ClickException(str(exc)) from exc


pass_ctx = click.make_pass_decorator(Context)


def fail(message: str) -> None:
    """Stop the command with a clear error message (exit status 1)."""
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
