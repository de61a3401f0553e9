"""``fabhub sim marlin|grbl``: a simulated machine on a pseudo-terminal."""

from __future__ import annotations

import click

from fabhub.cli.root import fail, main

FAULT_HELP = ("Inject a fault, e.g. corrupt=0.2, drop=0.05, corrupt_replies=0.2, lose_ok=30, "
              "error_at=120[:CODE], alarm_at=50[:CODE], disconnect_at=400, seed=7. Repeatable.")


@main.command("sim")
@click.argument("firmware", type=click.Choice(["marlin", "grbl"]))
@click.option("--baud", type=click.IntRange(300, 4_000_000), default=None,
              help="Emulate a serial link of this speed (baud/10 bytes per second); "
                   "default: as fast as the pty goes.")
@click.option("--fault", "faults", multiple=True, metavar="NAME=VALUE", help=FAULT_HELP)
@click.option("--command-time", type=click.FloatRange(0, 10), default=0.0, show_default=True,
              help="Seconds the firmware takes to process each command.")
@click.option("--motion-time-scale", type=click.FloatRange(0, 10), default=0.0,
              show_default=True,
              help="Simulate motion time (distance / feed rate) times this factor; 0: none.")
def sim(firmware: str, baud: int | None, faults: tuple[str, ...], command_time: float,
        motion_time_scale: float) -> None:
    """Run a simulated Marlin printer or Grbl controller; print its device path.

    It runs until interrupted (Ctrl-C). Point a driver or any serial terminal at the
    printed path, e.g.: fabhub sim grbl --baud 115200 --fault error_at=40
    """
    from fabhub.drivers.sim import SIMULATORS, Faults

    try:
        parsed = Faults.parse(faults)
    except ValueError as exc:
        fail(str(exc))
    device = SIMULATORS[firmware](baud=baud, faults=parsed, command_time_s=command_time,
                                  motion_time_scale=motion_time_scale)
    device.start()
    click.echo(device.path)
    try:
        device.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        device.close()
