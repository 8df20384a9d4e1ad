"""Enqueued flow runs: RQ jobs run by flow slots, FlowRun handles from any process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import enqueued_flows
import pytest
from integration_helpers import WAIT, inflight, wait_until
from rq import Queue
from rq.job import Job

from floq.errors import FloqError
from floq.producer import FlowRun, enqueue
from floq.producer.jobs import TRAMPOLINE
from floq.store.keys import Keys, rq_queue_name
from floq.store.rq_jobs import JobSerializer

HERE = str(Path(__file__).parent)


def slot_worker(workers: Any, *args: str) -> None:
    workers.start("--flow-slots", "1", *args, PYTHONPATH=HERE)
    workers.wait_registered(len(workers.processes))


def test_enqueued_flow_runs_on_a_worker_and_is_fetched_elsewhere(
    workers: Any, redis_url: str, namespace: str
) -> None:
    slot_worker(workers)
    run = enqueue(enqueued_flows.sum_of_squares, (5,), url=redis_url, namespace=namespace)
    assert run.result(timeout=WAIT) == 0 + 1 + 4 + 9 + 16
    code = (
        "import json, sys; from floq.producer import FlowRun\n"
        "run = FlowRun.fetch(sys.argv[1], url=sys.argv[2], namespace=sys.argv[3])\n"
        "print(json.dumps([run.state.name, run.result()]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, run.id, redis_url, namespace],
        capture_output=True, text=True, timeout=WAIT, cwd=HERE,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["Completed", 30]
    assert int(run.record()["n:COMPLETED"]) == 5  # its task runs went through the streams


def test_rq_shows_the_flow_run_job_on_its_queue(
    client: Any, redis_url: str, namespace: str
) -> None:
    run = enqueue(enqueued_flows.sum_of_squares, (3,), queue="reports", url=redis_url,
                  namespace=namespace)  # fmt: skip
    queue = Queue(rq_queue_name(namespace, "reports"), connection=client, serializer=JobSerializer)
    assert queue.job_ids == [run.id]
    job = Job.fetch(run.id, connection=client)  # RQ's default serializer reads it too
    assert job.func_name == TRAMPOLINE
    assert job.description == "sum_of_squares(n=3)"
    assert job.get_status().value == "queued"
    assert run.state.name == "Pending"
    info = subprocess.run(
        [sys.executable, "-m", "rq.cli", "info", "--url", redis_url, f"{namespace}:reports"],
        capture_output=True, text=True, timeout=WAIT,
    )  # fmt: skip
    assert info.returncode == 0, info.stderr
    assert f"{namespace}:reports" in info.stdout and "1 jobs total" in info.stdout


def test_flow_retried_by_rq_ends_completed_after_three_runs(
    workers: Any, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    slot_worker(workers)
    counter = str(tmp_path / "runs")
    run = enqueue(enqueued_flows.flaky, (counter, 2), retries=2, url=redis_url,
                  namespace=namespace)  # fmt: skip
    state = run.wait(timeout=WAIT)
    assert state.name == "Completed", state
    assert run.result() == "succeeded on run 3"
    assert Path(counter).read_text() == "3"
    assert run.record()["attempts"] == b"3"


def test_flow_failing_every_retry_ends_failed(
    workers: Any, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    slot_worker(workers)
    run = enqueue(enqueued_flows.flaky, (str(tmp_path / "runs"), 5), retries=1, url=redis_url,
                  namespace=namespace)  # fmt: skip
    state = run.wait(timeout=WAIT)
    assert state.is_failed(), state
    with pytest.raises(RuntimeError, match="run 2 fails on purpose"):
        run.result()


def test_cancelling_a_running_flow_run(
    workers: Any, client: Any, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    slot_worker(workers, "--concurrency", "1")
    run = enqueue(enqueued_flows.long_one, (str(tmp_path), 5), url=redis_url,
                  namespace=namespace)  # fmt: skip
    wait_until(lambda: (tmp_path / "hold").exists(), WAIT, "the long task to start")
    started = time.monotonic()
    assert run.cancel().name == "Cancelled"
    job = Job.fetch(run.id, connection=client, serializer=JobSerializer)
    wait_until(lambda: job.get_status().value == "stopped", 10, "RQ to stop the flow run's job")
    assert time.monotonic() - started < 10
    assert run.wait(timeout=1).name == "Cancelled"
    # The queued task runs left the queue. The held one (a sync task on a thread) runs to its
    # end and its outcome is refused; then the worker's one slot is free, and nothing runs.
    assert not client.xlen(Keys(namespace).queue("default"))
    refused = "refused a late outcome"
    wait_until(lambda: refused in workers.logs(), WAIT, "the held task run to end")
    wait_until(lambda: inflight(client, namespace) == 0, WAIT, "a heartbeat with a free slot")
    assert not list(tmp_path.glob("touch-*"))
    assert run.state.name == "Cancelled"
    counts = {k: int(v) for k, v in run.record().items() if k.startswith("n:")}
    # All six end Cancelled: the five queued ones and the held one (its outcome was refused).
    assert counts == {"n:SUBMITTED": 6, "n:CANCELLED": 6}, counts


def test_fetch_of_an_unknown_run_names_it(redis_url: str, namespace: str) -> None:
    with pytest.raises(FloqError, match="no flow run 'nope'"):
        FlowRun.fetch("nope", url=redis_url, namespace=namespace)


def test_enqueue_checks_the_arguments_at_once(redis_url: str, namespace: str) -> None:
    with pytest.raises(TypeError, match="sum_of_squares"):
        enqueue(enqueued_flows.sum_of_squares, (1, 2), url=redis_url, namespace=namespace)


@pytest.mark.parametrize(
    ("mode", "use_async"), [(["--mode", "parallel", "--processes", "1"], False), ([], True)]
)
def test_cancel_interrupts_running_process_and_async_task_runs(
    workers: Any, client: Any, redis_url: str, namespace: str, tmp_path: Path,
    mode: list[str], use_async: bool,
) -> None:  # fmt: skip
    slot_worker(workers, *mode)
    run = enqueue(enqueued_flows.stuck, (str(tmp_path), use_async), url=redis_url,
                  namespace=namespace)  # fmt: skip
    wait_until(lambda: (tmp_path / "hold").exists(), WAIT, "the task to start")
    wait_until(lambda: inflight(client, namespace) == 1, WAIT, "a heartbeat showing the task")
    run.cancel()
    # The 60 s task is interrupted on the worker's next heartbeat (0.5 s in the tests).
    wait_until(lambda: inflight(client, namespace) == 0, 15, "the task run to be interrupted")
    assert "interrupting 1 task run(s)" in workers.logs()
    [row] = run.task_runs()
    assert row.state == "Cancelled"
    assert run.state.name == "Cancelled"


def test_two_flow_slots_run_two_flow_runs_at_once(
    workers: Any, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    workers.start("--flow-slots", "2", PYTHONPATH=HERE)
    workers.wait_registered(1)
    folder = str(tmp_path)
    runs = [
        enqueue(enqueued_flows.meet, (folder, a, b), url=redis_url, namespace=namespace)
        for a, b in (("a", "b"), ("b", "a"))
    ]
    assert [run.result(timeout=WAIT) for run in runs] == ["a", "b"]


def test_a_delayed_flow_run_is_scheduled_then_runs(
    workers: Any, redis_url: str, namespace: str
) -> None:
    slot_worker(workers)
    run = enqueue(enqueued_flows.sum_of_squares, (3,), delay=2, url=redis_url,
                  namespace=namespace)  # fmt: skip
    assert run.state.name == "Scheduled"
    assert run.result(timeout=WAIT) == 5
    started = float(run.record()["started"])
    assert started - float(run.record()["created"]) >= 1.0  # RQ's scheduler counts whole seconds


MAIN_SCRIPT = """
import json, os, sys
from floq import flow, task
from floq.producer import enqueue
from floq.store.keys import Keys

def make_offset(k):
    return lambda x: x + k  # a closure from __main__: it travels by value

shift = make_offset(int(sys.argv[3]))

@task
def bump(x):
    return shift(x)

@flow
def shifted(xs):
    return [f.result() for f in bump.map(xs)]

if __name__ == "__main__":
    run = enqueue(shifted, ([1, 2, 3],), url=sys.argv[1], namespace=sys.argv[2])
    print(json.dumps(run.result(timeout=30)))
"""


def test_a_flow_from_main_with_a_closure_can_be_enqueued(
    workers: Any, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    slot_worker(workers)  # its PYTHONPATH does not hold the script
    script = tmp_path / "enqueue_from_main.py"
    script.write_text(MAIN_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), redis_url, namespace, "100"],
        capture_output=True, text=True, timeout=WAIT + 10, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [101, 102, 103]


def test_sigterm_lets_a_running_flow_run_finish_its_task_runs(
    workers: Any, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    worker = workers.start("--flow-slots", "1", PYTHONPATH=HERE)  # the only worker
    workers.wait_registered(1)
    run = enqueue(enqueued_flows.two_naps, (str(tmp_path),), url=redis_url, namespace=namespace)
    wait_until(lambda: (tmp_path / "first").exists(), WAIT, "the first task run")
    worker.send_signal(signal.SIGTERM)
    # The second task run is submitted after SIGTERM: the worker still runs it for the flow.
    assert run.result(timeout=WAIT) == 8
    assert worker.wait(timeout=WAIT) == 0
