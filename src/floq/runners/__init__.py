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

from floq.runners.base import TaskRunner
from floq.runners.dask import DaskTaskRunner
from floq.runners.processes import ProcessPoolTaskRunner
from floq.runners.redis import RedisTaskRunner
from floq.runners.threads import ConcurrentTaskRunner, SequentialTaskRunner, ThreadPoolTaskRunner

__all__ = [
    "ConcurrentTaskRunner",
    "DaskTaskRunner",
    "ProcessPoolTaskRunner",
    "RedisTaskRunner",
    "SequentialTaskRunner",
    "TaskRunner",
    "ThreadPoolTaskRunner",
]
