"""Due retries go back on their queue when due, not on a polling tick (:mod:`floq.worker.upkeep`).

A worker promotes the retries it schedules when they are due, reads the next due time from
every promotion, and promotes at every heartbeat as well, so a retry left by a worker that
stopped is run by another. An idle worker's upkeep is a round trip or two a heartbeat.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import cloudpickle
from integration_helpers import WAIT, lines, wait_until

from floq import flow, task
from floq.store.connection import connect
from floq.store.keys import Keys

cloudpickle.register_pickle_by_value(sys.modules[__name__])


@task(retries=1, retry_delay_seconds=1.0)
def fails_once(path: str) -> str:
    """Appends ``<pid> <start time>``; the first attempt fails."""
    with open(path, "a") as out:
        out.write(f"{os.getpid()} {time.time()}\n")
    if len(Path(path).read_text().splitlines()) < 2:
        raise RuntimeError("the first attempt fails")
    return "ok"


def _attempts(path: Path) -> list[tuple[int, float]]:
    return [(int(pid), float(at)) for pid, at in (line.split() for line in lines(path))]


def test_a_retry_runs_when_due_however_long_the_heartbeat(runner, workers, tmp_path: Path) -> None:
    """The worker that scheduled the retry wakes for it: a 30 s heartbeat does not delay it."""
    workers.start("--concurrency", "2", FLOQ_HEARTBEAT_SECONDS="30", FLOQ_WORKER_TTL="60")
    workers.wait_registered(1)
    path = tmp_path / "attempts"

    @flow(task_runner=runner)
    def retrying() -> str:
        return fails_once.submit(str(path)).result(timeout=WAIT)

    assert retrying() == "ok"
    [(_, first), (_, second)] = _attempts(path)
    assert 1.0 <= second - first < 5.0, f"the retry ran {second - first:.2f} s after the first"


def test_a_retry_left_by_a_stopped_worker_runs_on_another(
    runner, workers, client: Any, keys: Keys, tmp_path: Path
) -> None:
    """The worker that ran the failed attempt stops before the retry is due; the other one,
    which was idle all along, learns its due time from the promotion at a heartbeat (0.5 s in
    the tests), promotes it and runs it."""
    pool = [workers.start("--concurrency", "2") for _ in range(2)]
    workers.wait_registered(2)
    path = tmp_path / "attempts"
    by_pid = {process.pid: process for process in pool}

    @flow(task_runner=runner)
    def retrying() -> str:
        future = fails_once.submit(str(path))
        wait_until(lambda: client.zcard(keys.retries), WAIT, "the retry in the retries set")
        [(pid, _)] = _attempts(path)
        first = by_pid[pid]  # concurrent mode: the task ran in the worker process itself
        first.send_signal(signal.SIGTERM)
        assert first.wait(WAIT) == 0, workers.logs()
        return future.result(timeout=WAIT)

    assert retrying() == "ok"
    [(first_pid, _), (second_pid, _)] = _attempts(path)
    assert second_pid != first_pid and second_pid in by_pid


def test_an_idle_worker_promotes_once_a_heartbeat(redis_url: str, workers, keys: Keys) -> None:
    """Over 3 s with a 1 s heartbeat, the worker's upkeep touches the retries set a few times
    (one script call a beat), not every 0.1 s as it once did."""
    workers.start("--concurrency", "2", FLOQ_HEARTBEAT_SECONDS="1", FLOQ_WORKER_TTL="5")
    workers.wait_registered(1)
    monitor_client = connect(redis_url)
    touched, deadline = 0, time.monotonic() + 3.0
    with monitor_client.monitor() as monitor:
        while time.monotonic() < deadline:
            command = monitor.next_command()["command"]  # the worker beats every second
            touched += command.startswith("EVALSHA") and keys.retries in command  # not its steps
    monitor_client.close()
    assert 1 <= touched <= 5, f"{touched} commands on {keys.retries} in 3 s"
