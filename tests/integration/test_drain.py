"""SIGTERM drains: the worker claims nothing more, and exits as soon as its in-flight work ends
(not at the drain deadline)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import cloudpickle
from integration_helpers import WAIT, inflight, lines, wait_until
from shared_tasks import held, marked_sleep

from floq import flow, task
from floq.worker.ahead import TIMES

cloudpickle.register_pickle_by_value(sys.modules[__name__])


@task
def where() -> int:
    return os.getpid()


def test_a_draining_worker_claims_nothing_and_exits_when_its_work_ends(
    runner: Any, workers: Any, tmp_path: Path
) -> None:
    draining = workers.start("--concurrency", "4", FLOQ_DRAIN_SECONDS="60")
    workers.wait_registered(1)
    marks = tmp_path / "marks"
    seen: dict[str, Any] = {}

    @flow(task_runner=runner)
    def drained() -> tuple[str, int]:
        held = marked_sleep.submit(str(marks), 2.0)
        wait_until(lambda: lines(marks), WAIT, "the task to start")
        draining.send_signal(signal.SIGTERM)
        late = where.submit()  # submitted after SIGTERM: not for the draining worker
        seen["exit"] = draining.wait(timeout=WAIT)
        seen["exited_at"] = time.time()
        seen["other"] = workers.start("--concurrency", "4")
        return held.result(timeout=WAIT), late.result(timeout=WAIT)

    held, late_pid = drained()
    assert held == "slept"
    assert seen["exit"] == 0, workers.logs()
    assert late_pid == seen["other"].pid != draining.pid
    assert lines(marks) == [f"start {draining.pid}", f"end {draining.pid}"]
    ended = marks.stat().st_mtime  # the "end" line was the last write
    # FLOQ_DRAIN_SECONDS is 60: the exit came when the work ended, not at the deadline.
    assert seen["exited_at"] - ended < 5, (seen, ended)


@task
def mark(path: str, i: int) -> int:
    with open(path, "a") as marks:
        marks.write(f"{i} {os.getpid()}\n")
    return i


def test_task_runs_claimed_ahead_go_back_unstarted_when_the_worker_stops(
    runner: Any, workers: Any, client: Any, namespace: str, tmp_path: Path
) -> None:
    """A backlog of short tasks: a worker with one slot claims TIMES more ahead (see
    floq.worker.ahead). Stopped while its slot runs a long one, it hands those back unstarted
    at once and finishes only what runs; another worker runs the rest, each once."""
    first = workers.start(
        "--concurrency", "1", FLOQ_DRAIN_SECONDS="60", FLOQ_HEARTBEAT_SECONDS="0.2"
    )
    workers.wait_registered(1)
    marks, held_marks, gate = tmp_path / "marks", tmp_path / "held", tmp_path / "gate"
    seen: dict[str, Any] = {}

    @flow(task_runner=runner)
    def ahead() -> list[Any]:
        futures = [mark.submit(str(marks), i) for i in range(40)]
        futures.append(held.submit(str(held_marks), str(gate), 7))
        futures += [mark.submit(str(marks), i) for i in range(40, 60)]
        wait_until(lambda: lines(held_marks), WAIT, "the gated task to start")
        wait_until(lambda: inflight(client, namespace) == 1 + TIMES, WAIT,
                   "a heartbeat showing the gated run and those claimed ahead")  # fmt: skip
        first.send_signal(signal.SIGTERM)
        back = f"handed back {TIMES} unstarted task run(s)"
        wait_until(lambda: back in workers.logs(), WAIT, "the run claimed ahead to go back")
        gate.touch()
        seen["exit"] = first.wait(timeout=WAIT)
        seen["other"] = workers.start("--concurrency", "1")
        return [future.result(timeout=WAIT) for future in futures]

    assert ahead() == [*range(40), 49, *range(40, 60)]
    assert seen["exit"] == 0, workers.logs()
    assert lines(held_marks) == [str(first.pid)]  # the gated task ran once, on the first worker
    ran = [line.split() for line in lines(marks)]
    assert sorted(i for i, _ in ran) == sorted(str(i) for i in range(60))
    by_first = [i for i, pid in ran if pid == str(first.pid)]
    assert by_first == [str(i) for i in range(40)], ran  # not the ones claimed ahead
    assert all(pid == str(seen["other"].pid) for _, pid in ran[40:]), ran
