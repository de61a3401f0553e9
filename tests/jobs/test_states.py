"""The job transition table is the only way a job changes state."""

from __future__ import annotations

import itertools

import pytest

from fabhub.jobs.states import (
    JOB_TRANSITIONS,
    TERMINAL_STATES,
    IllegalTransition,
    JobState,
    check_transition,
)


def test_terminal_states_go_nowhere() -> None:
    assert TERMINAL_STATES == {JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED,
                               JobState.REJECTED}
    for state in TERMINAL_STATES:
        for target in JobState:
            with pytest.raises(IllegalTransition, match="it has ended"):
                check_transition(state, target)


def test_every_pair_follows_the_table() -> None:
    for source, target in itertools.product([None, *JobState], JobState):
        if target in JOB_TRANSITIONS[source]:
            assert check_transition(source, target) is target
        else:
            with pytest.raises(IllegalTransition):
                check_transition(source, target)


def test_every_state_is_reachable_from_submission() -> None:
    seen: set[JobState] = set()
    frontier: list[JobState | None] = [None]
    while frontier:
        for target in JOB_TRANSITIONS[frontier.pop()]:
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(JobState)


def test_error_names_both_states_and_the_way_out() -> None:
    with pytest.raises(IllegalTransition) as info:
        check_transition("queued", "completed")
    assert "a queued job cannot become completed" in str(info.value)
    assert "assigned" in str(info.value)
