"""Ctrl-C on a flow-worker, as a terminal sends it (SIGINT to the whole process group).

The first drains and says so; a second hands the unfinished runs back to the queue at once.
Either way no run ends Crashed, no result is recorded twice, no KeyboardInterrupt reaches the
flow, and nothing prints a traceback.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cloudpickle
import enqueued_flows
import pytest
from integration_helpers import WAIT, WORKER_CLI, lines, outcomes, wait_until
from shared_tasks import held

from floq import flow, get_run_logger, task
from floq.producer import enqueue
from proctree import alive, descendants

cloudpickle.register_pickle_by_value(sys.modules[__name__])

PARALLEL = ("--mode", "parallel", "--processes", "2")
CONCURRENT = ("--concurrency", "4")


@task
def nap(marks: str, i: int, seconds: float) -> int:
    """Marks its start (pid), logs, sleeps, returns ``i * i``."""
    with open(marks, "a") as out:
        out.write(f"{os.getpid()}\n")
    get_run_logger().info("napping %d", i)
    time.sleep(seconds)
    return i * i


def start_in_own_group(
    workers: Any, *args: str, **env: str
) -> tuple[subprocess.Popen[bytes], Path]:
    """A flow-worker leading a process group of its own (as in a terminal); its stderr file."""
    index = len(workers.processes)
    stderr = workers.log_dir / f"worker-{index}.log"  # where workers.logs() reads
    process = subprocess.Popen(
        [*WORKER_CLI, "--name", f"w{index}-{workers.namespace}", *args],
        env=workers.env(**env), stdout=subprocess.DEVNULL, stderr=stderr.open("wb"),
        start_new_session=True,
    )  # fmt: skip
    workers.processes.append(process)
    return process, stderr


def ctrl_c(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGINT)


def assert_clean(stderr: Path) -> str:
    text = stderr.read_text()
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    return text


def recorded_once(client: Any, keys: Any, futures: list[Any]) -> None:
    """Every task run has exactly one outcome in its flow run's results, and it is Completed."""
    flow_run_id = futures[0].task_run.flow_run_id
    recorded = outcomes(client, keys, flow_run_id)
    assert sorted(run_id for run_id, _ in recorded) == sorted(f.task_run_id for f in futures)
    assert all(state.is_completed() for _, state in recorded), recorded


@pytest.mark.parametrize("mode", [PARALLEL, CONCURRENT], ids=["parallel", "concurrent"])
def test_ctrl_c_drains_the_task_runs_in_flight(
    mode: tuple[str, ...], runner: Any, workers: Any, client: Any, keys: Any, tmp_path: Path
) -> None:
    worker, stderr = start_in_own_group(workers, *mode)
    workers.wait_registered(1)
    marks = tmp_path / "marks"
    seen: dict[str, Any] = {}

    @flow(task_runner=runner)
    def drained() -> list[int]:
        futures = [nap.submit(str(marks), i, 2.0) for i in range(2)]
        seen["futures"] = futures
        wait_until(lambda: len(lines(marks)) == 2, WAIT, "both task runs to start")
        ctrl_c(worker)
        return [future.result(timeout=WAIT) for future in futures]

    state = drained(return_state=True)
    assert state.is_completed(), state
    assert state.result() == [0, 1]
    assert worker.wait(timeout=WAIT) == 0, workers.logs()
    text = assert_clean(stderr)
    assert "draining: 2 task runs in flight, up to 10 s; Ctrl-C again to hand them back" in text
    assert "handing back" not in text
    # Each ran once, where it started; the task's log lines carry the daemon's format.
    assert len(lines(marks)) == 2
    assert re.search(r"^\d\d:\d\d:\d\d INFO .*napping 1$", text, re.MULTILINE), text
    recorded_once(client, keys, seen["futures"])


@pytest.mark.parametrize("mode", [PARALLEL, CONCURRENT], ids=["parallel", "concurrent"])
def test_a_second_ctrl_c_hands_the_runs_back_to_another_worker(
    mode: tuple[str, ...], runner: Any, workers: Any, client: Any, keys: Any, tmp_path: Path
) -> None:
    first, stderr = start_in_own_group(workers, *mode)
    workers.wait_registered(1)
    children = descendants(first.pid)
    marks, release = tmp_path / "marks", tmp_path / "release"
    seen: dict[str, Any] = {}

    @flow(task_runner=runner)
    def handed_back() -> list[int]:
        futures = [held.submit(str(marks), str(release), i) for i in range(2)]
        seen["futures"] = futures
        wait_until(lambda: len(lines(marks)) == 2, WAIT, "both task runs to start")
        ctrl_c(first)
        wait_until(lambda: "draining" in stderr.read_text(), WAIT, "the worker to drain")
        ctrl_c(first)
        seen["exit"] = first.wait(timeout=15)  # not the 60 s the first attempts would take
        release.touch()
        seen["second"] = workers.start(*mode)
        return [future.result(timeout=WAIT) for future in futures]

    state = handed_back(return_state=True)
    assert state.is_completed(), f"{state}\n{workers.logs()}"
    assert state.result() == [0, 1]
    assert seen["exit"] == 0
    text = assert_clean(stderr)
    assert "stopping now: handing back 2 task runs" in text, text
    assert not [pid for pid in children if alive(pid)], "the first worker's processes live on"
    first_pids, second_pids = lines(marks)[:2], lines(marks)[2:]
    assert len(second_pids) == 2 and not set(first_pids) & set(second_pids), lines(marks)
    recorded_once(client, keys, seen["futures"])


def test_idle_ctrl_c_exits_cleanly_in_parallel_mode(workers: Any) -> None:
    worker, stderr = start_in_own_group(workers, *PARALLEL)
    workers.wait_registered(1)
    children = wait_until(lambda: descendants(worker.pid), WAIT, "the pool's processes")
    ctrl_c(worker)
    assert worker.wait(timeout=WAIT) == 0
    text = assert_clean(stderr)
    assert "stopping: nothing in flight" in text
    wait_until(lambda: not any(map(alive, children)), 10, "the pool's processes to end")


def test_idle_ctrl_c_exits_cleanly_in_dask_mode_with_a_local_cluster(workers: Any) -> None:
    pytest.importorskip("distributed")
    worker, stderr = start_in_own_group(workers, "--mode", "dask")
    workers.wait_registered(1, timeout=60)
    text = stderr.read_text()
    found = re.search(r"LocalCluster of (\d+) worker process\(es\), scheduler tcp://\S+", text)
    assert found and int(found.group(1)) >= 1, text
    children = descendants(worker.pid)
    ctrl_c(worker)
    assert worker.wait(timeout=WAIT) == 0, text
    assert_clean(stderr)
    wait_until(lambda: not any(map(alive, children)), 15, "the cluster's processes to end")


def test_ctrl_c_lets_a_flow_slot_finish_its_flow_run(
    workers: Any, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    here = str(Path(__file__).parent)
    worker, stderr = start_in_own_group(workers, *PARALLEL, "--flow-slots", "1", PYTHONPATH=here)
    workers.wait_registered(1)
    run = enqueue(enqueued_flows.two_naps, (str(tmp_path),), url=redis_url, namespace=namespace)
    wait_until(lambda: (tmp_path / "first").exists(), WAIT, f"the first task run\n{workers.logs()}")
    ctrl_c(worker)
    # The slot and its work horse never see the Ctrl-C: the flow run goes on, and the worker
    # still runs the task run the flow submits after it.
    assert run.result(timeout=WAIT) == 8
    assert worker.wait(timeout=WAIT) == 0
    text = assert_clean(stderr)
    draining = "draining: 1 task run in flight, 1 flow slot finishing any flow run it has, up to 10"
    assert draining in text, text


def test_a_second_ctrl_c_stops_a_busy_flow_slot_with_rqs_cold_shutdown(
    workers: Any, client: Any, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    from rq import Queue, Worker

    here = str(Path(__file__).parent)
    worker, stderr = start_in_own_group(workers, "--flow-slots", "1", PYTHONPATH=here)
    workers.wait_registered(1)
    enqueue(enqueued_flows.stuck, (str(tmp_path), False), url=redis_url, namespace=namespace)
    wait_until(lambda: (tmp_path / "hold").exists(), WAIT, f"the task run\n{workers.logs()}")
    started = descendants(worker.pid)
    ctrl_c(worker)
    wait_until(lambda: "draining" in stderr.read_text(), WAIT, "the worker to drain")
    ctrl_c(worker)
    assert worker.wait(timeout=15) == 0  # not the minute the flow run would take
    text = assert_clean(stderr)
    assert "stopping the flow run(s) they hold" in text and "killing" not in text, text
    assert not [pid for pid in started if alive(pid)]
    rq_queue = Queue(f"{namespace}:default", connection=client)
    assert Worker.all(connection=client, queue=rq_queue) == []  # RQ's worker said goodbye
