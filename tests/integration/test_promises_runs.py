"""README promises about runs, through real flow-workers: an enqueued flow's retry delay, the
cancellation of waiting and delayed task runs, and parallel-mode timeouts that stop the work."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import cloudpickle
import enqueued_flows
import promise_flows
from integration_helpers import WAIT, lines, wait_until

from floq import flow, task
from floq.producer import enqueue

cloudpickle.register_pickle_by_value(sys.modules[__name__])

HERE = str(Path(__file__).parent)


@task(timeout_seconds=1.0)
def ticks_for_ten_seconds(path: str) -> str:
    """Appends a line every 0.05 s for 10 s, unless it is stopped."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(path, "a") as out:
            out.write("tick\n")
        time.sleep(0.05)
    return "never stopped"


@task
def pid() -> int:
    import os

    return os.getpid()


def test_an_enqueued_flows_retry_delay_is_honoured(
    workers: Any, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    workers.start("--flow-slots", "1", PYTHONPATH=HERE)
    workers.wait_registered(1)
    starts = tmp_path / "starts"
    run = enqueue(promise_flows.fails_first_run, (str(starts),), retries=1,
                  retry_delay_seconds=2, url=redis_url, namespace=namespace)  # fmt: skip
    assert run.result(timeout=WAIT) == "run 2", workers.logs()
    first, second = (float(line) for line in lines(starts))
    assert 1.9 <= second - first < 15, second - first


def test_cancel_reaches_upstream_blocked_and_delayed_task_runs(
    workers: Any, client: Any, keys: Any, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    workers.start("--flow-slots", "1", "--concurrency", "4", PYTHONPATH=HERE)
    workers.wait_registered(1)
    run = enqueue(promise_flows.blocked_and_delayed, (str(tmp_path),), url=redis_url,
                  namespace=namespace)  # fmt: skip
    counter = tmp_path / "counter"
    wait_until(lambda: (tmp_path / "gate").exists(), WAIT, "the slow upstream to start")
    wait_until(lambda: client.zcard(keys.retries) == 1, WAIT, "the retry to wait in Redis")
    failed_at = time.monotonic()
    assert run.cancel().name == "Cancelled"
    assert client.zcard(keys.retries) == 0  # the delayed retry left the retry set
    states = {row.name.split("-")[0]: row.state for row in run.task_runs()}
    assert states["touch"] == "Cancelled" and states["fails_once"] == "Cancelled", states
    # The upstream runs to its end (a sync task on a thread); its outcome is refused and
    # releases nothing. Watch until well past the retry's due time (3 s after the failure).
    wait_until(lambda: "refused" in workers.logs(), WAIT, "the upstream's refused outcome")
    time.sleep(max(0.0, failed_at + 4.5 - time.monotonic()))
    assert not (tmp_path / "after").exists(), "a cancelled downstream ran"
    assert lines(counter) == ["attempt"], "a cancelled retry ran"


def test_a_parallel_mode_timeout_stops_the_work(runner: Any, workers: Any, tmp_path: Path) -> None:
    workers.start("--mode", "parallel", "--processes", "1")
    workers.wait_registered(1)
    ticks = tmp_path / "ticks"
    seen: dict[str, Any] = {}

    @flow(task_runner=runner)
    def times_out() -> int:
        future = ticks_for_ten_seconds.submit(str(ticks))
        seen["state"] = future.wait(timeout=WAIT)
        seen["ticks"] = len(lines(ticks))
        time.sleep(1.0)  # the work, had it not been stopped, would add ~20 ticks meanwhile
        seen["ticks_later"] = len(lines(ticks))
        return pid.submit().result(timeout=WAIT)  # the one process is free again

    assert isinstance(times_out(), int)
    assert seen["state"].name == "TimedOut", seen["state"]
    assert 0 < seen["ticks"] < 60, seen["ticks"]
    assert seen["ticks_later"] - seen["ticks"] <= 1, seen


def test_a_dead_flow_slot_is_started_again(
    workers: Any, client: Any, keys: Any, redis_url: str, namespace: str
) -> None:
    from floq.store.workers import live_workers

    workers.start("--flow-slots", "1", PYTHONPATH=HERE)
    workers.wait_registered(1)

    def slot_pids() -> list[int]:
        return [slot["pid"] for w in live_workers(client, keys) for slot in w["flow_slot_workers"]]

    [first] = wait_until(slot_pids, WAIT, "the flow slot in the heartbeat")
    os.kill(first, signal.SIGKILL)
    [second] = wait_until(
        lambda: [pid for pid in slot_pids() if pid != first], WAIT, "a new flow slot"
    )
    assert second != first
    run = enqueue(enqueued_flows.sum_of_squares, (5,), url=redis_url, namespace=namespace)
    assert run.result(timeout=WAIT) == 30, workers.logs()  # the new slot ran the flow run
    assert "flow slot 0 exited" in workers.logs()
