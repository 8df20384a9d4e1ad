"""Errors on the worker side of a run reach the app: the real exception, its traceback, its lines.

Real flow-workers run the flow runs and task runs; every wait is bounded.
"""

from __future__ import annotations

import importlib
import json
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import enqueued_flows
import pytest
from integration_helpers import FLOQ_CLI, WAIT, clean_env, run_cli, wait_until

from floq import flow
from floq.errors import FloqError, RemoteTraceback
from floq.producer import enqueue
from floq.runners import TaskRunner
from floq.runs import short_id
from floq.store.keys import Keys

HERE = str(Path(__file__).parent)

FLOW_MODULE = """
from floq import flow
{module_import}

@flow
def uses_helpers(x: int) -> int:
    {body_import}
    return helpers.double(x)
"""


def _flow_module(tmp_path: Path, name: str, at_module_level: bool) -> Any:
    """A flow module importing a sibling ``helpers``; importable here, not on the worker."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "helpers.py").write_text("def double(x):\n    return 2 * x\n")
    imports = ("import helpers", "") if at_module_level else ("", "import helpers")
    source = FLOW_MODULE.format(module_import=imports[0], body_import=imports[1])
    (app / f"{name}.py").write_text(source)
    worker_path = tmp_path / "worker"  # the worker has the flow's module, not its sibling
    worker_path.mkdir()
    (worker_path / f"{name}.py").write_text(source)
    sys.path.insert(0, str(app))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(app))


@pytest.mark.parametrize("at_module_level", [True, False], ids=["on-decode", "in-the-flow"])
def test_a_module_the_worker_cannot_import_fails_the_run_with_that_error(
    workers: Any, redis_url: str, namespace: str, tmp_path: Path, at_module_level: bool
) -> None:
    name = f"flow_with_helpers_{'top' if at_module_level else 'body'}"
    module = _flow_module(tmp_path, name, at_module_level)
    workers.start("--flow-slots", "1", PYTHONPATH=str(tmp_path / "worker"))
    workers.wait_registered(1)
    run = enqueue(module.uses_helpers, (3,), url=redis_url, namespace=namespace)
    state = run.wait(timeout=WAIT)
    assert state.is_failed(), (state, workers.logs())
    with pytest.raises(Exception, match="No module named 'helpers'") as raised:
        run.result()
    error = raised.value
    if at_module_level:  # a floq error naming it: the flow call itself cannot be decoded
        assert isinstance(error, FloqError) and error.run_id == run.id
    else:  # the flow's own exception, of its own type
        assert type(error) is ModuleNotFoundError
    assert isinstance(error.__cause__, RemoteTraceback)
    assert "ModuleNotFoundError: No module named 'helpers'" in str(error.__cause__)
    record = run.record()
    assert record["type"] == b"FAILED"
    assert b"ModuleNotFoundError: No module named 'helpers'" in record["message"]
    env = clean_env(FLOQ_REDIS_URL=redis_url, FLOQ_NAMESPACE=namespace)
    watched = run_cli(FLOQ_CLI, "watch", run.id, env=env)
    assert watched.returncode == 1
    assert watched.stdout.splitlines()[-1].startswith("Failed: ")
    assert "No module named 'helpers'" in watched.stdout
    inspected = run_cli(FLOQ_CLI, "inspect", run.id, "--json", env=env)
    assert "No module named 'helpers'" in json.loads(inspected.stdout)["message"]


def test_a_run_that_cannot_be_decoded_is_retried_by_rq_then_fails(
    workers: Any, client: Any, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    module = _flow_module(tmp_path, "flow_with_helpers_retried", at_module_level=True)
    workers.start("--flow-slots", "1", PYTHONPATH=str(tmp_path / "worker"))
    workers.wait_registered(1)
    run = enqueue(module.uses_helpers, (3,), retries=1, url=redis_url, namespace=namespace)
    state = run.wait(timeout=WAIT)
    assert state.is_failed(), state
    assert run.record()["attempts"] == b"2"
    assert "No module named 'helpers'" in state.message
    events = client.xrange(Keys(namespace).events(run.id))
    names = [fields[b"state"].decode() for _, fields in events]
    assert names == ["Pending", "Running", "AwaitingRetry", "Running", "Failed"], names


def test_flow_run_result_carries_the_workers_traceback_and_it_is_logged_once(
    workers: Any, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    workers.start("--flow-slots", "1", PYTHONPATH=HERE)
    workers.wait_registered(1)
    run = enqueue(enqueued_flows.flaky, (str(tmp_path / "runs"), 5), url=redis_url,
                  namespace=namespace)  # fmt: skip
    with pytest.raises(RuntimeError, match="run 1 fails on purpose") as raised:
        run.result(timeout=WAIT)
    remote = raised.value.__cause__
    assert isinstance(remote, RemoteTraceback)
    assert 'raise RuntimeError(f"run {runs} fails on purpose")' in str(remote)
    assert "in flaky" in str(remote)
    shown = "".join(traceback.format_exception(raised.value))
    assert shown.index("enqueued_flows.py") < shown.index("in result")  # worker's, then ours
    rq_logged = "exception raised while executing"
    wait_until(lambda: rq_logged in _logs(tmp_path), WAIT, "RQ to log the failure")
    logs = _logs(tmp_path)
    assert logs.count("Traceback (most recent call last)") == 1, logs
    assert logs.count(f"(flaky-{short_id(run.id)}) finished: Failed") == 1, logs


class BrokenRunner(TaskRunner):
    """A task runner that cannot start (as a Dask runner whose cluster is unreachable)."""

    def start(self) -> None:
        raise ConnectionRefusedError("no cluster at tcp://nowhere:8786")

    def _launch(self, call: Any, future: Any) -> None:
        raise AssertionError("never started")


@flow(task_runner=BrokenRunner())
def with_a_broken_runner() -> int:
    return 1


def test_a_task_runner_that_cannot_start_fails_the_run_with_its_error(
    workers: Any, redis_url: str, namespace: str
) -> None:
    workers.start("--flow-slots", "1", PYTHONPATH=HERE)
    workers.wait_registered(1)
    run = enqueue(with_a_broken_runner, url=redis_url, namespace=namespace)
    with pytest.raises(ConnectionRefusedError, match="no cluster at") as raised:
        run.result(timeout=WAIT)
    assert "in start" in str(raised.value.__cause__)
    assert run.state.is_failed()
    assert "ConnectionRefusedError: no cluster at" in run.state.message


def _logs(folder: Path) -> str:
    """All the worker logs of a test (``workers.logs()`` keeps only their ends)."""
    return "".join(path.read_text() for path in sorted(folder.glob("worker-*.log")))


SCRIPT = """
import sys
import traceback

from floq import flow, task
from floq.runners import RedisTaskRunner


@task
def unlucky(x):
    if x:
        raise ValueError("no luck with " + str(x))  # the line the worker must show
    return x


@flow(task_runner=RedisTaskRunner(url=sys.argv[1], namespace=sys.argv[2]))
def tries():
    return unlucky.submit(7).result(timeout=60)


if __name__ == "__main__":
    try:
        tries()
    except ValueError as error:
        print("".join(traceback.format_exception(error)))
"""


def test_worker_tracebacks_show_the_lines_of_code_shipped_by_value(
    workers: Any, client: Any, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    """The script is gone by the time the worker runs its task: the lines come with the code."""
    script = tmp_path / "gone_script.py"
    script.write_text(SCRIPT)
    line = 'raise ValueError("no luck with " + str(x))  # the line the worker must show'
    number = SCRIPT.splitlines().index(f"        {line}") + 1
    app = subprocess.Popen(
        [sys.executable, str(script), redis_url, namespace],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        queue = Keys(namespace).queue("default")
        wait_until(lambda: client.xlen(queue), WAIT, "the task run to be queued")
        script.unlink()
        workers.start("--concurrency", "2")
        out, err = app.communicate(timeout=WAIT)
    finally:
        app.kill()
    assert "ValueError: no luck with 7" in out, err
    assert f'File "{script}", line {number}, in unlucky\n    {line}' in out, out
    wait_until(lambda: "Traceback" in _logs(tmp_path), WAIT, "the worker to log the failure")
    assert line in _logs(tmp_path)


@flow
def returns_a_lock() -> object:
    """Returns what cannot be pickled: the run cannot hand its result back."""
    return threading.Lock()


def test_a_result_that_cannot_be_sent_back_fails_the_run(
    workers: Any, redis_url: str, namespace: str
) -> None:
    workers.start("--flow-slots", "1", PYTHONPATH=HERE)
    workers.wait_registered(1)
    run = enqueue(returns_a_lock, url=redis_url, namespace=namespace)
    with pytest.raises(FloqError, match="cannot serialize the result") as raised:
        run.result(timeout=WAIT)
    assert raised.value.run_id == run.id
    assert run.record()["type"] == b"FAILED"


INTERRUPTED_APP = """
import sys, time
from floq import flow, task
from floq.runners import RedisTaskRunner

@task
def slow(i):
    time.sleep(2)
    return i

@flow(task_runner=RedisTaskRunner(url=sys.argv[1], namespace=sys.argv[2]))
def many():
    futures = slow.map(range(20))  # 20 s of work on the worker's 2 slots
    futures[0].result(timeout=30)
    print("running", flush=True)
    return sum(f.result() for f in futures)

many()
"""


def test_ctrl_c_in_the_app_ends_its_flow_run_at_once(
    workers: Any, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    """Ctrl-C (SIGINT) ends the flow run Crashed and the app at once; it used to wait for
    every task run still queued on the workers (18 s more here)."""
    workers.start("--concurrency", "2", "--flow-slots", "0")
    workers.wait_registered(1)
    script = tmp_path / "app.py"
    script.write_text(INTERRUPTED_APP)
    app = subprocess.Popen(
        [sys.executable, str(script), redis_url, namespace], env=clean_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        assert app.stdout is not None
        assert app.stdout.readline() == "running\n"  # the first result is back
        interrupted = time.monotonic()
        app.send_signal(signal.SIGINT)
        _, err = app.communicate(timeout=WAIT)
        took = time.monotonic() - interrupted
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(timeout=10)
    assert app.returncode != 0
    assert "was interrupted by KeyboardInterrupt" in err, err[-2000:]
    assert took < 5, f"the app took {took:.1f} s to end after Ctrl-C"
