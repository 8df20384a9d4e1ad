"""RQ: 2 `rq worker -w rq.worker.SimpleWorker` processes (one job at a time each, no fork).

The producer enqueues with `Queue.enqueue` (W2) or `Queue.enqueue_many` (pipelined, for the
batches) and waits with `Job.latest_result(timeout)`, a blocking XREAD on the result stream.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from redis import Redis
from rq import Queue
from rq.job import Job as RQJob
from rq.results import Result

from peers.common import PROCESSES, RESULT_TIMEOUT, TASKS, Peer, redis_client_version, venv_bin

RESULT_TTL = 600


class Driver(Peer):
    def slots(self) -> int:
        return 1

    def config(self) -> str:
        return f"{PROCESSES} x `rq worker -w rq.worker.SimpleWorker` (1 job at a time each)"

    def version(self) -> str:
        return f"rq {version('rq')}, {redis_client_version()}"

    def start(self) -> None:
        # redis-py's default socket timeout (5 s) would cut the blocking XREAD short.
        self.redis = Redis.from_url(self.job.url, socket_timeout=RESULT_TIMEOUT + 10)
        self.queue = Queue(self.job.queue, connection=self.redis)
        for k in range(PROCESSES):
            argv = [
                venv_bin("rq"),
                "worker",
                "-w",
                "rq.worker.SimpleWorker",
                "--url",
                self.job.url,
                "--logging_level",
                "WARNING",
                self.job.queue,
            ]
            self.procs.start(f"rq-worker-{k}", argv)

    def submit(self, fn: str, arg: Any) -> RQJob:
        return self.queue.enqueue(TASKS[fn], arg, result_ttl=RESULT_TTL)

    def wait(self, handle: Any) -> Any:
        result = handle.latest_result(timeout=int(RESULT_TIMEOUT))
        if result is None:
            raise TimeoutError(f"no result for rq job {handle.id}")
        if result.type != Result.Type.SUCCESSFUL:
            raise RuntimeError(f"rq job {handle.id}: {result.type}: {result.exc_string}")
        return result.return_value

    def run_many(self, fn: str, args: list[Any]) -> list[Any]:
        data = [Queue.prepare_data(TASKS[fn], (arg,), result_ttl=RESULT_TTL) for arg in args]
        jobs = []
        for i in range(0, len(data), 500):  # enqueue_many pipelines one batch
            jobs += self.queue.enqueue_many(data[i : i + 500])
        return [self.wait(job) for job in jobs]

    def close(self) -> None:
        if hasattr(self, "redis"):
            self.redis.close()
