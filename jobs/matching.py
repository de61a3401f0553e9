"""The matcher: which waiting job goes to which free machine, and why others wait.

Pure code over plain data, so that it can be property-tested and benchmarked
without a database. A scheduling pass (:func:`schedule`) takes the waiting jobs
with their priorities, the machines, certifications, reservations and quota
room, and returns assignments plus one :class:`WaitReason` per job left waiting.

Hard requirements are predicates over a (job, machine) pair, checked in order;
the first that fails names the reason. Static fit (kind, envelope against the
job's bounds, material and nozzle, temperature and power limits) is decided
once per job and machine profile by the G-code validator and arrives here as
``WaitingJob.unfit_machines``. Among the machines that pass, the rank prefers
the material already loaded, then the member's preferred machine, then the
lowest machine id (a stable choice).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from fabhub.jobs.states import MachineState


class Reservation(NamedTuple):
    """A member's booking of a machine for ``[start, end)`` (epoch seconds, UTC)."""

    machine_id: int
    member_id: int
    start: float
    end: float


class MachineSlot(NamedTuple):
    """A machine as the matcher sees it."""

    id: int
    machine_class: str
    state: MachineState
    loaded_material: str | None = None
    busy_until: float | None = None  # expected end of the current job, epoch seconds


class WaitingJob(NamedTuple):
    """A queued job as the matcher sees it; ``priority`` is already computed.

    (Named tuples rather than dataclasses: a pass builds ten thousand of them.)
    """

    id: int
    member_id: int
    machine_class: str
    duration_s: float
    submitted_at: float
    priority: float
    material: str | None = None
    preferred_machine_id: int | None = None
    unfit_machines: frozenset[int] = frozenset()
    unfit_reason: str = ""


# Every code a :class:`WaitReason` may carry; pages translate by code and details.
WAIT_CODES = ("machines_busy", "machines_unavailable", "no_machine_in_class", "not_certified",
              "over_quota", "no_fitting_machine", "reserved")


@dataclass(frozen=True)
class WaitReason:
    """Why a job is not running yet: a stable code, a sentence for the maker, details."""

    code: str
    message: str
    details: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse a code missing from :data:`WAIT_CODES`."""
        if self.code not in WAIT_CODES:
            raise ValueError(f"unknown wait code {self.code!r}; add it to WAIT_CODES")


@dataclass(frozen=True)
class PassInput:
    """Everything one scheduling pass looks at."""

    now: float
    jobs: tuple[WaitingJob, ...]
    machines: tuple[MachineSlot, ...]
    certified: Mapping[int, frozenset[str]]  # member id -> machine classes valid now
    reservations: tuple[Reservation, ...] = ()
    # (member id, machine class) -> seconds of machine time left this week; absent = no limit
    weekly_room_s: Mapping[tuple[int, str], float] = field(default_factory=dict)
    known_classes: frozenset[str] | None = None
    _bookings: dict[int, tuple[Reservation, ...]] = field(init=False, repr=False,
                                                          compare=False)

    def __post_init__(self) -> None:
        grouped: dict[int, list[Reservation]] = defaultdict(list)
        for booking in self.reservations:
            grouped[booking.machine_id].append(booking)
        object.__setattr__(self, "_bookings",
                           {machine: tuple(items) for machine, items in grouped.items()})

    def bookings_of(self, machine_id: int) -> tuple[Reservation, ...]:
        """The reservations of one machine (indexed once, when the input is made)."""
        return self._bookings.get(machine_id, ())


@dataclass(frozen=True)
class PassResult:
    """The assignments made and the reason for every job left waiting, in priority order.

    ``ahead`` counts, per waiting job, the jobs of higher priority that wait for the
    same machine class; waiting jobs share :class:`WaitReason` objects where their
    reason is the same.
    """

    assignments: tuple[tuple[int, int], ...]  # (job id, machine id)
    reasons: Mapping[int, WaitReason]
    order: tuple[int, ...]  # job ids, highest priority first
    ahead: Mapping[int, int] = field(default_factory=dict)


def queue_order(jobs: Iterable[WaitingJob]) -> list[WaitingJob]:
    """Highest priority first; equal priority first come, first served."""
    return sorted(jobs, key=lambda j: (-j.priority, j.submitted_at, j.id))


def reservation_blocks(
    job: WaitingJob, machine_id: int, now: float, reservations: Iterable[Reservation]
) -> Reservation | None:
    """The reservation that keeps ``job`` off the machine now, if any.

    In a slot only its member's jobs run; before a slot another job may start
    only if its estimate ends by the slot's start (backfill).
    """
    end = now + job.duration_s
    for booking in reservations:
        if booking.machine_id != machine_id or booking.member_id == job.member_id:
            continue
        if booking.start <= now < booking.end:
            return booking
        if now < booking.start < end:
            return booking
    return None


PairPredicate = Callable[[WaitingJob, MachineSlot, PassInput], str | None]


def _same_class(job: WaitingJob, machine: MachineSlot, _: PassInput) -> str | None:
    return None if job.machine_class == machine.machine_class else "wrong_class"


def _certified(job: WaitingJob, _: MachineSlot, data: PassInput) -> str | None:
    allowed = data.certified.get(job.member_id, frozenset())
    return None if job.machine_class in allowed else "not_certified"


def _static_fit(job: WaitingJob, machine: MachineSlot, _: PassInput) -> str | None:
    return "does_not_fit" if machine.id in job.unfit_machines else None


def _idle(_: WaitingJob, machine: MachineSlot, __: PassInput) -> str | None:
    return None if machine.state is MachineState.IDLE else "machine_" + machine.state.value


def _not_reserved(job: WaitingJob, machine: MachineSlot, data: PassInput) -> str | None:
    bookings = data.bookings_of(machine.id)
    return "reserved" if bookings and reservation_blocks(job, machine.id, data.now,
                                                         bookings) else None


# The hard requirements, in the order they are checked.
HARD_REQUIREMENTS: tuple[PairPredicate, ...] = (
    _same_class, _certified, _static_fit, _idle, _not_reserved,
)


def first_failure(job: WaitingJob, machine: MachineSlot, data: PassInput) -> str | None:
    """The code of the first hard requirement that ``machine`` fails for ``job``, or None."""
    for predicate in HARD_REQUIREMENTS:
        failure = predicate(job, machine, data)
        if failure:
            return failure
    return None


def rank_key(job: WaitingJob, machine: MachineSlot) -> tuple[int, int, int]:
    """Sort key among machines that pass: loaded material, preferred machine, lowest id."""
    material_loaded = job.material is not None and machine.loaded_material == job.material
    return (0 if material_loaded else 1, 0 if machine.id == job.preferred_machine_id else 1,
            machine.id)


_WORKING = frozenset({MachineState.BUSY, MachineState.PAUSED, MachineState.IDLE})


def unavailable_reason(machines: list[MachineSlot]) -> WaitReason:
    """Why none of ``machines`` (the ones that fit a job) can take it now."""
    etas = [m.busy_until for m in machines if m.busy_until is not None]
    states = sorted({m.state.value for m in machines})
    details: dict[str, object] = {"machines": len(machines), "states": states}
    if etas:
        details["eta"] = min(etas)
    if all(m.state in _WORKING for m in machines):
        return WaitReason("machines_busy",
                          f"All {len(machines)} fitting machine(s) are busy.", details)
    listed = ", ".join(states).replace("_", " ")
    return WaitReason("machines_unavailable",
                      f"No fitting machine is available now ({listed}).", details)


def schedule(data: PassInput) -> PassResult:
    """Assign the highest-priority job that fits to each free machine; explain the rest."""
    order = queue_order(data.jobs)
    by_class: dict[str, list[MachineSlot]] = defaultdict(list)
    for machine in data.machines:
        by_class[machine.machine_class].append(machine)
    free: dict[str, list[MachineSlot]] = {
        cls: [m for m in machines if m.state is MachineState.IDLE]
        for cls, machines in by_class.items()
    }
    room = dict(data.weekly_room_s)
    ahead: dict[str, int] = defaultdict(int)
    waiting_ahead: dict[int, int] = {}
    assignments: list[tuple[int, int]] = []
    reasons: dict[int, WaitReason] = {}
    summaries: dict[str, WaitReason] = {}
    for job in order:
        reason = _job_level_reason(job, data, by_class, room)
        if reason is None:
            machine, reason = _pick_machine(job, data, free.get(job.machine_class, []),
                                            by_class[job.machine_class], summaries)
            if machine is not None:
                assignments.append((job.id, machine.id))
                free[job.machine_class].remove(machine)
                key = (job.member_id, job.machine_class)
                if key in room:
                    room[key] -= job.duration_s
                continue
        assert reason is not None
        reasons[job.id] = reason
        waiting_ahead[job.id] = ahead[job.machine_class]
        ahead[job.machine_class] += 1
    return PassResult(tuple(assignments), reasons, tuple(j.id for j in order), waiting_ahead)


@lru_cache(maxsize=1024)
def _class_reason(code: str, machine_class: str) -> WaitReason:
    """The shared reason object for a class-wide obstacle (one per class and code)."""
    messages = {
        "no_machine_in_class": f"The lab has no machine of class {machine_class!r}.",
        "not_certified": f"You are not certified for {machine_class!r} machines yet; "
                         "ask a gatekeeper.",
    }
    return WaitReason(code, messages[code], {"machine_class": machine_class})


def _job_level_reason(
    job: WaitingJob, data: PassInput, by_class: Mapping[str, list[MachineSlot]],
    room: Mapping[tuple[int, str], float],
) -> WaitReason | None:
    """Reasons that hold for every machine: unknown class, certification, quota, no fit."""
    cls = job.machine_class
    if (data.known_classes is not None and cls not in data.known_classes) or cls not in by_class:
        return _class_reason("no_machine_in_class", cls)
    if cls not in data.certified.get(job.member_id, ()):
        return _class_reason("not_certified", cls)
    left = room.get((job.member_id, cls))
    if left is not None and job.duration_s > left:
        return WaitReason("over_quota",
                          f"This job would take you over your weekly hours on {cls!r} machines.",
                          {"machine_class": cls, "room_s": max(left, 0.0),
                           "job_s": job.duration_s})
    if job.unfit_machines and all(m.id in job.unfit_machines for m in by_class[cls]):
        return WaitReason("no_fitting_machine",
                          job.unfit_reason or f"No {cls!r} machine can run this file.",
                          {"machine_class": cls})
    return None


def _pick_machine(
    job: WaitingJob, data: PassInput, free: list[MachineSlot], in_class: list[MachineSlot],
    summaries: dict[str, WaitReason],
) -> tuple[MachineSlot | None, WaitReason | None]:
    failures = [(m, first_failure(job, m, data)) for m in free]
    passing = [m for m, failure in failures if failure is None]
    if passing:
        return min(passing, key=lambda m: rank_key(job, m)), None
    reserved = [m for m, failure in failures if failure == "reserved"]
    if reserved and all(f in ("reserved", "does_not_fit") for _, f in failures):
        booking = reservation_blocks(job, reserved[0].id, data.now,
                                     data.bookings_of(reserved[0].id))
        assert booking is not None
        return None, WaitReason(
            "reserved", "The fitting idle machine(s) are reserved by another member.",
            {"machine_id": booking.machine_id, "until": booking.end},
        )
    if job.unfit_machines:
        return None, unavailable_reason([m for m in in_class if m.id not in job.unfit_machines])
    # Most jobs fit every machine of their class: they share the class's reason.
    if job.machine_class not in summaries:
        summaries[job.machine_class] = unavailable_reason(in_class)
    return None, summaries[job.machine_class]
