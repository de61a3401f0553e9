"""The errors a driver raises; each message says what went wrong and what to do."""

from __future__ import annotations


class DriverError(Exception):
    """Base of every error raised by :mod:`fabhub.drivers`."""


class ProfileError(DriverError):
    """A firmware profile is missing, malformed, or has an unknown key or bad value."""


class TransportError(DriverError):
    """The serial link could not be opened, or failed while in use."""


class PortNotFound(TransportError):
    """The device path or URL does not exist."""


class PortBusy(TransportError):
    """Another program holds the port."""


class DeviceGone(TransportError):
    """The device vanished while connected (unplugged, powered off, reset)."""


class HandshakeError(DriverError):
    """The device answered nothing, or nothing that the profile recognises."""


class JobError(DriverError):
    """A job cannot start or be controlled in the driver's present state."""


class CommandTimeout(DriverError):
    """The firmware did not answer a command in time."""
