"""Dramatiq with the Redis broker and the Results middleware (Redis result backend).

Workers: `dramatiq peers.dramatiq -p 2 -t N` (2 worker processes, N threads each: `THREADS`).
The producer `.send()`s each message, then blocks on each `get_result(block=True)` (one
BRPOPLPUSH per result: the Redis backend does not poll). For W1 and W2 these are dramatiq's
defaults (`--processes` = CPU count = 2, `--threads` 8, prefetch 2 x threads); README.md,
"Dramatiq's set-up, checked against its defaults", says what was measured against them.
"""

from __future__ import annotations

import os
from importlib.metadata import version
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

from peers.common import (
    ENV_QUEUE,
    ENV_URL,
    PROCESSES,
    RESULT_TIMEOUT,
    TASKS,
    Peer,
    redis_client_version,
    venv_bin,
)

THREADS = {"W1": 8, "W2": 8, "W3": 128, "W4": 1}  # per process; 8 is dramatiq's default

_URL = os.environ.get(ENV_URL, "redis://127.0.0.1:1/0")  # set by the driver (and so workers)
_QUEUE = os.environ.get(ENV_QUEUE, "bench")

broker = RedisBroker(url=_URL)
# A client of our own: redis-py's default 5 s socket timeout would cut the blocking read short.
# Its pool may open a connection per worker thread: W3's 128 threads storing results at once
# outgrew redis-py 8's default cap of 100 once here ("Too many connections").
_results_client = redis.Redis.from_url(
    _URL, socket_timeout=RESULT_TIMEOUT + 10, max_connections=2 * max(THREADS.values())
)
broker.add_middleware(Results(backend=RedisBackend(client=_results_client), result_ttl=600_000))
dramatiq.set_broker(broker)
ACTORS = {
    name: dramatiq.actor(fn, actor_name=name, queue_name=_QUEUE, store_results=True, max_retries=0)
    for name, fn in TASKS.items()
}


class Driver(Peer):
    def slots(self) -> int:
        return THREADS[self.job.workload]

    def config(self) -> str:
        return f"`dramatiq -p {PROCESSES} -t {self.slots()}` (prefetch: 2 x threads)"

    def version(self) -> str:
        return f"dramatiq {version('dramatiq')}, {redis_client_version()}"

    def start(self) -> None:
        argv = [
            venv_bin("dramatiq"),
            "peers.dramatiq",
            "-p",
            str(PROCESSES),
            "-t",
            str(self.slots()),
            "-Q",
            self.job.queue,
        ]
        self.procs.start("dramatiq", argv)

    def submit(self, fn: str, arg: Any) -> Any:
        return ACTORS[fn].send(arg)

    def wait(self, handle: Any) -> Any:
        return handle.get_result(block=True, timeout=int(RESULT_TIMEOUT * 1000))

    def close(self) -> None:
        broker.close()
        _results_client.close()
