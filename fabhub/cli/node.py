"""``fabhub node ...``: enrol and run a node agent on a Pi; register a node on the hub."""

from __future__ import annotations

import signal
from pathlib import Path

import click

from fabhub.cli.root import Context, fail, main, pass_ctx

CONFIG_HELP = "The node's configuration file (default: $FABHUB_NODE_CONFIG or " \
              "~/.config/fabhub/node.toml)."


@main.group("node")
def node() -> None:
    """The agent beside a machine (enroll, run) and, on the hub, node registration (add)."""


@node.command("add")
@click.argument("machine_id", type=int)
@click.option("--name", default="", help="A name for the node, e.g. 'pi beside the Prusa'.")
@pass_ctx
def add(ctx: Context, machine_id: int, name: str) -> None:
    """On the hub: register a node for MACHINE_ID and print its one-time enrolment code."""
    from fabhub.nodes import registry
    from fabhub.problems import Problem

    with ctx.db() as db:
        try:
            registered, code = registry.register(db, machine_id, name, None)
        except Problem as exc:
            fail(exc.message)
    click.echo(f"node {registered.id} registered for machine {machine_id}.")
    click.echo(f"On the Pi, within {registry.CODE_TTL_S // 60} minutes, run:")
    click.echo("  fabhub node enroll HUB_URL CODE --port /dev/serial/by-id/...")
    click.echo(f"enrolment code (shown once): {code}")


def _config_path(config: Path | None) -> Path:
    from fabhub.node.config import default_path

    return config or default_path()


@node.command("enroll")
@click.argument("hub_url")
@click.argument("code")
@click.option("--port", required=True,
              help="The machine's serial device, best a stable /dev/serial/by-id/... name.")
@click.option("--firmware", default=None,
              help="Firmware profile (marlin, grbl, ...); default: what the hub's machine names.")
@click.option("--baud", type=click.IntRange(300, 4_000_000), default=None,
              help="Serial speed; default: the firmware profile's.")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help=CONFIG_HELP)
@click.option("--journal", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of the offline journal (default: beside the config file).")
def enroll(hub_url: str, code: str, port: str, firmware: str | None, baud: int | None,
           config: Path | None, journal: Path | None) -> None:
    """Enrol this computer as the node of a machine with a one-time CODE from a gatekeeper."""
    from fabhub.drivers import ProfileError
    from fabhub.node.client import HubRefused, HubUnreachable
    from fabhub.node.config import ConfigError
    from fabhub.node.enrol import enroll as do_enroll

    path = _config_path(config)
    try:
        done = do_enroll(hub_url, code, port, firmware, baud, path, journal_dir=journal)
    except HubRefused as exc:
        fail(f"the hub refused the enrolment: {exc}")
    except HubUnreachable as exc:
        fail(f"cannot reach the hub at {hub_url}: {exc}")
    except (ProfileError, ConfigError, OSError) as exc:
        fail(str(exc))
    click.echo(f"enrolled as node {done.node_id} of machine {done.machine_id}; "
               f"configuration written to {path}")


@node.command("run")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help=CONFIG_HELP)
@click.option("--verbose", is_flag=True, help="Log debug messages too.")
def run(config: Path | None, verbose: bool) -> None:
    """Run the node agent until stopped (SIGTERM or Ctrl-C); logs are JSON lines on stderr."""
    import logging

    from fabhub.node.agent import Agent
    from fabhub.node.config import ConfigError, load
    from fabhub.node.logs import setup_logging

    try:
        settings = load(_config_path(config))
        agent = Agent(settings)
    except (ConfigError, ValueError) as exc:
        fail(str(exc))
    setup_logging(logging.DEBUG if verbose else logging.INFO)
    signal.signal(signal.SIGTERM, lambda *_: agent.stop.set())
    try:
        agent.run()
    except KeyboardInterrupt:
        agent.stop.set()
