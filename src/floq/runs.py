"""Records of task runs and flow runs: who they are, their state and its history; and the
:class:`TaskCall` that makes a task run (what runners, the store and the engine pass along).

Hooks receive these records (``on_completion(task, task_run, state)``); the engine moves
their state only through :func:`floq.states.transition`.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from floq.states import Pending, State

if TYPE_CHECKING:
    from floq.context import FlowRunContext

_prefix = os.urandom(8).hex()
_counter = itertools.count()


def _reseed() -> None:
    global _prefix, _counter
    _prefix, _counter = os.urandom(8).hex(), itertools.count()


os.register_at_fork(after_in_child=_reseed)


def short_id(run_id: str) -> str:
    """8 hex digits that tell runs apart in names and logs (a run id's own first digits are
    the same for every run one process starts)."""
    return hashlib.blake2s(run_id.encode(), digest_size=4).hexdigest()


def new_run_id() -> str:
    """A unique run id: 16 random hex digits per process, then a counter (32 hex digits)."""
    return f"{_prefix}{next(_counter):016x}"


@dataclass(slots=True, eq=False)
class RunRecord:
    """What every run has: an id, a name, its current state and the states it went through."""

    id: str
    name: str
    state: State = field(default_factory=Pending, kw_only=True)
    history: list[State] = field(default_factory=list, kw_only=True)
    run_count: int = field(default=0, kw_only=True)

    def __post_init__(self) -> None:
        if not self.history:
            self.history.append(self.state)

    def adopt(self, state: State, history: list[State], run_count: int) -> None:
        """Take over the outcome of this run as recorded in another process."""
        self.state, self.history, self.run_count = state, history, run_count


@dataclass(slots=True, eq=False)
class TaskRunRecord(RunRecord):
    """One task run, of a task, within a flow run, with the task's tags."""

    task_name: str = ""
    flow_run_id: str | None = None
    tags: frozenset[str] = frozenset()


@dataclass(slots=True, eq=False)
class FlowRunRecord(RunRecord):
    """One flow run, with its parameters and the flow run it is a subflow of."""

    flow_name: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    parent_run_id: str | None = None


@dataclass(slots=True, eq=False)
class TaskCall:
    """A task, its arguments (futures still inside) and the record of the run they make.

    ``upstream`` (the futures found in the arguments and ``wait_for``) and ``flow_run`` stay
    in the submitting process: they are dropped when the call is pickled.
    """

    task: Any
    run: TaskRunRecord
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    wait_for: tuple[Any, ...] = ()
    log_prints: bool = False
    resolve: bool = True  # False when the arguments hold no future, ref or state
    upstream: dict[str, Any] = field(default_factory=dict)
    flow_run: FlowRunContext | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        kept = (self.task, self.run, self.args, self.kwargs, self.wait_for)
        return (TaskCall, (*kept, self.log_prints, self.resolve))
