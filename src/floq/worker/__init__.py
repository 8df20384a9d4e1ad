"""The ``flow-worker`` daemon: claim task runs from Redis, run them, write outcomes back.

``daemon`` holds the claim loop, the drain on Ctrl-C or SIGTERM and the hand-back on a second
one; ``executors`` run the claimed attempts (threads, processes or Dask); ``attempt`` is what
runs inside them; ``completer`` writes outcomes back in batches; ``upkeep`` keeps the
heartbeat, reaps lapsed workers on every queue and promotes due retries; ``flow_slots`` runs
enqueued flow runs (RQ workers); ``children`` makes the processes a worker starts ignore
Ctrl-C and end with it, even when it is killed with ``kill -9``.
"""

from floq.worker.config import WorkerConfig
from floq.worker.daemon import Worker

__all__ = ["Worker", "WorkerConfig"]
