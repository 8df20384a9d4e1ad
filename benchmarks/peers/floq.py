"""floq: `RedisTaskRunner` flows, run by `flow-worker` daemons (floq's own interpreter).

Every batch is one flow run that submits each task and then collects every result; W2 is one
flow run that times each `submit(...).result()` inside it. The flow call is what is timed, so
the runner's start and shutdown count against floq.

Workers: 2 `flow-worker --mode concurrent --concurrency N` daemons (W1-W3), and for W4
`W4_LAYOUT`: (daemons, `--processes` each) in `--mode parallel`.
"""

from __future__ import annotations

import subprocess
import time
from importlib.metadata import version
from typing import Any

from floq import flow, task

try:
    from floq.runners import RedisTaskRunner
except ImportError as error:  # the distributed path is not in this checkout
    raise SystemExit(
        f"floq.runners.RedisTaskRunner is missing ({error}); benchmark the other peers with "
        "--peers rq,celery-prefork,celery-threads,dramatiq,arq,dask"
    ) from None

from peers.common import BENCHMARKS, PROCESSES, TASKS, Peer, redis_client_version, venv_bin

CONCURRENCY = {"W1": 16, "W2": 16, "W3": 128}  # threads per daemon, --mode concurrent
W4_LAYOUT = (2, 1)  # (flow-worker daemons, --processes each); (1, 2): one daemon, 2 processes

FLOQ_TASKS = {name: task(fn) for name, fn in TASKS.items()}


def _git_revision() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(BENCHMARKS.parent), *args], capture_output=True, text=True, timeout=10
        )
        return done.stdout.strip()

    try:
        dirty = "+dirty" if git("status", "--porcelain", "--", "src") else ""
        return git("rev-parse", "--short", "HEAD") + dirty
    except (OSError, subprocess.SubprocessError):
        return "?"


class Driver(Peer):
    def slots(self) -> int:
        return W4_LAYOUT[1] if self.job.workload == "W4" else CONCURRENCY[self.job.workload]

    def _daemons(self) -> int:
        return W4_LAYOUT[0] if self.job.workload == "W4" else PROCESSES

    def _mode_args(self) -> list[str]:
        if self.job.workload == "W4":
            return ["--mode", "parallel", "--processes", str(W4_LAYOUT[1])]
        return ["--mode", "concurrent", "--concurrency", str(self.slots())]

    def config(self) -> str:
        return f"{self._daemons()} x `flow-worker {' '.join(self._mode_args())}`"

    def version(self) -> str:
        return f"floq {version('floq')} ({_git_revision()}), {redis_client_version()}"

    def start(self) -> None:
        for k in range(self._daemons()):
            argv = [
                venv_bin("flow-worker"),
                "--redis",
                self.job.url,
                "--queue",
                self.job.queue,
                "--flow-slots",
                "0",  # task runs only: no RQ workers for enqueued flow runs
                *self._mode_args(),
            ]
            self.procs.start(f"flow-worker-{k}", argv)

    def _runner(self) -> Any:
        return RedisTaskRunner(url=self.job.url, queue=self.job.queue)

    def run_many(self, fn: str, args: list[Any]) -> list[Any]:
        the_task = FLOQ_TASKS[fn]

        @flow(name=f"bench-{fn}", task_runner=self._runner())
        def many(values: list[Any]) -> list[Any]:
            futures = [the_task.submit(value) for value in values]
            return [future.result() for future in futures]

        return list(many(args))

    def round_trips(self, fn: str, args: list[Any]) -> list[float]:
        the_task = FLOQ_TASKS[fn]

        @flow(name=f"bench-{fn}-trips", task_runner=self._runner())
        def trips(values: list[Any]) -> list[float]:
            seconds = []
            for value in values:
                start = time.perf_counter()
                the_task.submit(value).result()
                seconds.append(time.perf_counter() - start)
            return seconds

        return list(trips(args))
