"""Talking to machines: firmware profiles, the serial transport, and streaming drivers.

Imports nothing from the rest of fabhub. The node agent uses it like this::

    from fabhub.drivers import open_driver

    driver = open_driver("/dev/ttyACM0", "marlin", events=my_queue)  # connects
    driver.start_job("part.gcode")          # returns at once; events report progress
    driver.pause(); driver.resume()         # from any thread
    driver.cancel()                         # safe stop per the profile, asynchronous
    driver.emergency_stop()                 # from any thread, ahead of every queue
    result = driver.wait_job(timeout=None)  # JobFinished
    telemetry = driver.query_status()       # Telemetry
    driver.disconnect()

Interface (every driver, :class:`Driver`):

- ``open_driver(port_or_url, firmware_profile, baud=None, *, events=None,
  overrides=None, connect=True, progress_interval_s=0.25) -> Driver``: the profile is a
  shipped name (:func:`available_profiles`), a ``.toml`` path, or a
  :class:`FirmwareProfile`; ``overrides`` maps dotted keys (``"flow.window_lines"``)
  to values validated like the file's own.
- ``connect() -> str`` (firmware name; raises ``TransportError`` or ``HandshakeError``),
  ``disconnect()``.
- ``start_job(source)``, ``wait_job(timeout=None) -> JobFinished``,
  ``stream(source, timeout=None) -> JobFinished``; ``source`` is a path or an iterable
  of G-code lines.
- ``pause()``, ``resume()``, ``cancel()``, ``emergency_stop()``: thread-safe; a call
  that makes no sense in the current state raises ``JobError``.
- ``query_status(timeout=5.0) -> Telemetry``, ``send_command(command, timeout=None)
  -> list[str]`` (outside jobs or between job lines), and the attributes ``state``,
  ``firmware``, ``capabilities``, ``telemetry``.
- ``open_driver("octoprint+http://HOST:PORT", "marlin", overrides={"api_key": ...})``
  returns an :class:`OctoPrintDriver` (``fabhub.drivers.octoprint``) with the same calls
  and events, driving the printer through OctoPrint's REST API. ``send_command``
  returns ``[]`` there (OctoPrint does not return the printer's reply over REST).
- Grbl-dialect drivers also have ``check_file(source) -> list[CheckIssue]`` ($C dry run).

Events (plain frozen dataclasses in :mod:`fabhub.drivers.events`) go to the ``events``
callable or ``queue.Queue`` from the driver's reader thread, in order: ``Connected``,
``StateChanged``, ``Progress`` (throttled), ``Telemetry``, ``FirmwareMessage``,
``FirmwareError``, ``DriverWarning``, ``JobFinished``. States: disconnected,
connecting, idle, streaming, paused, held, stopping, fault.
"""

from fabhub.drivers.driver import Driver
from fabhub.drivers.errors import (
    CommandTimeout,
    DeviceGone,
    DriverError,
    HandshakeError,
    JobError,
    PortBusy,
    PortNotFound,
    ProfileError,
    TransportError,
)
from fabhub.drivers.factory import open_driver
from fabhub.drivers.grbl import CheckIssue, GrblDriver
from fabhub.drivers.octoprint import OctoPrintDriver
from fabhub.drivers.profiles import FirmwareProfile, available_profiles, load_profile
from fabhub.drivers.reprap import ReprapDriver

__all__ = [
    "CheckIssue", "CommandTimeout", "DeviceGone", "Driver", "DriverError", "FirmwareProfile",
    "GrblDriver", "HandshakeError", "JobError", "OctoPrintDriver", "PortBusy", "PortNotFound",
    "ProfileError", "ReprapDriver", "TransportError", "available_profiles", "load_profile",
    "open_driver",
]
