"""floq: Prefect-style flows and tasks whose task runs can travel through Redis to workers."""

from floq.annotations import allow_failure, unmapped
from floq.errors import FloqError
from floq.flows import Flow, flow
from floq.futures import TaskFuture, as_completed, wait
from floq.logs import get_run_logger
from floq.states import State, StateType
from floq.tasks import Task, task

__version__ = "0.1.0"

__all__ = [
    "FloqError",
    "Flow",
    "State",
    "StateType",
    "Task",
    "TaskFuture",
    "allow_failure",
    "as_completed",
    "flow",
    "get_run_logger",
    "task",
    "unmapped",
    "wait",
]
