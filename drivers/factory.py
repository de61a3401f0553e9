"""One way in: :func:`open_driver` picks the driver its firmware profile's dialect names,
or the OctoPrint driver for an ``octoprint+http://`` address."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fabhub.drivers.driver import Driver
from fabhub.drivers.events import EventSink
from fabhub.drivers.grbl import GrblDriver
from fabhub.drivers.octoprint import OctoPrintDriver
from fabhub.drivers.octoprint_api import is_octoprint_url
from fabhub.drivers.profiles import FirmwareProfile, load_profile
from fabhub.drivers.reprap import ReprapDriver

DIALECTS: dict[str, type[Driver]] = {"reprap": ReprapDriver, "grbl": GrblDriver}


def open_driver(port_or_url: str, firmware_profile: str | Path | FirmwareProfile,
                baud: int | None = None, *, events: EventSink = None,
                overrides: Mapping[str, Any] | None = None, connect: bool = True,
                progress_interval_s: float = 0.25) -> Driver | OctoPrintDriver:
    """A driver for the machine on ``port_or_url``, connected unless ``connect=False``.

    ``firmware_profile`` is a shipped profile's name (``"marlin"``, ``"grbl"``...), a
    path to a profile file, or a loaded profile; ``overrides`` maps dotted profile keys
    to values, checked like the file's own. ``baud`` defaults to the profile's.
    ``events`` is a callable or a ``queue.Queue`` that receives every event.

    A port ``octoprint+http://HOST:PORT`` (or ``octoprint+https://``) drives the printer
    through that OctoPrint; ``overrides`` then also take its options (``api_key``, else
    ``FABHUB_OCTOPRINT_API_KEY``; ``serial_port``, ``printer_profile``,
    ``poll_interval_s``, ``request_timeout_s``, ``offline_timeout_s``,
    ``connect_timeout_s``: every key without a dot) and ``baud`` is the baud rate
    OctoPrint should connect with.
    """
    profile_overrides = dict(overrides or {})
    options = {}
    if is_octoprint_url(port_or_url):
        # Undotted keys are the driver's options (profile keys all sit in sections).
        options = {k: profile_overrides.pop(k) for k in list(profile_overrides) if "." not in k}
    profile = firmware_profile if isinstance(firmware_profile, FirmwareProfile) else \
        load_profile(firmware_profile, profile_overrides)
    driver: Driver | OctoPrintDriver
    if is_octoprint_url(port_or_url):
        driver = OctoPrintDriver(port_or_url, profile, baud=baud, events=events,
                                 progress_interval_s=progress_interval_s, options=options)
    else:
        driver = DIALECTS[profile.dialect](port_or_url, profile, baud=baud, events=events,
                                           progress_interval_s=progress_interval_s)
    if connect:
        driver.connect()
    return driver
