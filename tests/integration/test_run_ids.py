"""The ids a task can key its side effects on (README "Guarantees"): a task run's id stays the
same across its retries and across a redelivery to another worker; an enqueued flow run's id
is the same in every attempt, while an attempt submits new task runs for what it runs again."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

import cloudpickle
import enqueued_flows
from integration_fixtures import HERE
from integration_helpers import WAIT, lines, wait_until

from floq import flow, task
from floq.context import current
from floq.producer import enqueue

cloudpickle.register_pickle_by_value(sys.modules[__name__])


@task(retries=2, retry_delay_seconds=0)
def fails_twice_noting(path: str, seconds: float) -> str:
    """Appends ``<pid> <task run id> <flow run id>``, sleeps, fails its first two attempts."""
    import os

    run = current().task_run
    assert run is not None
    with open(path, "a") as out:
        out.write(f"{os.getpid()} {run.id} {run.flow_run_id}\n")
    time.sleep(seconds)
    with open(path) as done:
        if len(done.read().splitlines()) < 3:
            raise RuntimeError("not yet")
    return run.id


def test_a_task_runs_id_is_the_same_over_retries(runner: Any, workers: Any, tmp_path: Path) -> None:
    workers.start("--concurrency", "4")
    workers.wait_registered(1)
    marks = str(tmp_path / "marks")

    @flow(task_runner=runner)
    def keyed() -> str:
        return fails_twice_noting.submit(marks, 0.0).result(timeout=WAIT)

    task_run_id = keyed()
    ids = {tuple(line.split()[1:]) for line in lines(Path(marks))}
    assert len(lines(Path(marks))) == 3 and len(ids) == 1, lines(Path(marks))
    assert next(iter(ids))[0] == task_run_id


def test_a_task_runs_id_is_the_same_on_the_worker_that_takes_it_over(
    runner: Any, workers: Any, tmp_path: Path
) -> None:
    for _ in range(2):
        workers.start("--concurrency", "4")
    workers.wait_registered(2)
    marks = tmp_path / "marks"

    @flow(task_runner=runner)
    def taken_over() -> str:
        future = fails_twice_noting.submit(str(marks), 2.0)
        pid = int(wait_until(lambda: lines(marks), WAIT, "the first execution")[0].split()[0])
        [victim] = [p for p in workers.processes if p.pid == pid]
        victim.send_signal(signal.SIGKILL)
        return future.result(timeout=WAIT * 2)

    task_run_id = taken_over()
    rows = [line.split() for line in lines(marks)]
    assert len({pid for pid, _, _ in rows}) == 2, rows  # the second worker took it over
    assert {(run, flow_run) for _, run, flow_run in rows} == {(task_run_id, rows[0][2])}, rows


def test_an_enqueued_flow_runs_id_is_the_same_in_every_attempt(
    workers: Any, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    workers.start("--flow-slots", "1", PYTHONPATH=HERE)
    workers.wait_registered(1)
    run = enqueue(enqueued_flows.ids_then_fail_once, (str(tmp_path),), retries=1,
                  url=redis_url, namespace=namespace)  # fmt: skip
    assert run.result(timeout=WAIT) == "second attempt"
    rows = [line.split() for line in lines(tmp_path / "ids")]
    assert len(rows) == 2 and {flow_run for _, flow_run in rows} == {run.id}, rows
    assert rows[0][0] != rows[1][0]  # a new task run in the second attempt
