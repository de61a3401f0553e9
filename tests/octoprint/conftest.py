"""One real OctoPrint 1.11 for the module's tests, started once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.drivers.conftest import Events
from tests.octoprint.octoprint_server import OctoPrintServer


@pytest.fixture(scope="session")
def octoprint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OctoPrintServer]:
    """A running OctoPrint with its Virtual Printer (restarted if a test stopped it)."""
    server = OctoPrintServer(Path(tmp_path_factory.mktemp("octoprint")))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def events() -> Events:
    """A fresh event collector."""
    return Events()
