"""Reaping needs no peer on the same queue: any live worker of the namespace hands a killed
worker's claims back to their own queue, where they wait for a worker of that queue."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import cloudpickle
from integration_helpers import WAIT, lines, outcomes, wait_until

from floq import flow, task
from floq.runners import RedisTaskRunner
from floq.store.keys import GROUP

cloudpickle.register_pickle_by_value(sys.modules[__name__])


@task
def marked(path: str, seconds: float) -> str:
    with open(path, "a") as out:
        out.write(f"{os.getpid()}\n")
    time.sleep(seconds)
    return "done"


def _consumers(client: Any, stream: str) -> dict[str, int]:
    """Pending entries by consumer name on ``stream``."""
    return {c["name"].decode(): c["pending"] for c in client.xinfo_consumers(stream, GROUP)}


def test_a_worker_of_another_queue_hands_back_a_killed_workers_claims(
    workers: Any, client: Any, keys: Any, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    only = workers.start("--queue", "np", "--concurrency", "2")  # A: the only one on np
    workers.start("--queue", "default", "--concurrency", "2")  # B: never serves np
    workers.wait_registered(2)
    a_name, b_log = f"w0-{namespace}", tmp_path / "worker-1.log"
    stream = keys.queue("np")
    marks = tmp_path / "marks"
    seen: dict[str, Any] = {}

    @flow(task_runner=RedisTaskRunner(url=redis_url, namespace=namespace, queue="np"))
    def reaped() -> str:
        future = marked.submit(str(marks), 2.0)
        seen["future"] = future
        wait_until(lambda: lines(marks), WAIT, "A to start the task run")
        assert _consumers(client, stream) == {a_name: 1}
        only.send_signal(signal.SIGKILL)
        only.wait(timeout=WAIT)
        try:  # B reaps A's claim once A's heartbeat lapses (2 s here): back on np, unclaimed.
            wait_until(lambda: a_name not in _consumers(client, stream), WAIT, "B to reap A")
            seen["reaped"] = (client.xlen(stream), _consumers(client, stream))
        finally:  # C runs it (and, should B not have reaped, C does: the flow still ends)
            seen["c"] = workers.start("--queue", "np", "--concurrency", "2")
        return future.result(timeout=WAIT)

    assert reaped() == "done", workers.logs()
    assert seen["reaped"] == (1, {})
    assert f"handed back 1 task run(s) of worker {a_name} on queue np" in b_log.read_text()
    assert lines(marks) == [str(only.pid), str(seen["c"].pid)]
    future = seen["future"]
    mine = [s for run_id, s in outcomes(client, keys, future.task_run.flow_run_id)]
    assert len(mine) == 1 and mine[0].is_completed(), mine


@task
def plus_one(x: int) -> int:
    return x + 1


def test_a_live_worker_hands_back_entries_claimed_under_its_name_but_never_received(
    workers: Any, client: Any, keys: Any, redis_url: str, namespace: str
) -> None:
    """A claim whose reply a Redis outage lost: the server delivered the entries to the
    worker's name, the worker never got them. Nobody reaps a live worker, so it must find
    them itself (``Upkeep.hand_back_orphans``), or its flow would wait for ever."""
    name, stream = f"w0-{namespace}", keys.queue("default")
    seen: dict[str, Any] = {}

    @flow(task_runner=RedisTaskRunner(url=redis_url, namespace=namespace))
    def orphaned() -> list[int]:
        futures = plus_one.map(range(6))
        wait_until(lambda: client.xlen(stream) >= 6, WAIT, "the entries on the queue")
        lost = client.xreadgroup(GROUP, name, {stream: ">"}, count=2)  # the lost reply
        seen["lost"] = len(lost[0][1])
        workers.start("--concurrency", "2")  # the worker of that name, alive all along
        return [future.result(timeout=WAIT) for future in futures]

    started = time.monotonic()
    assert orphaned() == [1, 2, 3, 4, 5, 6]
    assert seen["lost"] == 2
    assert "never received" in workers.logs(), workers.logs()
    print(f"orphans handed back and run within {time.monotonic() - started:.1f} s")
