"""A process killed with SIGKILL mid-write leaves a consistent, intact database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fabhub.db import connect
from fabhub.instance import init_instance

WRITER = r"""
import sys
from fabhub.db import connect
db = connect(sys.argv[1])
db.execute("CREATE TABLE IF NOT EXISTS pairs (id INTEGER PRIMARY KEY, n INTEGER, blob BLOB)")
db.execute("CREATE TABLE IF NOT EXISTS totals (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER)")
db.execute("INSERT OR IGNORE INTO totals VALUES (1, 0)")
db.conn.commit()
print("ready", flush=True)
i = 0
while True:
    i += 1
    with db.atomic():
        # Each transaction writes several pages: a torn write would break the invariant.
        db.execute("INSERT INTO pairs (n, blob) VALUES (?, randomblob(3000))", [i])
        db.execute("INSERT INTO pairs (n, blob) VALUES (?, randomblob(3000))", [-i])
        db.execute("UPDATE totals SET n = n + 2 WHERE id = 1")
"""


def test_sigkill_mid_write_leaves_database_consistent(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    init_instance(instance)
    database = instance / "fabhub.sqlite3"
    for delay in (0.05, 0.2, 0.37, 0.6):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(database)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        db = connect(database)
        try:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            rows = db.execute("SELECT count(*), coalesce(sum(n), 0) FROM pairs").fetchone()
            total = db.execute("SELECT n FROM totals").fetchone()[0]
            assert rows[0] == total, "a transaction was half applied"
            assert rows[1] == 0, "a pair was split"
            assert rows[0] > 0
            assert db.execute("SELECT count(*) FROM members").fetchone()[0] == 0
        finally:
            db.conn.close()
