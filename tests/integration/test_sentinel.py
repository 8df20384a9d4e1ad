"""Sentinel: a flow rides out ``SENTINEL FAILOVER`` in the middle of its run.

A master, a replica and a Sentinel on loopback ports (Debian's ``redis-server``, started by
the test, see ``servers.py``); two flow-workers and the flow's coordinator all talk to
``redis+sentinel://.../floqmaster/0``. Every result arrives, and each task run's outcome is
recorded once (execution may repeat: the model is at-least-once).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import cloudpickle
from integration_helpers import WAIT, outcomes, run_in_thread, wait_until

from floq import flow, task
from floq.runners import RedisTaskRunner
from floq.store.connection import connect
from floq.store.keys import Keys
from servers import sentinel_set

cloudpickle.register_pickle_by_value(sys.modules[__name__])

TASKS = 300


@task
def step(x: int, folder: str) -> int:
    time.sleep(0.1)
    (Path(folder) / f"{x}-{time.monotonic_ns()}").touch()  # one file per execution
    return x * 3


def test_a_flow_survives_a_sentinel_failover(tmp_path: Path, namespace: str, workers: Any) -> None:
    done_dir = tmp_path / "done"
    done_dir.mkdir()
    with sentinel_set(tmp_path / "servers") as servers:
        workers.url = servers.url
        for _ in range(2):
            workers.start("--concurrency", "4")
        workers.wait_registered(2)
        seen: dict[str, Any] = {}

        @flow(task_runner=RedisTaskRunner(url=servers.url, namespace=namespace))
        def tripled(n: int) -> int:
            futures = step.map(range(n), str(done_dir))
            seen["flow_run_id"] = futures[0].task_run.flow_run_id
            return sum(future.result(timeout=WAIT * 3) for future in futures)

        thread, result = run_in_thread(tripled, TASKS)
        wait_until(lambda: len(list(done_dir.iterdir())) >= TASKS // 5, WAIT, "a fifth done")
        old = servers.master_port()
        new = servers.failover()
        assert new != old
        progress = len(list(done_dir.iterdir()))
        assert progress < TASKS, "the flow ended before the failover: make the tasks slower"
        thread.join(timeout=WAIT * 2.5)
        assert not thread.is_alive(), f"the flow hung after the failover\n{workers.logs()}"
        assert "error" not in result, f"{result.get('error')!r}\n{workers.logs()}"
        assert result["result"] == 3 * sum(range(TASKS))
        client = connect(servers.url)
        recorded = Counter(
            run_id for run_id, _ in outcomes(client, Keys(namespace), seen["flow_run_id"])
        )
        assert len(recorded) == TASKS and set(recorded.values()) == {1}, recorded.most_common(3)
        executed = Counter(path.name.split("-")[0] for path in done_dir.iterdir())
        assert len(executed) == TASKS
        assert "Traceback" not in workers.logs(), workers.logs()
        print(f"failover at {progress}/{TASKS} executions; {sum(executed.values())} in all")
        workers.stop()
