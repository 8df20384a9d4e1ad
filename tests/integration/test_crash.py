"""A worker SIGKILLed mid-task: the run is taken over by another worker, recorded once."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import cloudpickle
from integration_helpers import WAIT, lines, outcomes_of, wait_until

from floq import flow, task
from proctree import assert_all_end, descendants

cloudpickle.register_pickle_by_value(sys.modules[__name__])


@task
def slow_mark(path: str, seconds: float) -> str:
    with open(path, "a") as out:
        out.write(f"{os.getpid()}\n")
    time.sleep(seconds)
    return "survived"


def test_sigkilled_worker_task_runs_again_elsewhere_and_is_recorded_once(
    runner, workers, client, keys, tmp_path: Path
) -> None:
    for _ in range(2):
        workers.start("--concurrency", "4")
    workers.wait_registered(2)
    marks = tmp_path / "executions"
    seen: dict[str, Any] = {}

    @flow(task_runner=runner)
    def survives() -> str:
        future = slow_mark.submit(str(marks), 3.0)
        seen["future"] = future
        first = int(wait_until(lambda: lines(marks), 15, "the first execution")[0])
        victims = [p for p in workers.processes if p.pid == first]
        assert victims, f"task ran in pid {first}, not in a worker process {workers.logs()}"
        victims[0].send_signal(signal.SIGKILL)
        victims[0].wait(timeout=10)
        seen["killed_at"] = time.monotonic()
        wait_until(lambda: len(lines(marks)) >= 2, 30, f"a second execution\n{workers.logs()}")
        seen["rerun_after"] = time.monotonic() - seen["killed_at"]
        return future.result(timeout=WAIT)

    assert survives() == "survived"

    first, second = (int(pid) for pid in lines(marks))
    survivor = next(p for p in workers.processes if p.pid != first)
    assert second == survivor.pid, (first, second)
    # The test workers' heartbeat TTL is 2 s (refreshed every 0.5 s) and they reap every 0.5 s:
    # the run cannot be taken before the heartbeat lapses, and is taken soon after.
    assert 1.0 < seen["rerun_after"] < 10, seen["rerun_after"]
    future = seen["future"]
    assert future.state.is_completed()
    assert future.task_run.flow_run_id
    mine = outcomes_of(client, keys, future.task_run)
    assert [state.is_final() for state in mine].count(True) == 1, mine
    assert mine[-1].is_completed()


def test_parallel_mode_children_end_with_a_sigkilled_worker(workers) -> None:
    worker = workers.start("--mode", "parallel", "--processes", "2")
    workers.wait_registered(1)
    children = wait_until(lambda: descendants(worker.pid), WAIT, "the worker's processes")
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=WAIT)
    assert_all_end(children, 15, "the killed worker's children to end")
