"""A real hub in a subprocess and a real headless Chromium, for the browser tests."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from fabhub import members
from fabhub.db import opened
from fabhub.instance import init_instance
from fabhub.jobqueue import access, classes, machines
from fabhub.jobs.machine_profile import example_profile
from fabhub.nodes import registry
from fabhub.tokens import create_token
from tests.conftest import PASSWORD
from tests.hub.hub_process import HubProcess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking"]
SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "gcode"
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "web"


@dataclass
class BrowserLab:
    """A running hub with one printer, its node's enrolment code and API tokens."""

    hub: HubProcess
    machine_id: int
    enrolment_code: str
    tokens: dict[str, str]

    @property
    def url(self) -> str:
        """The hub's base URL."""
        return self.hub.url

    def db(self):
        """A connection to the hub's database (for setting up, never for asserting pages)."""
        return opened(self.hub.instance / "fabhub.sqlite3")

    def submit(self, username: str, sample: str) -> dict:
        """Queue a sample file through the JSON API, as a slicer would."""
        with open(SAMPLES / sample, "rb") as handle:
            data = handle.read()
        answer = requests.post(f"{self.url}/api/v1/jobs", timeout=30,
                               headers={"Authorization": f"Bearer {self.tokens[username]}"},
                               files={"file": (sample, io.BytesIO(data))},
                               data={"machine_class": "fdm-small", "material": "PLA"})
        assert answer.status_code == 201, answer.text
        return answer.json()


def build(tmp_path: Path, machine_state: str = "idle", certify_linus: bool = False) -> BrowserLab:
    """An instance with gina (gatekeeper), ada (certified) and linus (not), and one printer."""
    instance = tmp_path / "instance"
    init_instance(instance)
    tokens = {}
    with opened(instance / "fabhub.sqlite3") as db:
        people = {name: members.add_member(db, name, PASSWORD, role, name.title())
                  for name, role in (("gina", "gatekeeper"), ("ada", "maker"),
                                     ("linus", "maker"))}
        classes.add_machine_class(db, "fdm-small", "fdm")
        machine = machines.add_machine(db, "Prusa 1", example_profile("fdm-marlin"),
                                       people["gina"].id)
        machines.set_manual_state(db, machine.id, machine_state, "", people["gina"].id)
        access.certify(db, people["ada"].id, "fdm-small", people["gina"].id)
        if certify_linus:
            access.certify(db, people["linus"].id, "fdm-small", people["gina"].id)
        for name, member in people.items():
            tokens[name] = create_token(db, member.id, "browser test")[1]
        _node, code = registry.register(db, machine.id, "scripted", people["gina"].id)
    hub = HubProcess(instance)
    hub.start()
    return BrowserLab(hub, machine.id, code, tokens)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright; missing Chromium is a failure, not a skip."""
    from playwright.sync_api import sync_playwright

    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: run `make test` (as root)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS,
                                              headless=True)
        yield chromium
        chromium.close()


def shot(page, name: str) -> None:
    """Save a full-page screenshot under test-output/web."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)


def log_in(browser, lab: BrowserLab, username: str, locale: str = "en-GB"):
    """A fresh browser context logged in as ``username``; returns its page."""
    context = browser.new_context(locale=locale, base_url=lab.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:500]
    return page
