"""The core's findings, profile errors and wait reasons reach French pages in French."""

from __future__ import annotations

import re

from flask import Flask

from fabhub.db import opened
from fabhub.jobqueue import fit, machines
from fabhub.jobs.analysis import Finding
from fabhub.jobs.analysis_model import ANALYSIS_ERROR_CODES, FINDING_CODES, AnalysisError
from fabhub.jobs.machine_profile import (
    PROFILE_ERROR_CODES,
    ProfileError,
    dump_profile,
    example_profile,
    load_profile,
)
from fabhub.jobs.matching import WAIT_CODES, WaitReason
from fabhub.members import require_member
from fabhub.scheduling import run_now
from fabhub.web import core_messages, reasons
from tests.conftest import csrf_token
from tests.hub.conftest import TOO_BIG
from tests.web.conftest import Lab, client_as
from tests.web.test_forms import errors_of, upload


def test_every_code_the_core_can_emit_has_a_translation() -> None:
    assert sorted(set(FINDING_CODES) - set(core_messages.FINDINGS)) == []
    assert sorted(set(PROFILE_ERROR_CODES) - set(core_messages.PROFILE_ERRORS)) == []
    assert sorted(set(WAIT_CODES) - set(reasons.MESSAGES)) == []
    assert sorted(set(ANALYSIS_ERROR_CODES) - set(core_messages.ANALYSIS_ERRORS)) == []


def test_the_core_refuses_a_code_missing_from_its_registry() -> None:
    for make in (lambda: Finding("error", "made_up", None, "x"),
                 lambda: ProfileError("x", "made_up"),
                 lambda: WaitReason("made_up", "x"),
                 lambda: AnalysisError("x", "made_up")):
        try:
            make()
        except ValueError as exc:
            assert "made_up" in str(exc)
        else:
            raise AssertionError("a code outside the registry was accepted")


def test_unknown_code_or_missing_parameters_fall_back_to_english(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        old = Finding("error", "hotend_too_hot", 12, "the nozzle is too hot")  # no params
        assert core_messages.finding_text(old) == "the nozzle is too hot"
        assert core_messages.profile_error_text("made_up", "k", {}, "as sent") == "as sent"


def test_profile_error_keeps_code_key_and_params() -> None:
    try:
        load_profile('name = "x"\nkind = "fdm"\nbogus = 1\n')
    except ProfileError as exc:
        assert (exc.code, exc.key) == ("unknown_key", "bogus")
        assert "kind" in str(exc.params["allowed"])
    else:
        raise AssertionError("an unknown key was accepted")


def test_french_upload_preview_shows_the_finding_in_french(app: Flask, lab: Lab) -> None:
    client = client_as(app, "ada")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr-FR,fr;q=0.9"
    page, status, _token = upload(client, TOO_BIG)
    assert status == 200 and 'id="not-queued"' in page
    findings = re.search(r'<ul class="findings">(.*?)</ul>', page, re.S)
    assert findings, page
    text = findings.group(1)
    assert "Le travail atteint X=400 mm, hors de la plage X de" in text, text
    assert "(de 0 à 250 mm)" in text
    assert "reaches" not in text and "outside" not in text


def test_french_machine_edit_shows_the_profile_error_in_french(app: Flask, lab: Lab) -> None:
    client = client_as(app, "gina")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    url = f"/machines/{lab.machine_id}"
    page = client.get(url).get_data(as_text=True)
    typed = re.search(r'<textarea[^>]*>(.*?)</textarea>', page, re.S).group(1)
    typed = typed.replace("&#34;", '"').replace("&quot;", '"')
    bad = re.sub(r"max_hotend_temp_c = [0-9.]+", "max_hotend_temp_c = -5", typed)
    assert bad != typed
    answer = client.post(url, data={"profile": bad, "csrf_token": csrf_token(client, url)})
    assert answer.status_code == 422
    error = errors_of(answer.get_data(as_text=True), "profile")
    assert "max_hotend_temp_c : doit être supérieur à zéro, pas -5" in error, error
    assert "must be" not in error



def test_a_job_no_machine_fits_any_more_says_why_in_french(app: Flask, lab: Lab) -> None:
    small = load_profile(dump_profile(example_profile("fdm-marlin")).replace(
        "x_max = 250.0", "x_max = 5.0"))
    with opened(app.config["DATABASE"]) as db:
        gina = require_member(db, "gina")
        machines.update_profile(db, lab.machine_id, small, gina.id)
        fit.refresh_class(db, "fdm-small")
        run_now(db, app.config)
    client = client_as(app, "ada")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    reason = re.search(r'class="reason"[^>]*>(.*?)<', client.get(f"/jobs/{lab.job_id}")
                       .get_data(as_text=True), re.S)
    assert reason, "no reason on the job page"
    text = reason.group(1)
    assert "Aucune machine fdm-small ne peut exécuter ce fichier." in text, text
    assert "hors de la plage X" in text and "(ligne " in text, text


def test_french_upload_of_a_binary_file_is_refused_in_french(app: Flask, lab: Lab) -> None:
    client = client_as(app, "ada")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    with opened(app.config["DATABASE"]) as db:
        before = db.execute("SELECT count(*) FROM jobs").fetchone()[0]
    page, status, _token = upload(client, b"\x00\x01binary\x00" * 100)
    assert status == 422
    text = errors_of(page, "file")
    assert "Ceci est un fichier binaire" in text and "binary" not in text, text
    with opened(app.config["DATABASE"]) as db:
        assert db.execute("SELECT count(*) FROM jobs").fetchone()[0] == before
