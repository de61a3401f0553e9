"""The hub's safety and accounting promises, tried by random sequences of events.

A hypothesis rule-based state machine drives the hub's real functions (the ones the
node API, the gatekeeper pages and the periodic jobs call) on a real SQLite database,
under a clock the test moves: uploads, scheduling passes, heartbeats and silences,
claims, starts and progress, honest and forged end reports, emergency stops,
maintenance and to-check, bed-clear confirmations, cancels, lease expiries and hub
restarts. After every step it checks:

- no job is claimed or started on a machine that is not in service;
- every FDM job that streamed and then ended, however, leaves its machine needing
  clearing until a person confirms it;
- no job stays assigned, unclaimed, to a machine out of service, and none outlives
  its lease on a silent machine once the reapers ran;
- each job's ledger seconds are at most the hub-observed interval plus the tolerance;
- every job and machine state change is recorded, in order, with its actor.

CI runs a bounded number of examples with a fixed seed; set FABHUB_INVARIANT_EXAMPLES
(e.g. 2000) for the longer release check described in the README.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import hypothesis.strategies as st
import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, seed, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from fabhub import members
from fabhub.clock import utc_now, utc_now_iso
from fabhub.db import Database, connect
from fabhub.instance import init_instance
from fabhub.jobqueue import access, classes, jobs, machines
from fabhub.jobqueue.scheduler import SchedulerSettings, run_pass
from fabhub.jobs.machine_profile import example_profile
from fabhub.jobs.receipts import UsageReceipt, sign_receipt, utc_timestamp
from fabhub.jobs.states import IN_SERVICE, STICKY, MachineState
from fabhub.ledger.receipt_bounds import CLOCK_SKEW_TOLERANCE_S
from fabhub.nodes import registry, runs
from fabhub.nodes.silence import reap_silent
from fabhub.problems import Problem
from tests.hub.queue_fixtures import FixedUsage

LEASE_S = 60.0
SILENT_S = 90.0
PROFILES = ("fdm-marlin", "laser-grbl")
EXAMPLES = int(os.environ.get("FABHUB_INVARIANT_EXAMPLES", "150"))
SEED = int(os.environ.get("FABHUB_INVARIANT_SEED", "20261207"))
JOB_ACTORS = {"member", "node", "system", "scheduler"}
MACHINE_ACTORS = {"member", "node", "system"}
START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
# Examples write thousands of small transactions: keep them in memory where Linux offers it.
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") else None
UPLOADS = {
    "fdm-marlin": b"M104 S210\nM140 S60\nG28\nG90\nM83\nG1 Z0.2 F600\nG1 X10 Y10 F3000\n"
                  b"G1 X30 Y10 E1.0 F1200\nG1 X30 Y30 E1.0\nM104 S0\n",
    "laser-grbl": b"G21\nG90\nM4 S0\nG0 X5 Y5\nG1 X20 Y5 S300 F1500\nG1 X20 Y20\nM5\n",
}


def build_template(folder: Path) -> Path:
    """An instance with a maker, a gatekeeper, one machine per profile and an enrolled node
    each; returns the folder (examples copy its database instead of hashing passwords)."""
    init_instance(folder)
    db = connect(folder / "fabhub.sqlite3")
    maker = members.add_member(db, "maker", "maker password 1", "maker", "Maker")
    gate = members.add_member(db, "gate", "gate password 1", "gatekeeper", "Gate")
    for n, name in enumerate(PROFILES):
        profile = example_profile(name)
        classes.add_machine_class(db, profile.machine_class, profile.kind)
        access.certify(db, maker.id, profile.machine_class, gate.id)
        machine = machines.add_machine(db, name, profile, gate.id)
        _, code = registry.register(db, machine.id, f"node {n}", gate.id)
        key = Ed25519PrivateKey.from_private_bytes(bytes([n + 1]) * 32)
        public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        registry.enroll(db, code, base64.b64encode(public).decode(), f"pi-{n}", "test")
    db.conn.close()
    return folder


@seed(SEED)
class HubUnderFaults(RuleBasedStateMachine):
    """The hub's functions under random events; see the module docstring."""

    template: Path
    reached: ClassVar[Counter[str]] = Counter()  # what the examples got to, checked after the run

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="fabhub-invariants-", dir=SCRATCH))
        shutil.copy(self.template / "fabhub.sqlite3", self.folder / "fabhub.sqlite3")
        self.clock = time_machine.travel(START, tick=False)
        self.traveller = self.clock.start()
        self.db = connect(self.folder / "fabhub.sqlite3")
        self.maker = members.require_member(self.db, "maker")
        self.gate = members.require_member(self.db, "gate")
        self.nodes = {n.machine_id: n for n in registry.list_nodes(self.db)}
        self.keys = {n.machine_id: Ed25519PrivateKey.from_private_bytes(bytes([i + 1]) * 32)
                     for i, n in enumerate(sorted(self.nodes.values(), key=lambda n: n.id))}
        self.machine_ids = sorted(self.nodes)
        self.profiles = {m.id: m.profile for m in machines.list_machines(self.db)}
        self.batches: dict[int, int] = {}
        self.started: set[int] = set()
        self.must_clear: set[int] = set()
        self.observed_until: dict[int, float] = {}
        self.not_before = time.time()
        self.alive = dict.fromkeys(self.machine_ids, True)
        self.seen = {m: self.state_of(m) for m in self.machine_ids}
        self.released_by_person: set[int] = set()

    def teardown(self) -> None:
        """Close the database, stop the clock, remove the folder."""
        self.db.conn.close()
        self.clock.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    # ---- helpers -------------------------------------------------------------------------

    def state_of(self, machine_id: int) -> MachineState:
        row = self.db.execute("SELECT state FROM machines WHERE id = ?", [machine_id]).fetchone()
        return MachineState(row[0])

    def claimed_job(self, machine_id: int, states: tuple[str, ...]) -> int | None:
        row = self.db.execute(
            f"SELECT j.id FROM jobs j JOIN job_runs r ON r.job_id = j.id "
            f"WHERE j.machine_id = ? AND r.node_id = ? AND r.outcome IS NULL "
            f"AND j.state IN ({', '.join('?' for _ in states)}) ORDER BY j.id DESC LIMIT 1",
            [machine_id, self.nodes[machine_id].id, *states]).fetchone()
        return row[0] if row else None

    def batch(self, machine_id: int, job_id: int, events: list[dict[str, Any]]) -> bool:
        number = self.batches.get(job_id, 0) + 1
        try:
            runs.apply_batch(self.db, self.nodes[machine_id], job_id, number,
                             [{"at": utc_timestamp(utc_now()), **e} for e in events], LEASE_S)
        except Problem:
            return False
        self.batches[job_id] = number
        return True

    def streamed(self, job_id: int) -> bool:
        row = self.db.execute("SELECT j.started_at, COALESCE(r.lines_acked, 0) FROM jobs j "
                              "LEFT JOIN job_runs r ON r.job_id = j.id WHERE j.id = ?",
                              [job_id]).fetchone()
        return row[0] is not None or row[1] > 0

    def note_ended(self, machine_id: int, job_id: int) -> None:
        if self.profiles[machine_id].confirm_bed_clear and self.streamed(job_id):
            self.must_clear.add(machine_id)

    # ---- rules ---------------------------------------------------------------------------

    @initialize()
    def lab_opens(self) -> None:
        """Both nodes report their machines idle and a job waits for each."""
        for index, which in enumerate(PROFILES):
            self.heartbeat(index, MachineState.IDLE)
            self.upload(which, 0)

    @rule(which=st.sampled_from(PROFILES), copy=st.integers(0, 3))
    def upload(self, which: str, copy: int) -> None:
        profile = example_profile(which)
        material = profile.materials[0].name if profile.materials else None
        text = UPLOADS[which] + f"; copy {copy}\n".encode()
        jobs.submit_job(self.db, self.folder / "files", self.maker, io.BytesIO(text),
                        jobs.Submission(profile.machine_class, f"{which}.gcode",
                                        material=material), 1 << 20)

    @rule()
    def scheduling_pass(self) -> None:
        run_pass(self.db, utc_now(), SchedulerSettings(), FixedUsage())

    @rule(index=st.integers(0, 1), reported=st.sampled_from(sorted(registry.REPORTABLE)))
    def node_reports_any_state(self, index: int, reported: MachineState) -> None:
        """A node reports whatever it likes (a confused or hostile node)."""
        self.heartbeat(index, reported)

    def heartbeat(self, index: int, reported: MachineState) -> None:
        machine_id = self.machine_ids[index]
        registry.heartbeat(self.db, self.nodes[machine_id], reported.value, {})

    @rule(index=st.integers(0, 1), alive=st.booleans())
    def network(self, index: int, alive: bool) -> None:
        """A node is cut off from the hub (it stays silent) or comes back."""
        self.alive[self.machine_ids[index]] = alive

    @rule(seconds=st.sampled_from([5, 30, 61, 95, 400]), run_periodic=st.booleans())
    def time_passes(self, seconds: int, run_periodic: bool) -> None:
        """The clock moves; nodes that reach the hub heartbeat and report on their jobs as
        real ones do, and the periodic jobs (reapers, then a pass) may run at its end."""
        self.traveller.shift(timedelta(seconds=seconds))
        for index, machine_id in enumerate(self.machine_ids):
            if self.alive[machine_id]:
                self.honest_node_works(index)
        if run_periodic:
            self.periodic_jobs()

    def honest_node_works(self, index: int) -> None:
        """What a node's loop does: report on its job (ending it after two minutes), or
        claim and start the next one; then heartbeat the state it really is in."""
        machine_id = self.machine_ids[index]
        job_id = self.claimed_job(machine_id, ("running", "paused"))
        if job_id is not None:
            job = jobs.get_job(self.db, job_id)
            self.batch(machine_id, job_id, [{"type": "progress", "lines_acked": 60,
                                             "lines_total": 100, "percent": 60.0}])
            started = datetime.fromisoformat(job.started_at.replace("Z", "+00:00"))
            if utc_now() - started >= timedelta(minutes=2):
                self.end_report(index, "completed", False, None, 100)
        elif self.claimed_job(machine_id, ("assigned",)) is None:
            self.node_claims(index, 10, True)
        else:
            self.node_starts(index, 10)
        job_id = self.claimed_job(machine_id, ("running", "paused"))
        state = jobs.get_job(self.db, job_id).state.value if job_id else "idle"
        self.heartbeat(index, MachineState({"running": "busy"}.get(state, state)))

    @rule()
    def periodic_jobs(self) -> None:
        now = time.time()
        for job_id in runs.reap_expired(self.db, now, self.not_before + LEASE_S):
            self.reached["lease expired"] += 1
            machine_id = jobs.get_job(self.db, job_id).machine_id
            self.note_ended(machine_id, job_id)
        self.reached["silent"] += len(reap_silent(self.db, now, SILENT_S,
                                                  self.not_before + SILENT_S))
        self.reaped_at = now
        self.scheduling_pass()

    @rule()
    def hub_restarts(self) -> None:
        self.db.conn.close()
        self.db = connect(self.folder / "fabhub.sqlite3")
        self.not_before = time.time()

    @rule(index=st.integers(0, 1), lines=st.integers(0, 50), then_start=st.booleans())
    def node_claims(self, index: int, lines: int, then_start: bool) -> None:
        """The node asks for its job and, like a real node, may start it at once."""
        machine_id = self.machine_ids[index]
        before = self.state_of(machine_id)
        claimed = runs.claim(self.db, self.nodes[machine_id], LEASE_S)
        if claimed is not None:
            self.reached["claim"] += 1
            assert before is MachineState.IDLE, f"job claimed on a {before} machine"
            assert machine_id not in self.must_clear
            if then_start:
                self.node_starts(index, lines)

    @rule(index=st.integers(0, 1), lines=st.integers(0, 50))
    def node_starts(self, index: int, lines: int) -> None:
        machine_id = self.machine_ids[index]
        job_id = self.claimed_job(machine_id, ("assigned",))
        if job_id is None:
            return
        before = self.state_of(machine_id)
        events = [{"type": "started"}]
        if lines:
            events.append({"type": "progress", "lines_acked": lines, "lines_total": 100,
                           "percent": float(lines)})
        if self.batch(machine_id, job_id, events):
            self.reached["start"] += 1
            assert before not in STICKY, f"job started on a {before} machine"
            assert machine_id not in self.must_clear

    @rule(index=st.integers(0, 1), pause=st.booleans())
    def pause_or_resume(self, index: int, pause: bool) -> None:
        machine_id = self.machine_ids[index]
        job_id = self.claimed_job(machine_id, ("running", "paused"))
        if job_id is not None:
            self.batch(machine_id, job_id, [{"type": "paused" if pause else "resumed"}])

    @rule(index=st.integers(0, 1), outcome=st.sampled_from(runs.OUTCOMES),
          emergency=st.booleans(), lines=st.integers(0, 100))
    def node_ends_job(self, index: int, outcome: str, emergency: bool, lines: int) -> None:
        """An honest end report: the receipt covers the time since the claim."""
        self.end_report(index, outcome, emergency, None, lines)

    @rule(index=st.integers(0, 1), outcome=st.sampled_from(runs.OUTCOMES),
          forged=st.sampled_from(["centuries", "busy", "early"]), lines=st.integers(0, 100))
    def node_forges_receipt(self, index: int, outcome: str, forged: str, lines: int) -> None:
        """A node (or whoever holds its key) claims more machine time than the hub saw."""
        self.end_report(index, outcome, False, forged, lines)

    def end_report(self, index: int, outcome: str, emergency: bool, forged: str | None,
                   lines: int) -> None:
        machine_id = self.machine_ids[index]
        job_id = self.claimed_job(machine_id, ("assigned", "running", "paused", "interrupted"))
        if job_id is None:
            return
        job = jobs.get_job(self.db, job_id)
        claimed_at = self.db.execute("SELECT claimed_at FROM job_runs WHERE job_id = ?",
                                     [job_id]).fetchone()[0]
        start = datetime.fromisoformat(claimed_at.replace("Z", "+00:00")).replace(microsecond=0)
        end = utc_now().replace(microsecond=0)
        if start > end:
            start = end
        busy = int((end - start).total_seconds())
        if forged == "centuries":
            start, end = datetime(2000, 1, 1, tzinfo=UTC), datetime(2099, 12, 31, tzinfo=UTC)
            busy = int((end - start).total_seconds())
        elif forged == "early":
            start -= timedelta(hours=5)
            busy = int((end - start).total_seconds())
        elif forged == "busy":
            start -= timedelta(hours=1)
            busy = int((end - start).total_seconds())
        signed = sign_receipt(UsageReceipt(
            job_id=job_id, node_id=self.nodes[machine_id].id, machine_id=machine_id,
            file_sha256=job.file_sha256, started_at=utc_timestamp(start),
            ended_at=utc_timestamp(end), busy_s=busy, paused_s=0, material_mg=100,
            outcome=outcome), self.keys[machine_id])
        try:
            runs.end_job(self.db, self.nodes[machine_id], job_id, {
                "outcome": outcome, "lines_acked": lines, "emergency_stop": emergency,
                "receipt": signed.to_dict()})
        except Problem:
            self.reached["end refused"] += 1
            return
        self.reached["end accepted" if forged is None else "forged accepted"] += 1
        self.observed_until[job_id] = time.time()
        self.note_ended(machine_id, job_id)

    @rule(index=st.integers(0, 1),
          wanted=st.sampled_from(["idle", "maintenance", "idle", "to_check"]))
    def gatekeeper_sets(self, index: int, wanted: str) -> None:
        machine_id = self.machine_ids[index]
        try:
            machines.set_manual_state(self.db, machine_id, wanted, "property test",
                                      self.gate.id)
        except Problem:
            return
        if wanted == "idle":
            self.must_clear.discard(machine_id)
        self.released_by_person.add(machine_id)

    @rule(index=st.integers(0, 1))
    def bed_cleared(self, index: int) -> None:
        machine_id = self.machine_ids[index]
        try:
            machines.confirm_cleared(self.db, machine_id, self.gate.id)
        except Problem:
            return
        self.must_clear.discard(machine_id)
        self.released_by_person.add(machine_id)

    @rule(waiting=st.sampled_from(["queued", "assigned"]))
    def maker_cancels(self, waiting: str) -> None:
        row = self.db.execute("SELECT id FROM jobs WHERE state = ? ORDER BY id DESC LIMIT 1",
                              [waiting]).fetchone()
        if row is None:
            return
        try:
            jobs.cancel_job(self.db, row[0], self.maker)
        except Problem:
            return

    # ---- invariants ----------------------------------------------------------------------

    @invariant()
    def out_of_service_machines_hold_no_job(self) -> None:
        for machine_id in self.machine_ids:
            state = self.state_of(machine_id)
            active = self.db.execute(
                "SELECT j.id, j.state, r.job_id IS NOT NULL FROM jobs j "
                "LEFT JOIN job_runs r ON r.job_id = j.id "
                "WHERE j.machine_id = ? AND j.state IN ('assigned', 'running', 'paused')",
                [machine_id]).fetchall()
            if state in STICKY:
                assert not active, f"{state} machine {machine_id} holds jobs {active}"
            unclaimed = [row[0] for row in active if not row[2]]
            if state not in IN_SERVICE:
                assert not unclaimed, f"jobs {unclaimed} wait on a {state} machine"

    @invariant()
    def only_a_person_leaves_a_state_a_person_must_end(self) -> None:
        for machine_id in self.machine_ids:
            before, now = self.seen[machine_id], self.state_of(machine_id)
            if before in STICKY and now not in STICKY:
                assert machine_id in self.released_by_person, (
                    f"machine {machine_id} left {before} for {now} without a person")
            self.seen[machine_id] = now
        self.released_by_person.clear()

    @invariant()
    def streamed_fdm_jobs_leave_the_bed_to_clear(self) -> None:
        for machine_id in self.must_clear:
            state = self.state_of(machine_id)
            assert state in STICKY, f"machine {machine_id} must be cleared but is {state}"

    @invariant()
    def no_job_outlives_its_lease_after_the_reapers(self) -> None:
        reaped_at = getattr(self, "reaped_at", None)
        if reaped_at is None or reaped_at < self.not_before + LEASE_S:
            return
        late = self.db.execute(
            "SELECT j.id FROM jobs j JOIN job_runs r ON r.job_id = j.id "
            "WHERE j.state IN ('assigned', 'running', 'paused') AND r.lease_expires_epoch < ?",
            [reaped_at]).fetchall()
        assert not late, f"jobs {late} outlived their lease"

    @invariant()
    def ledger_seconds_within_what_the_hub_saw(self) -> None:
        rows = self.db.execute(
            "SELECT f.job_id, f.seconds, r.claimed_at FROM ledger_facts f "
            "JOIN job_runs r ON r.job_id = f.job_id WHERE f.action = 'use'").fetchall()
        for job_id, seconds, claimed_at in rows:
            claimed = datetime.fromisoformat(claimed_at.replace("Z", "+00:00")).timestamp()
            observed = self.observed_until[job_id] - claimed
            assert seconds <= observed + CLOCK_SKEW_TOLERANCE_S, (
                f"job {job_id}: {seconds} s in the ledger, the hub saw {observed:.0f} s")
        unclaimed = self.db.execute(
            "SELECT f.job_id FROM ledger_facts f LEFT JOIN job_runs r ON r.job_id = f.job_id "
            "WHERE f.action = 'use' AND r.job_id IS NULL").fetchall()
        assert not unclaimed, f"use entries for jobs no node claimed: {unclaimed}"

    @invariant()
    def every_state_change_is_recorded_with_its_actor(self) -> None:
        for table, events, key, actors in (
                ("jobs", "job_events", "job_id", JOB_ACTORS),
                ("machines", "machine_events", "machine_id", MACHINE_ACTORS)):
            current = dict(self.db.execute(f"SELECT id, state FROM {table}").fetchall())
            last: dict[int, str] = {}
            for owner, old, new, actor in self.db.execute(
                    f"SELECT {key}, from_state, to_state, actor_kind FROM {events} ORDER BY id"):
                assert actor in actors, f"{events}: unknown actor {actor!r}"
                if old == new:
                    continue  # a note on the history (a boost), not a move
                assert old == last.get(owner), f"{events} of {owner}: {old} after {last.get(owner)}"
                last[owner] = new
            assert last == current, f"{table}: recorded {last}, stored {current}"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The instance every example starts from."""
    return build_template(tmp_path_factory.mktemp("invariants") / "instance")


def test_hub_keeps_its_promises_under_random_faults(template: Path) -> None:
    HubUnderFaults.template = template
    runner = HubUnderFaults.TestCase
    runner.settings = settings(max_examples=EXAMPLES, stateful_step_count=50, deadline=None,
                               derandomize=True, database=None,
                               suppress_health_check=[HealthCheck.too_slow])
    HubUnderFaults.reached.clear()
    runner().runTest()
    reached = HubUnderFaults.reached
    print(dict(reached))
    for what in ("claim", "start", "end accepted", "end refused", "lease expired", "silent"):
        assert reached[what] > 0, f"no example reached {what!r}: {dict(reached)}"


def test_the_clock_starts_where_the_examples_expect() -> None:
    """utc_now_iso follows the travelling clock (the machine relies on it)."""
    with time_machine.travel(START, tick=False):
        assert utc_now_iso().startswith("2026-06-01T08:00:00")
        assert isinstance(connect(":memory:"), Database)
