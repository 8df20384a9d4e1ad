"""States: constructors, names, the transition function and State.result()."""

from __future__ import annotations

import time

import pytest

from floq.errors import (
    CancelledRunError,
    CrashedRunError,
    FloqError,
    RunError,
    TaskRunTimeout,
    UpstreamFailedError,
)
from floq.runs import FlowRunRecord, TaskRunRecord
from floq.states import (
    AwaitingRetry,
    Cached,
    Cancelled,
    Completed,
    Crashed,
    Failed,
    InvalidTransition,
    NotReady,
    Pending,
    Retrying,
    Running,
    Scheduled,
    State,
    StateType,
    TimedOut,
    transition,
)


@pytest.mark.parametrize(
    ("state", "type_", "name"),
    [
        (Pending(), StateType.PENDING, "Pending"),
        (Scheduled(), StateType.SCHEDULED, "Scheduled"),
        (Running(), StateType.RUNNING, "Running"),
        (Completed(1), StateType.COMPLETED, "Completed"),
        (Failed(ValueError("x")), StateType.FAILED, "Failed"),
        (Crashed(), StateType.CRASHED, "Crashed"),
        (Cancelled(), StateType.CANCELLED, "Cancelled"),
        (NotReady("up failed"), StateType.PENDING, "NotReady"),
        (AwaitingRetry("soon"), StateType.SCHEDULED, "AwaitingRetry"),
        (Retrying(), StateType.RUNNING, "Retrying"),
        (TimedOut(TaskRunTimeout("too slow")), StateType.FAILED, "TimedOut"),
        (Cached(3), StateType.COMPLETED, "Cached"),
    ],
    ids=lambda v: getattr(v, "name", None) if isinstance(v, State) else None,
)
def test_constructor_type_and_name(state: State, type_: StateType, name: str) -> None:
    assert state.type is type_
    assert state.name == name


def test_predicates_match_the_type() -> None:
    checks = {
        StateType.PENDING: "is_pending",
        StateType.SCHEDULED: "is_scheduled",
        StateType.RUNNING: "is_running",
        StateType.COMPLETED: "is_completed",
        StateType.FAILED: "is_failed",
        StateType.CRASHED: "is_crashed",
        StateType.CANCELLED: "is_cancelled",
    }
    for type_, predicate in checks.items():
        state = State(type_)
        assert getattr(state, predicate)() is True
        others = [p for t, p in checks.items() if t is not type_]
        assert not any(getattr(state, p)() for p in others), type_


@pytest.mark.parametrize(
    ("state", "final"),
    [
        (Pending(), False),
        (Scheduled(), False),
        (Running(), False),
        (NotReady(), False),
        (AwaitingRetry(), False),
        (Retrying(), False),
        (Completed(), True),
        (Cached(), True),
        (Failed(), True),
        (TimedOut(TaskRunTimeout("t")), True),
        (Crashed(), True),
        (Cancelled(), True),
    ],
)
def test_is_final(state: State, final: bool) -> None:
    assert state.is_final() is final


def test_state_keeps_message_and_a_current_timestamp() -> None:
    before = time.time()
    state = Failed(ValueError("boom"), "it broke")
    assert state.message == "it broke"
    assert before <= state.timestamp <= time.time()


def test_timed_out_message_defaults_to_the_error() -> None:
    state = TimedOut(TaskRunTimeout("exceeded 2 seconds"))
    assert state.message == "exceeded 2 seconds"


def test_transition_appends_to_history_in_order() -> None:
    run = TaskRunRecord("r1", "run-1", "t")
    assert [s.name for s in run.history] == ["Pending"]
    running = transition(run, Running())
    assert run.state is running
    done = transition(run, Completed(42))
    assert run.state is done
    assert [s.name for s in run.history] == ["Pending", "Running", "Completed"]
    timestamps = [s.timestamp for s in run.history]
    assert timestamps == sorted(timestamps)


def test_transition_through_retry_states() -> None:
    run = FlowRunRecord("f1", "flow-1", "f")
    for state in (Running(), AwaitingRetry("retry 1"), Retrying(), Completed(1)):
        transition(run, state)
    assert [s.name for s in run.history] == [
        "Pending",
        "Running",
        "AwaitingRetry",
        "Retrying",
        "Completed",
    ]


@pytest.mark.parametrize("final", [Completed(1), Failed(ValueError()), Crashed(), Cancelled()])
@pytest.mark.parametrize("target", [Running(), Pending(), Completed(2), Failed()])
def test_no_move_out_of_a_final_state(final: State, target: State) -> None:
    run = TaskRunRecord("r2", "run-2", "t")
    transition(run, Running())
    transition(run, final)
    with pytest.raises(InvalidTransition) as info:
        transition(run, target)
    assert info.value.run_id == "r2"
    assert isinstance(info.value, FloqError)
    assert run.state is final
    assert run.history[-1] is final
    assert len(run.history) == 3


def test_running_cannot_go_back_to_pending() -> None:
    run = TaskRunRecord("r3", "run-3", "t")
    transition(run, Running())
    with pytest.raises(InvalidTransition):
        transition(run, Pending())
    assert run.state.is_running()


def test_result_of_completed_and_cached() -> None:
    value = object()
    assert Completed(value).result() is value
    assert Cached(value).result() is value
    assert Completed().result() is None


def test_result_of_failed_reraises_the_exact_exception() -> None:
    error = ValueError("user error")
    state = Failed(error, "failed")
    with pytest.raises(ValueError) as info:
        state.result()
    assert info.value is error
    assert state.result(raise_on_failure=False) is error


def test_result_of_failed_without_data_is_a_run_error() -> None:
    with pytest.raises(RunError, match="it failed"):
        Failed(message="it failed").result()


def test_result_of_timed_out() -> None:
    error = TaskRunTimeout("too slow")
    with pytest.raises(TaskRunTimeout) as info:
        TimedOut(error).result()
    assert info.value is error
    assert isinstance(info.value, TimeoutError)


@pytest.mark.parametrize(
    ("state", "error_type", "text"),
    [
        (Crashed(message="worker lost"), CrashedRunError, "worker lost"),
        (Cancelled("stopped by user"), CancelledRunError, "stopped by user"),
        (NotReady("upstream x failed"), UpstreamFailedError, "upstream x failed"),
        (Pending(), RunError, "Pending"),
        (Running(), RunError, "Running"),
        (AwaitingRetry(), RunError, "AwaitingRetry"),
    ],
)
def test_result_of_unfinished_or_lost_runs(
    state: State, error_type: type[BaseException], text: str
) -> None:
    with pytest.raises(error_type, match=text):
        state.result()
    returned = state.result(raise_on_failure=False)
    assert isinstance(returned, error_type)


def test_crashed_with_data_raises_that_data() -> None:
    interrupt = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        Crashed(interrupt, "interrupted").result()


def test_completed_has_no_exception() -> None:
    with pytest.raises(FloqError):
        Completed(1).exception()


def test_repr_names_state_and_message() -> None:
    assert repr(NotReady("x")) == "NotReady(PENDING, 'x')"
    assert repr(Completed(1)) == "Completed(COMPLETED)"


def test_states_are_immutable() -> None:
    state = Completed(1)
    with pytest.raises(AttributeError):
        state.data = 2  # type: ignore[misc]
