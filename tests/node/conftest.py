"""Fixtures for the end-to-end node tests: a lab factory that always cleans up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.node.lab import Lab


@pytest.fixture
def make_lab(tmp_path: Path, instance: Path) -> Iterator[Callable[..., Lab]]:
    """Build a :class:`Lab` (hub started) for the given example profiles; closed afterwards."""
    labs: list[Lab] = []

    def build(profiles: list[str], command_time_s: float = 0.01) -> Lab:
        lab = Lab(tmp_path, instance, profiles, command_time_s)
        labs.append(lab)
        lab.hub.start()
        return lab

    yield build
    for lab in labs:
        lab.close()
