"""The node's parts without a hub: configuration, journal, receipts, recovery, the CLI's errors."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fabhub.cli import main
from fabhub.jobs.receipts import SignedReceipt, verify_receipt
from fabhub.node import config as node_config
from fabhub.node.job_run import recover
from fabhub.node.journal import END, Journal
from fabhub.node.keys import load_key, store_key


def sample(tmp_path: Path) -> node_config.NodeConfig:
    return node_config.NodeConfig(
        hub_url="http://127.0.0.1:5000", token="fhn_abc_secret", node_id=3, machine_id=7,
        port="/dev/serial/by-id/usb-x", firmware="marlin", key_path=str(tmp_path / "k.pem"),
        journal_dir=str(tmp_path / "journal"))


def test_config_round_trips_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "node.toml"
    node_config.save(sample(tmp_path), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert node_config.load(path) == sample(tmp_path)


@pytest.mark.parametrize("text, message", [
    ('hub_url = "http://x"\n', "missing key(s)"),
    ("colour = 'red'\n", "unknown key(s) colour"),
    ("hub_url = [", "cannot be read"),
])
def test_bad_config_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "node.toml"
    path.write_text(text)
    with pytest.raises(node_config.ConfigError, match=message.replace("(", r"\(").replace(
            ")", r"\)")):
        node_config.load(path)


def test_run_without_config_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["node", "run", "--config", str(tmp_path / "none.toml")])
    assert result.exit_code == 1
    assert "fabhub node enroll" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_journal_survives_a_torn_last_line_and_lists_what_is_unsent(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    view = journal.open_job({"id": 5, "file_sha256": "a" * 64})
    view.append({"t": "begin", "material_mg_total": 0})
    view.append({"t": "batch", "batch": 1, "events": [{"type": "started", "at": "t"}]})
    view.append({"t": "batch", "batch": 2, "events": [{"type": "log", "at": "t"}]})
    view.append({"t": "sent", "what": 1})
    with open(view.path, "ab") as handle:
        handle.write(b'{"t": "batch", "batch": 3, "ev')  # power cut mid-write
    again = journal.unfinished()
    assert [v.job_id for v in again] == [5]
    assert [what for what, _ in again[0].unsent()] == [2]


def test_recovery_reports_interrupted_with_a_valid_receipt(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    store_key(key, tmp_path / "k.pem")
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600
    journal = Journal(tmp_path / "journal")
    sha = hashlib.sha256(b"x").hexdigest()
    view = journal.open_job({"id": 9, "file_sha256": sha})
    view.append({"t": "begin", "material_mg_total": 1000})
    view.append({"t": "batch", "batch": 1, "events": [
        {"type": "started", "at": "2026-01-01T00:00:00Z"},
        {"type": "progress", "at": "2026-01-01T00:00:01Z", "lines_acked": 40,
         "bytes_acked": 50, "bytes_total": 100}]})
    unfinished = journal.unfinished()[0]
    assert recover(unfinished, sample(tmp_path), load_key(tmp_path / "k.pem"))
    body = unfinished.end
    assert body["outcome"] == "interrupted" and body["lines_acked"] == 40
    signed = SignedReceipt.from_dict(body["receipt"])
    verify_receipt(signed, key.public_key().public_bytes_raw())
    assert signed.receipt.material_mg == 500
    assert [what for what, _ in journal.unfinished()[0].unsent()] == [1, END]


def test_recovery_of_a_job_that_never_started_hands_it_back(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    view = journal.open_job({"id": 4, "file_sha256": "b" * 64})
    key = Ed25519PrivateKey.generate()
    assert not recover(view, sample(tmp_path), key)
    assert view.end is None
