"""Celery with the Redis broker and result backend, prefork or threads pool.

- prefork: one `celery worker --pool prefork -c 2` node (2 child processes) for every workload;
- threads: 2 `celery worker --pool threads -c N` nodes (N per workload: `THREADS`).

Everything else is Celery's default (prefetch multiplier 4, early ack). The producer calls
`.delay()` for each task, then `.get()` on each result (a `group` or a `ResultSet` measured no
faster here: publishing, about 1 ms per message, is what limits W1).
"""

from __future__ import annotations

import os
from importlib.metadata import version
from typing import Any

from celery import Celery
from celery.result import AsyncResult

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

THREADS = {"W1": 16, "W2": 16, "W3": 128, "W4": 1}  # per node, threads pool
PREFORK = 2  # child processes of the one prefork node

_URL = os.environ.get(ENV_URL, "redis://127.0.0.1:1/0")  # set by the driver (and so workers)
_QUEUE = os.environ.get(ENV_QUEUE, "bench")

app = Celery("bench", broker=_URL, backend=_URL)
app.conf.update(
    task_default_queue=_QUEUE,
    result_expires=600,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
for _name, _fn in TASKS.items():
    app.task(name=_name)(_fn)


class Driver(Peer):
    def slots(self) -> int:
        return PREFORK // PROCESSES if self.variant == "prefork" else THREADS[self.job.workload]

    def config(self) -> str:
        if self.variant == "prefork":
            return f"1 node `celery worker --pool prefork -c {PREFORK}` ({PREFORK} processes)"
        return f"{PROCESSES} nodes `celery worker --pool threads -c {self.slots()}`"

    def version(self) -> str:
        return f"celery {version('celery')}, kombu {version('kombu')}, {redis_client_version()}"

    def start(self) -> None:
        base = [
            venv_bin("celery"),
            "-A",
            "peers.celery",
            "worker",
            "-Q",
            self.job.queue,
            "--loglevel",
            "WARNING",
        ]
        if self.variant == "prefork":
            self.procs.start(
                "prefork", [*base, "--pool", "prefork", "-c", str(PREFORK), "-n", "prefork@%h"]
            )
            return
        for k in range(PROCESSES):
            argv = [*base, "--pool", "threads", "-c", str(self.slots()), "-n", f"threads{k}@%h"]
            self.procs.start(f"threads-{k}", argv)

    def submit(self, fn: str, arg: Any) -> AsyncResult:
        return app.tasks[fn].delay(arg)

    def wait(self, handle: Any) -> Any:
        return handle.get(timeout=RESULT_TIMEOUT)

    def close(self) -> None:
        app.close()
