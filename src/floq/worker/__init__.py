"""The ``flow-worker`` daemon: claim task runs from Redis, run them, write outcomes back.

``daemon`` holds the claim loop and the drain on SIGTERM; ``executors`` run the claimed
attempts (threads, processes or Dask); ``attempt`` is what runs inside them; ``upkeep``
keeps the heartbeat, reaps lapsed workers and promotes due retries.
"""

from floq.worker.daemon import Worker, WorkerConfig

__all__ = ["Worker", "WorkerConfig"]
