"""English and French: every translatable string has a French translation, chosen as asked."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask

import fabhub.web
from fabhub.db import opened
from fabhub.jobqueue.jobs import Submission, submit_job
from fabhub.members import require_member
from fabhub.scheduling import run_now
from tests.hub.conftest import SMALL_PRINT
from tests.web.conftest import Lab, client_as

WEB = Path(fabhub.web.__file__).parent
CATALOG = WEB / "translations" / "fr" / "LC_MESSAGES"
METHOD_MAP = [("**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None}


def extracted() -> set[str]:
    """Every message id the pages' code and templates mark for translation."""
    return {message for _file, _line, message, _comments, _context in extract_from_dir(
        str(WEB), METHOD_MAP, keywords=KEYWORDS) if isinstance(message, str)}


def test_every_string_has_a_french_translation() -> None:
    with open(CATALOG / "messages.po", "rb") as handle:
        po = {m.id: m.string for m in read_po(handle) if m.id}
    with open(CATALOG / "messages.mo", "rb") as handle:
        mo = {m.id: m.string for m in read_mo(handle) if m.id}
    wanted = extracted()
    assert len(wanted) > 150
    assert sorted(wanted - set(po)) == []
    assert sorted(k for k, v in po.items() if not v) == []
    assert mo == po, "messages.mo is out of date: compile messages.po again"


def test_language_follows_browser_then_choice(app: Flask) -> None:
    client = client_as(app, None)
    page = client.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert "Se connecter" in page.get_data(as_text=True)
    page = client.get("/login", headers={"Accept-Language": "de-DE,en;q=0.5"})
    assert "Log in" in page.get_data(as_text=True)
    from tests.conftest import csrf_token

    token = csrf_token(client)
    chosen = client.post("/language", data={"lang": "fr", "next": "/board",
                                            "csrf_token": token})
    assert chosen.status_code == 302 and chosen.headers["Location"] == "/board"
    page = client.get("/login", headers={"Accept-Language": "en"})
    assert "Se connecter" in page.get_data(as_text=True)
    outside = client.post("/language", data={"lang": "fr", "next": "//evil.example",
                                             "csrf_token": token})
    assert outside.headers["Location"] == "/"


def test_wait_reason_is_shown_in_french(app: Flask, lab: Lab) -> None:
    with opened(app.config["DATABASE"]) as db:
        linus = require_member(db, "linus")
        job, _new = submit_job(db, Path(app.config["FILES_DIR"]), linus, io.BytesIO(SMALL_PRINT),
                               Submission("fdm-small", "part.gcode", material="PLA"),
                               app.config["MAX_CONTENT_LENGTH"])
        run_now(db, app.config)
    client = client_as(app, "linus")
    french = client.get(f"/jobs/{job.id}", headers={"Accept-Language": "fr"})
    assert "pas encore certifié·e pour les machines fdm-small" in french.get_data(as_text=True)
    english = client.get("/queue", headers={"Accept-Language": "en"})
    assert "You are not certified for fdm-small machines yet" in english.get_data(as_text=True)
