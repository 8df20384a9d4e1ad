"""Flow slots: RQ workers a flow-worker starts and supervises, each running one flow run at once.

Each slot is a child process running RQ's own ``Worker`` (a work horse forked per flow run, so
``FlowRun.cancel()`` can stop a running one) with RQ's scheduler, on RQ's queues
``<namespace>:<queue>`` of the daemon's queues. A slot that dies is started again (with a new
name: RQ keeps the old one registered until it notices the death). On drain, slots get SIGTERM
(RQ's warm shutdown: the current flow run finishes) and are killed after the grace period.

RQ's own CLI runs one by hand too: ``rq worker -S floq.producer.jobs.JobSerializer floq:default``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from typing import Any

logger = logging.getLogger("floq.worker")

_RESTART_PAUSE = 1.0  # seconds between a slot's death and its restart


class FlowSlots:
    def __init__(self, config: Any) -> None:
        self._config = config
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._started = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="floq-flow-slots", daemon=True)

    @property
    def count(self) -> int:
        return int(self._config.flow_slots)

    def start(self) -> None:
        for slot in range(self.count):
            self._spawn(slot)
        self._thread.start()

    def _spawn(self, slot: int) -> None:
        config = self._config
        self._started += 1
        name = f"{config.name}-flow-{slot}.{self._started}"
        env = dict(os.environ)
        env.update(FLOQ_REDIS_URL=config.url, FLOQ_NAMESPACE=config.settings.namespace)
        code = "import sys; from floq.worker.flow_slots import main; main(sys.argv[1:])"
        argv = [sys.executable, "-c", code, name, *config.queues]
        self._procs[slot] = subprocess.Popen(argv, env=env)

    def _supervise(self) -> None:
        while not self._stopping.wait(_RESTART_PAUSE):
            for slot, proc in list(self._procs.items()):
                if proc.poll() is not None and not self._stopping.is_set():
                    logger.warning(
                        "flow slot %d exited (%s); starting it again", slot, proc.returncode
                    )
                    self._spawn(slot)

    def request_stop(self) -> None:
        """SIGTERM every slot (RQ's warm shutdown: no new flow runs, the current ones finish)."""
        self._stopping.set()
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.terminate()

    def running(self) -> bool:
        return any(proc.poll() is None for proc in self._procs.values())

    def stop(self, grace: float) -> None:
        """Stop the slots; kill those still running after ``grace`` seconds."""
        self.request_stop()
        deadline = time.monotonic() + grace
        for proc in self._procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning(
                    "flow slot pid %d did not stop in %.0f s; killing it", proc.pid, grace
                )
                proc.kill()
                proc.wait(timeout=10)


def main(argv: list[str]) -> None:
    """One slot: RQ's worker on the flow-run queues, with RQ's scheduler."""
    import redis
    from rq import Queue, Worker

    from floq.producer.jobs import JobSerializer, rq_queue_name
    from floq.settings import get_settings

    name, *queues = argv
    settings = get_settings()
    connection = redis.Redis.from_url(settings.redis_url_or_embedded())
    rq_queues = [
        Queue(rq_queue_name(settings.namespace, q), connection=connection, serializer=JobSerializer)
        for q in queues
    ]
    worker = Worker(rq_queues, connection=connection, name=name, serializer=JobSerializer)
    level = "DEBUG" if settings.log_level == "DEBUG" else "WARNING"
    worker.work(with_scheduler=True, logging_level=level)
