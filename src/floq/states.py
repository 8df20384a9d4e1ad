"""States of task runs and flow runs, and the one function that moves a run between them.

A :class:`State` is an immutable value: a :class:`StateType`, a name (the type's title or a
named refinement such as ``NotReady`` or ``TimedOut``), a message, a timestamp (seconds since
the epoch) and, once final, the run's data (its return value or its exception). A pickled
state carries its exception's traceback text; unpickled in another process, the exception has
it as a :class:`~floq.errors.RemoteTraceback` cause (see :mod:`floq.tracebacks`).

Every change of a run's state goes through :func:`transition`, which checks that the move is
allowed and appends the new state to the run's history.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from floq.errors import (
    CancelledRunError,
    CrashedRunError,
    FloqError,
    RunError,
    UpstreamFailedError,
)
from floq.tracebacks import PortableError


class StateType(StrEnum):
    PENDING = "PENDING"
    SCHEDULED = "SCHEDULED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CRASHED = "CRASHED"
    CANCELLED = "CANCELLED"


_TITLES = {member: member.value.title() for member in StateType}

FINAL_TYPES = frozenset(
    {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}
)

# The moves a run may make; anything else is a bug in floq, not in the user's code.
_ALLOWED: dict[StateType, frozenset[StateType]] = {
    StateType.PENDING: frozenset(StateType),
    StateType.SCHEDULED: frozenset(StateType),
    StateType.RUNNING: frozenset(StateType) - {StateType.PENDING},
    StateType.COMPLETED: frozenset(),
    StateType.FAILED: frozenset(),
    StateType.CRASHED: frozenset(),
    StateType.CANCELLED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class State:
    """One state of a run. ``data`` is the return value (Completed) or the exception."""

    type: StateType
    name: str = ""
    message: str = ""
    timestamp: float = field(default_factory=time.time)
    data: Any = None

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", _TITLES[self.type])

    def is_pending(self) -> bool:
        return self.type is StateType.PENDING

    def is_scheduled(self) -> bool:
        return self.type is StateType.SCHEDULED

    def is_running(self) -> bool:
        return self.type is StateType.RUNNING

    def is_completed(self) -> bool:
        return self.type is StateType.COMPLETED

    def is_failed(self) -> bool:
        return self.type is StateType.FAILED

    def is_crashed(self) -> bool:
        return self.type is StateType.CRASHED

    def is_cancelled(self) -> bool:
        return self.type is StateType.CANCELLED

    def is_final(self) -> bool:
        return self.type in FINAL_TYPES

    def result(self, raise_on_failure: bool = True) -> Any:
        """The run's value; for any other outcome raise (or return) its exception."""
        if self.type is StateType.COMPLETED:
            return self.data
        error = self.exception()
        if raise_on_failure:
            raise error
        return error

    def exception(self) -> BaseException:
        """The exception that stands for this state when it is not Completed."""
        if isinstance(self.data, BaseException):
            return self.data
        if self.type is StateType.CRASHED:
            return CrashedRunError(self.message or "the run crashed")
        if self.type is StateType.CANCELLED:
            return CancelledRunError(self.message or "the run was cancelled")
        if self.name == "NotReady":
            return UpstreamFailedError(self.message or "an upstream run did not complete")
        if self.type is StateType.COMPLETED:
            raise FloqError("a Completed state has no exception")
        return RunError(self.message or f"the run is {self.name}, not finished")

    def __reduce__(self) -> tuple[Any, ...]:
        # An exception travels with its traceback text and comes back even where its type
        # cannot be rebuilt (see floq.tracebacks).
        data = PortableError(self.data) if isinstance(self.data, BaseException) else self.data
        return (State, (self.type, self.name, self.message, self.timestamp, data))

    def __repr__(self) -> str:
        text = f"{self.name}({self.type.value}"
        return text + (f", {self.message!r})" if self.message else ")")


_new = object.__new__
_set_type, _set_name, _set_message, _set_timestamp, _set_data = (
    State.__dict__[name].__set__ for name in ("type", "name", "message", "timestamp", "data")
)


def restored(type: StateType, name: str, message: str, timestamp: float, data: Any) -> State:
    """A state rebuilt from its recorded fields, as they were (no default, no check): about
    twice as fast as ``State(...)``, for decoding outcomes in bulk."""
    state: State = _new(State)
    _set_type(state, type)
    _set_name(state, name)
    _set_message(state, message)
    _set_timestamp(state, timestamp)
    _set_data(state, data)
    return state


# Constructors, named as in Prefect. Refinements keep their type and change the name.
def Pending(message: str = "", **kw: Any) -> State:
    return State(StateType.PENDING, "Pending", message, **kw)


def Scheduled(message: str = "", **kw: Any) -> State:
    return State(StateType.SCHEDULED, "Scheduled", message, **kw)


def Running(message: str = "", **kw: Any) -> State:
    return State(StateType.RUNNING, "Running", message, **kw)


def Completed(data: Any = None, message: str = "", **kw: Any) -> State:
    return State(StateType.COMPLETED, "Completed", message, data=data, **kw)


def Failed(data: BaseException | None = None, message: str = "", **kw: Any) -> State:
    return State(StateType.FAILED, "Failed", message, data=data, **kw)


def Crashed(data: BaseException | None = None, message: str = "", **kw: Any) -> State:
    return State(StateType.CRASHED, "Crashed", message, data=data, **kw)


def Cancelled(message: str = "", **kw: Any) -> State:
    return State(StateType.CANCELLED, "Cancelled", message, **kw)


def NotReady(message: str = "") -> State:
    return State(StateType.PENDING, "NotReady", message, data=UpstreamFailedError(message))


def AwaitingRetry(message: str = "") -> State:
    return State(StateType.SCHEDULED, "AwaitingRetry", message)


def Retrying(message: str = "") -> State:
    return State(StateType.RUNNING, "Retrying", message)


def TimedOut(data: BaseException, message: str = "") -> State:
    return State(StateType.FAILED, "TimedOut", message or str(data), data=data)


def Cached(data: Any = None, message: str = "") -> State:
    return State(StateType.COMPLETED, "Cached", message, data=data)


class HasState(Protocol):
    """Anything with a current state and a history: task-run and flow-run records."""

    id: str
    state: State
    history: list[State]


class InvalidTransition(FloqError):
    """floq tried a move its state machine forbids (a bug in floq)."""


def transition(run: HasState, new: State) -> State:
    """Move ``run`` to ``new``: the one place a run's state changes; returns ``new``."""
    old = run.state
    if new.type not in _ALLOWED[old.type]:
        raise InvalidTransition(f"cannot move from {old!r} to {new!r}", run_id=run.id)
    run.state = new
    run.history.append(new)
    return new
