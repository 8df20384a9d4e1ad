"""Records of task runs and flow runs: who they are, their state and its history.

Hooks receive these records (``on_completion(task, task_run, state)``); the engine moves
their state only through :func:`floq.states.transition`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from floq.states import Pending, State


def new_run_id() -> str:
    return os.urandom(16).hex()


@dataclass(slots=True, eq=False)
class TaskRunRecord:
    """One task run: an id, a name, its flow run, its tags, and the states it went through."""

    id: str
    name: str
    task_name: str
    flow_run_id: str | None = None
    tags: frozenset[str] = frozenset()
    state: State = field(default_factory=Pending)
    history: list[State] = field(default_factory=list)
    run_count: int = 0

    def __post_init__(self) -> None:
        if not self.history:
            self.history.append(self.state)

    def adopt(self, state: State, history: list[State], run_count: int) -> None:
        """Take over the outcome of this run as recorded in another process."""
        self.state, self.history, self.run_count = state, history, run_count


@dataclass(slots=True, eq=False)
class FlowRunRecord:
    """One flow run: an id, a name, its parameters, and the states it went through."""

    id: str
    name: str
    flow_name: str
    parameters: dict[str, Any] = field(default_factory=dict)
    parent_run_id: str | None = None
    state: State = field(default_factory=Pending)
    history: list[State] = field(default_factory=list)
    run_count: int = 0

    def __post_init__(self) -> None:
        if not self.history:
            self.history.append(self.state)
