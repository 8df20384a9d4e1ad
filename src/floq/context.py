"""The one piece of ambient state: which flow run (and task run) the current code belongs to."""

from __future__ import annotations

import contextvars
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from floq.runs import FlowRunRecord, TaskCall, TaskRunRecord
from floq.states import State

if TYPE_CHECKING:
    from floq.runners.base import TaskRunner


class TaskRunReuse(Protocol):
    """Results of an earlier attempt of the flow run, offered to its task calls (an enqueued
    flow run retried after a crash: :mod:`floq.worker.resume`)."""

    def reused(self, call: TaskCall) -> State | None:
        """The call's final state if an earlier attempt completed it; else None."""

    def watch(self, call: TaskCall, future: Any) -> None:
        """Keep the call's result once its future completes, for a later attempt."""


@dataclass(slots=True, eq=False)
class FlowRunContext:
    """A flow run in progress: its record, its task runner, and every task run it started."""

    flow: Any
    run: FlowRunRecord
    runner: TaskRunner
    task_runs: list[TaskRunRecord] = field(default_factory=list)
    # per task name, numbers for default task-run names (square-0, square-1, ...)
    run_numbers: dict[str, Iterator[int]] = field(default_factory=dict)
    reuse: TaskRunReuse | None = None  # set for enqueued flow runs (by the worker)

    def next_run_number(self, task_name: str) -> int:
        """The next number of ``task_name``'s runs in this flow run (safe across threads)."""
        return next(self.run_numbers.setdefault(task_name, itertools.count()))


@dataclass(slots=True)
class RunContext:
    """What code running now belongs to; treated as immutable (not frozen: it is hot)."""

    flow_run: FlowRunContext | None = None
    task_run: TaskRunRecord | None = None
    log_prints: bool = False


_NOWHERE = RunContext()
_current: contextvars.ContextVar[RunContext] = contextvars.ContextVar(
    "floq_run",
    default=_NOWHERE,  # never mutated
)


def current() -> RunContext:
    return _current.get()


def current_flow_run() -> FlowRunContext | None:
    return _current.get().flow_run


def enter(ctx: RunContext) -> contextvars.Token[RunContext]:
    return _current.set(ctx)


def leave(token: contextvars.Token[RunContext]) -> None:
    _current.reset(token)


@contextmanager
def entered(ctx: RunContext) -> Iterator[RunContext]:
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
