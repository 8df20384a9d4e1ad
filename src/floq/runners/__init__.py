"""Task runners: where the task runs of a flow run execute.

========================  ====================================================
SequentialTaskRunner      one at a time, in the flow's thread
ConcurrentTaskRunner      threads, plus one event loop for async tasks (default)
ThreadPoolTaskRunner      the same class, under Prefect 3's name
ProcessPoolTaskRunner     spawned processes (cloudpickle)
DaskTaskRunner            a Dask cluster (``floq[dask]``)
RedisTaskRunner           Redis queues, run by ``flow-worker`` daemons anywhere
========================  ====================================================
"""

from typing import TYPE_CHECKING, Any

from floq.runners.base import TaskRunner
from floq.runners.dask import DaskTaskRunner
from floq.runners.processes import ProcessPoolTaskRunner
from floq.runners.threads import ConcurrentTaskRunner, SequentialTaskRunner, ThreadPoolTaskRunner

if TYPE_CHECKING:
    from floq.runners.redis import RedisTaskRunner


def __getattr__(name: str) -> Any:
    """``RedisTaskRunner`` on first use: ``import floq`` does not import redis."""
    if name == "RedisTaskRunner":
        from floq.runners.redis import RedisTaskRunner

        return RedisTaskRunner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ConcurrentTaskRunner",
    "DaskTaskRunner",
    "ProcessPoolTaskRunner",
    "RedisTaskRunner",
    "SequentialTaskRunner",
    "TaskRunner",
    "ThreadPoolTaskRunner",
]
