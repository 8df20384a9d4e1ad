"""Dask distributed: `dask scheduler` plus 2 `dask worker` processes (each under a nanny).

Dask does not use Redis: its scheduler is the broker, so `--url` is ignored. Workers run
`THREADS` threads each; the producer is a `distributed.Client` using `client.map` +
`client.gather` for the batches and `client.submit(...).result()` for W2 (`pure=False`
throughout, so no call is deduplicated).
"""

from __future__ import annotations

import time
from importlib.metadata import version
from typing import Any

from distributed import Client

from peers.common import PROCESSES, READY_TIMEOUT, RESULT_TIMEOUT, TASKS, Peer, venv_bin

THREADS = {"W1": 16, "W2": 16, "W3": 128, "W4": 1}  # per worker process


class Driver(Peer):
    def slots(self) -> int:
        return THREADS[self.job.workload]

    def config(self) -> str:
        return (
            f"`dask scheduler` + {PROCESSES} x `dask worker --nthreads {self.slots()}` "
            "(nanny on); no Redis"
        )

    def version(self) -> str:
        return f"distributed {version('distributed')}"

    def start(self) -> None:
        sched_file = self.procs.logs / "scheduler.json"
        dask = venv_bin("dask")
        self.procs.start(
            "scheduler",
            [
                dask,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(sched_file),
            ],
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while not sched_file.exists():
            if time.monotonic() > deadline:
                raise TimeoutError("the dask scheduler did not write its scheduler file")
            time.sleep(0.1)
        for k in range(PROCESSES):
            argv = [
                dask,
                "worker",
                "--scheduler-file",
                str(sched_file),
                "--host",
                "127.0.0.1",
                "--nthreads",
                str(self.slots()),
                "--nworkers",
                "1",
                "--no-dashboard",
                "--local-directory",
                str(self.procs.logs / f"worker-{k}"),
            ]
            self.procs.start(f"worker-{k}", argv)
        self.client = Client(scheduler_file=str(sched_file), timeout=READY_TIMEOUT)
        self.client.wait_for_workers(PROCESSES, timeout=READY_TIMEOUT)

    def submit(self, fn: str, arg: Any) -> Any:
        return self.client.submit(TASKS[fn], arg, pure=False)

    def wait(self, handle: Any) -> Any:
        return handle.result(timeout=RESULT_TIMEOUT)

    def run_many(self, fn: str, args: list[Any]) -> list[Any]:
        futures = self.client.map(TASKS[fn], args, pure=False)
        return list(self.client.gather(futures))

    def close(self) -> None:
        if hasattr(self, "client"):
            self.client.close(timeout=10)
