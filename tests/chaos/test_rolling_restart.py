"""A rolling restart: each worker in turn gets SIGTERM during a flow of a few thousand task
runs, a new worker started before the next stop. Nothing is lost, nothing recorded twice."""

from __future__ import annotations

import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import cloudpickle
from chaos_report import Counts, report
from integration_helpers import WAIT, outcomes, run_in_thread, wait_until

from floq import flow, task
from floq.runners import RedisTaskRunner
from floq.store.connection import connect
from floq.store.keys import Keys

cloudpickle.register_pickle_by_value(sys.modules[__name__])

TASKS = 3000
WORKERS = 3


@task
def step(x: int, folder: str) -> int:
    time.sleep(0.002)
    with (Path(folder) / f"{x % 16}.log").open("a") as out:  # one line per execution
        out.write(f"{x}\n")
    return x


def _executions(folder: Path) -> Counter[int]:
    return Counter(int(line) for path in folder.glob("*.log") for line in path.read_text().split())


def test_sigterm_to_each_worker_in_turn_loses_nothing(
    redis_url: str, namespace: str, workers: Any, tmp_path: Path
) -> None:
    done = tmp_path / "done"
    done.mkdir()
    for _ in range(WORKERS):
        workers.start("--concurrency", "8")
    workers.wait_registered(WORKERS)
    seen: dict[str, Any] = {}

    @flow(task_runner=RedisTaskRunner(url=redis_url, namespace=namespace))
    def summed(n: int) -> int:
        futures = step.map(range(n), str(done))
        seen["flow_run_id"] = futures[0].task_run.flow_run_id
        return sum(future.result() for future in futures)

    thread, result = run_in_thread(summed, TASKS)
    stopped = 0
    for turn in range(WORKERS):
        wait_until(
            lambda turn=turn: sum(_executions(done).values()) >= (turn + 1) * TASKS // 5,
            WAIT, f"progress before stop {turn + 1}",
        )  # fmt: skip
        workers.start("--concurrency", "8")  # the replacement first, then the stop
        old = workers.processes[turn]
        old.send_signal(signal.SIGTERM)
        assert old.wait(timeout=WAIT) == 0, workers.logs()
        stopped += 1
    thread.join(timeout=WAIT * 3)
    assert not thread.is_alive(), f"the flow hung\n{workers.logs()}"
    assert "error" not in result, f"{result.get('error')!r}\n{workers.logs()}"
    assert result["result"] == sum(range(TASKS))
    executed = _executions(done)
    assert set(executed) == set(range(TASKS)), "some task runs never ran"
    client = connect(redis_url)
    recorded = Counter(run for run, _ in outcomes(client, Keys(namespace), seen["flow_run_id"]))
    assert len(recorded) == TASKS and set(recorded.values()) == {1}, recorded.most_common(3)
    again = sum(executed.values()) - TASKS
    report(Counts.of(f"rolling restart: SIGTERM to {stopped} workers in turn", TASKS,
                     recorded.values(), rerun=again))  # fmt: skip
