"""Checkpoints: signed on demand and periodically (one process per hub), never one that is
inconsistent with the previous checkpoint; init creates the key once, private to its owner."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fabhub import config, periodic
from fabhub.app import create_app
from fabhub.db import connect
from fabhub.instance import init_instance
from fabhub.ledger import checkpoints, store
from fabhub.ledger.keys import SIGNING_KEY_FILE, VERIFIER_KEY_FILE, load_signer, read_verifier
from fabhub.ledger.note import open_checkpoint
from tests.ledger.conftest import use


def test_init_creates_the_trust_key_once_and_private(tmp_path: Path) -> None:
    done = init_instance(tmp_path / "inst")
    assert any("ledger's signing key" in line for line in done)
    key = tmp_path / "inst" / SIGNING_KEY_FILE
    assert key.stat().st_mode & 0o777 == 0o600
    before = key.read_text()
    assert not any("ledger" in line for line in init_instance(tmp_path / "inst"))
    assert key.read_text() == before
    verifier = read_verifier(str(tmp_path / "inst" / VERIFIER_KEY_FILE))
    assert verifier == load_signer(tmp_path / "inst").verifier


def test_checkpoint_on_demand_is_signed_and_only_when_grown(db, instance: Path) -> None:
    signer = load_signer(instance)
    empty, new = checkpoints.make_checkpoint(db, signer)
    assert new and empty.size == 0
    store.append(db, [use(), use()])
    made, new = checkpoints.make_checkpoint(db, signer)
    assert new and made.size == 2
    assert open_checkpoint(made.note, signer.verifier).root == store.root_hash(db)
    same, new = checkpoints.make_checkpoint(db, signer)
    assert not new and same == made
    forced, new = checkpoints.make_checkpoint(db, signer, force=True)
    assert new and forced.id == made.id + 1 and forced.size == 2


def test_a_checkpoint_inconsistent_with_the_last_is_refused(db, instance: Path) -> None:
    signer = load_signer(instance)
    store.append(db, [use() for _ in range(4)])
    checkpoints.make_checkpoint(db, signer)
    db.execute("DROP TRIGGER ledger_nodes_no_update")
    # the stored subtree over entries 0-3 no longer yields the signed root
    db.execute("UPDATE ledger_nodes SET hash = ? WHERE id = ?", [bytes(32), store.node_key(2, 0)])
    db.conn.commit()
    store.append_one(db, use())
    count = len(checkpoints.all_checkpoints(db))
    with pytest.raises(checkpoints.CheckpointError, match="refusing to sign"):
        checkpoints.make_checkpoint(db, signer)
    assert len(checkpoints.all_checkpoints(db)) == count


def test_periodic_jobs_sign_checkpoints_in_one_process_only(instance: Path) -> None:
    settings = {**config.load(instance), "LEDGER_CHECKPOINT_INTERVAL_S": 1}
    first = periodic.build(instance, settings)
    second = periodic.build(instance, settings)
    assert first.job_names() == ["lease-reaper", "ledger-checkpoint", "scheduling-pass",
                                 "silent-node-reaper"]
    db = connect(settings["DATABASE"])
    try:
        store.append_one(db, use())
        assert first.start()
        assert not second.start()  # the lock is taken: a second process stays idle
        deadline = time.monotonic() + 30
        while not checkpoints.all_checkpoints(db) and time.monotonic() < deadline:
            time.sleep(0.2)
        made = checkpoints.all_checkpoints(db)
        assert made and made[-1].size == 1
    finally:
        first.shutdown()
        db.conn.close()
    assert second.start()  # released on shutdown
    second.shutdown()


def test_the_app_starts_periodic_jobs_only_outside_tests(instance: Path) -> None:
    testing = create_app({"TESTING": True}, instance=instance)
    assert "fabhub.periodic" not in testing.extensions
    off = create_app({"PERIODIC": False}, instance=instance)
    assert "fabhub.periodic" not in off.extensions
    live = create_app({"LEDGER_CHECKPOINT_INTERVAL_S": 3600}, instance=instance)
    try:
        assert live.extensions["fabhub.periodic"].running
    finally:
        live.extensions["fabhub.periodic"].shutdown()


def test_a_bad_interval_is_refused(instance: Path) -> None:
    with pytest.raises(ValueError, match="interval must be positive"):
        periodic.Periodic(instance).register("x", lambda: None, 0)
    (instance / "config.toml").write_text("ledger_checkpoint_interval_s = 0\n")
    with pytest.raises(config.ConfigError,
                       match="ledger_checkpoint_interval_s = 0 is out of range"):
        create_app(instance=instance)
