"""A small client for OctoPrint's REST API: addresses, the API key, and error messages.

Every request carries the key in ``X-Api-Key`` (an application key from OctoPrint's
bundled Application Keys plugin; OctoPrint is retiring the global API key). Each thread
gets its own HTTP session, so a slow status poll never delays an emergency stop.
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import urlsplit

import requests

from fabhub.drivers.errors import DriverError, PortNotFound, TransportError

URL_SCHEMES = ("octoprint+http", "octoprint+https")
API_KEY_ENV = "FABHUB_OCTOPRINT_API_KEY"
# option -> (default, allowed range for numbers)
OPTIONS: dict[str, tuple[Any, tuple[float, float] | None]] = {
    "api_key": ("", None), "serial_port": ("", None), "printer_profile": ("", None),
    "poll_interval_s": (0.25, (0.05, 60.0)), "request_timeout_s": (5.0, (0.5, 600.0)),
    "offline_timeout_s": (30.0, (1.0, 3600.0)), "connect_timeout_s": (30.0, (1.0, 600.0))}


class OctoPrintUnreachable(TransportError):
    """OctoPrint did not answer (refused connection, timeout, reset)."""


class OctoPrintRefused(DriverError):
    """OctoPrint answered with an HTTP error; ``status`` and OctoPrint's own ``message``."""

    def __init__(self, status: int, message: str, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.message = message


def is_octoprint_url(port_or_url: str) -> bool:
    """Does this port name an OctoPrint server (``octoprint+http://HOST:PORT``)?"""
    return str(port_or_url).lower().startswith(tuple(s + "://" for s in URL_SCHEMES))


def base_url(port_or_url: str) -> str:
    """The plain ``http(s)://HOST:PORT[/prefix]`` of an ``octoprint+http(s)://`` address."""
    parts = urlsplit(port_or_url)
    if parts.scheme.lower() not in URL_SCHEMES or not parts.hostname:
        raise PortNotFound(f"{port_or_url!r} is not an OctoPrint address; write "
                           "octoprint+http://HOST:PORT (or octoprint+https://...)")
    if parts.username or parts.password:
        raise PortNotFound(f"{parts.hostname}: do not put credentials in the address; give "
                           f"the API key as the api_key option or in {API_KEY_ENV}")
    if parts.query or parts.fragment:
        raise PortNotFound(f"{port_or_url!r}: an OctoPrint address has no ?query or #fragment")
    scheme = parts.scheme.lower().removeprefix("octoprint+")
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def api_key_from(option: str | None) -> str:
    """The API key: the ``api_key`` option, else ``FABHUB_OCTOPRINT_API_KEY``."""
    key = (option or os.environ.get(API_KEY_ENV, "")).strip()
    if not key:
        raise DriverError("no OctoPrint API key: create an application key for fabhub in "
                          "OctoPrint (Settings > Application Keys) and pass it as the api_key "
                          f"option or in {API_KEY_ENV}")
    return key


class OctoPrintAPI:
    """JSON calls to one OctoPrint server with one API key."""

    def __init__(self, url: str, api_key: str, timeout_s: float) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._key = api_key
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers["X-Api-Key"] = self._key
        return session

    def request(self, method: str, path: str, *, timeout: float | None = None,
                **kwargs: Any) -> Any:
        """Call ``path`` (``/api/...``); return the decoded JSON (None for 204)."""
        try:
            response = self._session().request(method, self.url + path,
                                               timeout=timeout or self.timeout_s, **kwargs)
        except requests.RequestException as exc:
            raise OctoPrintUnreachable(f"OctoPrint at {self.url} did not answer {method} "
                                       f"{path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise self._refusal(method, path, response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise OctoPrintRefused(response.status_code, "not JSON",
                                   f"OctoPrint at {self.url} answered {method} {path} with "
                                   "something that is not JSON; is this really OctoPrint?"
                                   ) from exc

    def _refusal(self, method: str, path: str, response: requests.Response) -> OctoPrintRefused:
        try:
            message = str(response.json().get("error", ""))
        except (ValueError, AttributeError):
            message = response.text[:200]
        status = response.status_code
        text = f"OctoPrint at {self.url} refused {method} {path} ({status}): {message}"
        if status in (401, 403):
            text += (" -- check the API key: it must be an application key of an OctoPrint "
                     "user allowed to connect, upload, print and control the printer")
        return OctoPrintRefused(status, message, text)

    def get(self, path: str, **kwargs: Any) -> Any:
        """GET ``path``."""
        return self.request("GET", path, **kwargs)

    def command(self, path: str, body: dict[str, Any], **kwargs: Any) -> Any:
        """POST a JSON command to ``path``."""
        return self.request("POST", path, json=body, **kwargs)

    def upload(self, name: str, data: bytes) -> dict[str, Any]:
        """Store ``data`` as ``name`` in OctoPrint's local storage, select it and print it."""
        return self.request("POST", "/api/files/local", files={"file": (name, data)},
                            data={"select": "true", "print": "true"},
                            timeout=max(self.timeout_s, 60.0))


def checked_options(options: dict[str, Any]) -> dict[str, Any]:
    """Every option with its default filled in; an unknown option, a wrong type or a
    number out of range is a :class:`DriverError` naming it and what is allowed."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise DriverError(f"unknown OctoPrint option {unknown[0]!r}; allowed: "
                          f"{', '.join(OPTIONS)}")
    values = {}
    for name, (default, limits) in OPTIONS.items():
        value = options.get(name, default)
        if limits is None:
            if not isinstance(value, str):
                raise DriverError(f"OctoPrint option {name} must be a string, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, int | float) \
                or not limits[0] <= value <= limits[1]:
            raise DriverError(f"OctoPrint option {name} = {value!r}; allowed: a number from "
                              f"{limits[0]:g} to {limits[1]:g}")
        values[name] = float(value) if limits else value
    return values
