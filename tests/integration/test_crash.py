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
from floq.runners import ProcessPoolTaskRunner
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


@task
def dies_at(value: int, fatal: int, marks: str) -> int:
    """Ends its own process at ``fatal`` (as a crash in a C extension would), once the others
    of its batch have started (so they are in flight when it dies)."""
    with open(marks, "a") as out:
        out.write(f"{value} {os.getpid()}\n")
    if value == fatal:
        deadline = time.monotonic() + 30
        while len(Path(marks).read_text().splitlines()) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # the task cannot import the tests' helpers: a worker runs it
        os._exit(7)
    time.sleep(0.5)
    return value * 10


def test_a_task_that_ends_its_process_crashes_alone_and_the_worker_goes_on(
    runner, workers, tmp_path: Path
) -> None:
    """Parallel mode: the run whose process died ends Crashed, naming the exit code; the run
    in flight in the other process completes; the worker replaces the process and serves on.
    (On a ProcessPoolExecutor every run in flight failed, and the worker itself died.)"""
    worker = workers.start("--mode", "parallel", "--processes", "2")
    workers.wait_registered(1)
    marks = tmp_path / "marks"

    @flow(task_runner=runner)
    def batch(values: list[int], fatal: int) -> list[tuple[str, str, Any]]:
        states = [f.wait(WAIT) for f in dies_at.map(values, fatal=fatal, marks=str(marks))]
        return [(s.type.name, s.message, s.result(raise_on_failure=False)) for s in states]

    got = batch([0, 1, 2, 3], fatal=1)
    assert [kind for kind, _, _ in got] == ["COMPLETED", "CRASHED", "COMPLETED", "COMPLETED"]
    assert "ended with exit code 7" in got[1][1], got[1]
    assert "lost task run 'dies_at-1' (" in got[1][1], got[1]  # named, not just its id
    assert [value for kind, _, value in got if kind == "COMPLETED"] == [0, 20, 30]

    marks.unlink()
    got = batch([4, 5, 6], fatal=-1)  # the same worker, its lost process replaced
    assert [value for _, _, value in got] == [40, 50, 60]
    assert worker.poll() is None, workers.logs()
    assert "ended with exit code 7; starting another" in workers.logs()
    assert "Traceback" not in workers.logs()


def test_a_pool_process_killed_from_outside_crashes_its_run_only(
    runner, workers, tmp_path: Path
) -> None:
    """The OOM killer's way: SIGKILL to the process running a task; its run ends Crashed,
    saying so; the other process's run completes."""
    worker = workers.start("--mode", "parallel", "--processes", "2")
    workers.wait_registered(1)
    marks = tmp_path / "marks"

    @flow(task_runner=runner)
    def pair() -> list[tuple[str, str]]:
        futures = [slow_mark.submit(str(marks), 2.0) for _ in range(2)]
        pids = wait_until(lambda: len(lines(marks)) == 2 and lines(marks), WAIT, "both runs")
        os.kill(int(pids[0]), signal.SIGKILL)
        return [(s.type.name, s.message) for s in (f.wait(WAIT) for f in futures)]

    got = sorted(pair())
    assert [kind for kind, _ in got] == ["COMPLETED", "CRASHED"], got
    assert "was killed by SIGKILL" in got[1][1], got
    assert worker.poll() is None, workers.logs()


@task
def kills_its_worker(marks: str) -> None:
    with open(marks, "a") as out:
        out.write(f"{os.getpid()}\n")
    os._exit(9)  # in concurrent mode: the worker itself


def test_a_task_that_kills_every_worker_ends_crashed_after_the_lost_attempts_limit(
    runner, workers, tmp_path: Path
) -> None:
    """A poison task run: each worker that runs it dies, and is reaped, so it would take down
    every worker in turn. At FLOQ_MAX_LOST_ATTEMPTS (2 here) it ends Crashed instead; the
    last worker lives on and serves."""
    for _ in range(3):
        workers.start("--concurrency", "2", FLOQ_MAX_LOST_ATTEMPTS="2")
    workers.wait_registered(3)
    marks = tmp_path / "marks"

    @flow(task_runner=runner)
    def poisoned() -> tuple[str, str]:
        state = kills_its_worker.submit(str(marks)).wait(WAIT)
        return state.type.name, state.message

    @flow(task_runner=runner)
    def after() -> str:
        return slow_mark.submit(str(tmp_path / "after"), 0).result(timeout=WAIT)

    kind, message = poisoned()
    assert kind == "CRASHED", (kind, message, workers.logs())
    assert "FLOQ_MAX_LOST_ATTEMPTS" in message and "lost 2 times" in message, message
    assert "lost task run 'kills_its_worker-" in message, message
    ran_in = [int(pid) for pid in lines(marks)]
    dead = [p.pid for p in workers.processes if p.poll() is not None]
    assert len(ran_in) == 2 and sorted(ran_in) == sorted(dead), (ran_in, dead, workers.logs())
    assert "ended Crashed" in workers.logs(), workers.logs()
    assert after() == "survived"  # the third worker serves on


def test_a_task_that_ends_its_process_under_process_pool_task_runner_crashes_alone(
    tmp_path: Path,
) -> None:
    """The local ProcessPoolTaskRunner, same pool: the other run in flight completes, and so
    do later ones (on a ProcessPoolExecutor, every run in flight and every later one of the
    flow run ended Crashed with BrokenProcessPool)."""
    marks = tmp_path / "marks"

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def batch() -> tuple[list[tuple[str, str]], list[int]]:
        states = [f.wait(WAIT) for f in dies_at.map([0, 1], fatal=1, marks=str(marks))]
        later = [f.result(timeout=WAIT) for f in dies_at.map([2, 3], fatal=-1, marks=str(marks))]
        return [(s.type.name, s.message) for s in states], later

    first, later = batch()
    assert [kind for kind, _ in first] == ["COMPLETED", "CRASHED"], first
    assert "'dies_at-1'" in first[1][1] and "ended with exit code 7" in first[1][1], first
    assert later == [20, 30]
