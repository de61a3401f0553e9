"""Benchmark: one full scheduling pass, for a federation-sized park and for a single lab.

Builds, in a temporary instance, (a) 10,000 queued jobs from 1,000 members on 500
machines of mixed kinds and (b) 200 jobs on 20 machines, with certifications,
reservations, quotas and a ledger of past use; then times full passes (load,
priorities from the ledger, matching, writing assignments and every job's reason).
Each repetition starts from a fresh copy of the same database, so every timed
pass has all machines idle and assigns as much as it can.

No peer is named by the issue for this figure; the pass is timed against its
targets (200 ms and 5 ms).

Run: .venv/bin/python bench/scheduler.py
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from fabhub.clock import iso_from_epoch, utc_now
from fabhub.db import opened
from fabhub.instance import init_instance
from fabhub.jobqueue.scheduler import SchedulerSettings, run_pass
from fabhub.jobs.machine_profile import dump_profile, example_profiles
from fabhub.jobs.receipts import utc_timestamp
from fabhub.ledger import store
from fabhub.ledger.entries import UseEvent
from fabhub.scheduling import LedgerUsage

REPEATS = 7


def seed_ledger(db, now, members: int, per_member: int, rnd: random.Random) -> int:
    """Append past ``use`` entries (the last 30 days) so fair share has history to read."""
    machine_ids = [r[0] for r in db.execute("SELECT id FROM machines")]
    events = []
    for member in range(1, members + 1):
        for _ in range(per_member):
            began = now - timedelta(days=rnd.uniform(0.5, 30))
            seconds = rnd.randint(600, 6 * 3600)
            events.append(UseEvent(member_id=member, machine_id=rnd.choice(machine_ids),
                                   seconds=seconds, began_at=utc_timestamp(began),
                                   ended_at=utc_timestamp(began + timedelta(seconds=seconds))))
    for start in range(0, len(events), 1000):
        store.append(db, events[start:start + 1000])
    return len(events)


def build(path: Path, jobs: int, members: int, machines: int, seed: int) -> None:
    """Fill an instance with members, classes, machines, certifications, ledger use and jobs."""
    rnd = random.Random(seed)
    init_instance(path)
    now = utc_now()
    stamp = iso_from_epoch(now.timestamp())
    profiles = list(example_profiles().values())
    classes = []
    with opened(path / "fabhub.sqlite3") as db, db.atomic():
        for profile in profiles:
            for size in ("a", "b", "c"):
                name = f"{profile.machine_class}-{size}"
                classes.append((name, profile))
                db.execute("INSERT INTO machine_classes (name, kind, weight) VALUES (?, ?, ?)",
                           [name, profile.kind, rnd.choice([1.0, 1.5, 2.0])])
        db.execute("INSERT INTO member_classes (name, weekly_hours_per_class) "
                   "VALUES ('student', 20)")
        db.conn.executemany(
            "INSERT INTO members (id, username, display_name, role, password_hash, created_at, "
            "member_class) VALUES (?, ?, ?, 'maker', 'x', ?, ?)",
            [(i, f"m{i}", f"m{i}", stamp, "student" if i % 5 == 0 else "member")
             for i in range(1, members + 1)])
        for i in range(machines):
            name, profile = classes[i % len(classes)]
            text = dump_profile(profile).replace(
                f'machine_class = "{profile.machine_class}"', f'machine_class = "{name}"')
            db.execute("INSERT INTO machines (name, machine_class, kind, state, profile_toml, "
                       "created_at) VALUES (?, ?, ?, 'idle', ?, ?)",
                       [f"machine-{i}", name, profile.kind, text, stamp])
        db.conn.executemany(
            "INSERT INTO certifications (member_id, machine_class, granted_by, granted_at) "
            "VALUES (?, ?, 1, ?)",
            [(m, name, stamp) for m in range(1, members + 1)
             for name, _ in rnd.sample(classes, k=6)])
        db.execute("INSERT INTO files (sha256, size, analysis_json, analysis_version, "
                   "created_at) VALUES (?, 1, '{}', 0, ?)", ["0" * 64, stamp])
        rows = []
        for _ in range(jobs):
            submitted = now - timedelta(seconds=rnd.uniform(0, 3 * 86400))
            name, profile = rnd.choice(classes)
            rows.append((rnd.randint(1, members), "0" * 64, name,
                         "PLA" if profile.kind == "fdm" else None, rnd.uniform(300, 8 * 3600),
                         iso_from_epoch(submitted.timestamp()), submitted.timestamp(), stamp))
        db.conn.executemany(
            "INSERT INTO jobs (member_id, file_sha256, name, machine_class, material, state, "
            "estimated_s, analysis_version, submitted_at, submitted_epoch, updated_at) "
            "VALUES (?, ?, 'bench', ?, ?, 'queued', ?, 0, ?, ?, ?)", rows)
        machine_ids = [r[0] for r in db.execute("SELECT id FROM machines")]
        for machine_id in rnd.sample(machine_ids, k=max(1, machines // 10)):
            start = now + timedelta(hours=rnd.uniform(0.5, 12))
            db.execute("INSERT INTO reservations (machine_id, member_id, starts_at, ends_at, "
                       "start_epoch, end_epoch, created_by, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, 1, ?)",
                       [machine_id, rnd.randint(1, members), iso_from_epoch(start.timestamp()),
                        iso_from_epoch(start.timestamp() + 7200), start.timestamp(),
                        start.timestamp() + 7200, stamp])
    with opened(path / "fabhub.sqlite3") as db:
        entries = seed_ledger(db, now, members, per_member=5, rnd=rnd)
    print(f"built {jobs} queued jobs, {members} members, {machines} machines, "
          f"{entries} ledger entries")


def time_pass(template: Path, work: Path) -> tuple[float, int, int]:
    """Copy the template database, run one pass on it; return ms, waiting and assigned."""
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(template, work)
    with opened(work / "fabhub.sqlite3") as db:
        # A hub's connection is warm: read the schema before the clock starts.
        db.execute("SELECT count(*) FROM jobs").fetchone()
        started = time.perf_counter()
        summary = run_pass(db, utc_now(), SchedulerSettings(), LedgerUsage())
        elapsed = (time.perf_counter() - started) * 1000
    return elapsed, summary.waiting, len(summary.assigned)


def measure(label: str, jobs: int, members: int, machines: int, root: Path) -> float:
    """Median full-pass time in ms for one scenario; prints each repetition."""
    template = root / f"{label}-template"
    build(template, jobs, members, machines, seed=jobs)
    times = []
    for i in range(REPEATS):
        ms, waiting, assigned = time_pass(template, root / f"{label}-run")
        times.append(ms)
        print(f"{label}: pass {i + 1}: {ms:8.2f} ms  ({waiting} queued, {assigned} assigned)")
    median = statistics.median(times)
    print(f"{label}: median {median:.2f} ms over {REPEATS} passes")
    return median


def main() -> None:
    """Run both scenarios and print the JSON summary last."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        big = measure("10k_500", 10_000, 1_000, 500, root)
        small = measure("200_20", 200, 50, 20, root)
    sys.stdout.flush()
    print(json.dumps({"pass_ms_10k_500": round(big, 2), "pass_ms_200_20": round(small, 2)}))


if __name__ == "__main__":
    main()
