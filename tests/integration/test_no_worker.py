"""A run that nothing will run says why: the embedded server is announced in every process that
falls back to it, and waits on a Pending flow run or a coordinator whose queue no live worker
serves warn, naming the queue and the server. Real servers, real flow-workers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import enqueued_flows
import pytest
from integration_helpers import FLOQ_CLI, WAIT, clean_env, run_cli, wait_until

from floq import flow
from floq.producer import enqueue
from floq.runners import RedisTaskRunner

HERE = str(Path(__file__).parent)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def warnings() -> Iterator[Records]:
    """WARNINGs of the floq.producer and floq.runners loggers."""
    records = Records()
    loggers = [logging.getLogger(name) for name in ("floq.producer", "floq.runners")]
    for logger in loggers:
        logger.addHandler(records)
    yield records
    for logger in loggers:
        logger.removeHandler(records)


def test_each_process_says_it_uses_the_embedded_server(tmp_path: Path) -> None:
    env = clean_env(FLOQ_HOME=str(tmp_path))
    try:
        first = run_cli(FLOQ_CLI, "runs", env=env)
        again = run_cli(FLOQ_CLI, "runs", env=env)  # reuses the server: says so all the same
    finally:
        run_cli(FLOQ_CLI, "server", "--stop", env=env)
    for done in (first, again):
        assert done.returncode == 0, done.stderr
        [line] = [x for x in done.stderr.splitlines() if "embedded server" in x]
        assert line.startswith("floq: no FLOQ_REDIS_URL set; using the embedded server at redis")
        assert "(workers must use the same URL)" in line
    url = first.stderr.split(" at ")[1].split()[0]
    assert url in again.stderr


def test_a_wait_on_a_pending_run_names_the_queue_no_worker_serves(
    workers: Any, redis_url: str, namespace: str, warnings: Records
) -> None:
    workers.start("--flow-slots", "1", "--queue", "other", PYTHONPATH=HERE)  # does not count
    workers.start("--flow-slots", "0", "--queue", "lonely", PYTHONPATH=HERE)  # runs no flows
    workers.wait_registered(2)
    run = enqueue(enqueued_flows.sum_of_squares, (2,), queue="lonely", url=redis_url,
                  namespace=namespace)  # fmt: skip
    expected = f"no live worker serves queue 'lonely' on {redis_url}"
    assert run.wait(timeout=2.5).is_pending()
    [warning] = warnings.messages
    assert expected in warning and run.id in warning
    with pytest.raises(TimeoutError, match=expected) as info:
        run.result(timeout=0.2)
    assert "flow slot" in str(info.value)  # the worker on 'lonely' runs task runs only

    workers.start("--flow-slots", "1", "--queue", "lonely", PYTHONPATH=HERE)
    warnings.messages.clear()
    assert run.result(timeout=WAIT) == 1
    assert warnings.messages == []


def test_a_coordinator_whose_queue_no_worker_serves_warns(
    workers: Any, redis_url: str, namespace: str, warnings: Records
) -> None:
    workers.start("--queue", "other", PYTHONPATH=HERE)  # serves another queue: does not count
    workers.wait_registered(1)
    runner = RedisTaskRunner(url=redis_url, queue="lonely-tasks", namespace=namespace)

    @flow(task_runner=runner)
    def one_square() -> int:
        return enqueued_flows.square.submit(3).result()

    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(one_square()), daemon=True)
    thread.start()
    expected = f"no live worker serves queue 'lonely-tasks' on {redis_url}"
    found = wait_until(
        lambda: [m for m in warnings.messages if expected in m], WAIT, "the coordinator's warning"
    )
    assert found[0].startswith("1 task run(s) wait: ")
    workers.start("--queue", "lonely-tasks", PYTHONPATH=HERE)
    thread.join(WAIT)
    assert results == [9]
    assert len([m for m in warnings.messages if expected in m]) == 1  # once


def test_floq_enqueue_wait_and_watch_time_out_saying_why(redis_url: str, namespace: str) -> None:
    env = clean_env(FLOQ_REDIS_URL=redis_url, FLOQ_NAMESPACE=namespace, PYTHONPATH=HERE)
    args = ["enqueued_flows:sum_of_squares", "-p", "n=1", "--queue", "nobody"]
    waited = run_cli(FLOQ_CLI, "enqueue", *args, "--wait", "--timeout", "0.5", env=env)
    run_id = waited.stdout.strip()
    watched = run_cli(FLOQ_CLI, "watch", run_id, "--timeout", "0.5", env=env)
    expected = f"no live worker serves queue 'nobody' on {redis_url}"
    for done in (waited, watched):
        assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
        [line] = done.stderr.strip().splitlines()  # the error says why; no warning besides
        assert line.startswith(f"Error: flow run {run_id} is still Pending") and expected in line
