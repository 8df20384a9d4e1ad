"""What the integration test modules share besides fixtures (this folder is on sys.path).

Nothing here is used inside a task: tasks run in worker processes, which cannot import this.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from floq.runners.transport import decode_outcome
from floq.states import State
from floq.store.keys import Keys
from floq.store.protocol import ResultEntry

T = TypeVar("T")

WAIT = 30.0  # bound on any wait that could otherwise hang

WORKER_CLI = [sys.executable, "-c", "from floq.cli import flow_worker_cli; flow_worker_cli()"]
FLOQ_CLI = [sys.executable, "-c", "from floq.cli import floq_cli; floq_cli()"]


def wait_until(condition: Callable[[], T], timeout: float, what: str, interval: float = 0.02) -> T:
    """Poll ``condition`` until it returns something truthy (returned); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def call_bounded(fn: Callable[[], T], timeout: float) -> tuple[T | None, BaseException | None]:
    """Run ``fn`` in a thread; (value, None) or (None, error); fail if it runs over ``timeout``."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as error:
            box["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"still running after {timeout} s (hangs?)"
    return box.get("value"), box.get("error")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any FLOQ_ setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOQ_")}
    env.update(extra)
    return env


def run_cli(
    command: list[str], *args: str, env: dict[str, str], timeout: float = WAIT
) -> subprocess.CompletedProcess[str]:
    """Run a CLI to its end within ``timeout``; a hang fails the test, naming the command, and
    ends the command with every process it started (it runs in a process group of its own)."""
    process = subprocess.Popen(
        [*command, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate(timeout=10)
        raise AssertionError(f"{args} did not exit within {timeout} s: {out!r} {err!r}") from None
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def outcomes(client: Any, keys: Keys, flow_run_id: str) -> list[tuple[str, State]]:
    """(task run id, state) of every outcome in a flow run's results stream, oldest first."""
    found = []
    for entry_id, fields in client.xrange(keys.results(flow_run_id)):
        for result in ResultEntry.decode(entry_id, fields):  # a batch of outcomes, or the stop
            if result.task_run_id is not None:
                found.append((result.task_run_id, decode_outcome(result.outcome)[0]))
    return found


def outcomes_of(client: Any, keys: Keys, task_run: Any) -> list[State]:
    """The states recorded for one task run in its flow run's results stream, oldest first."""
    found = outcomes(client, keys, task_run.flow_run_id)
    return [state for run_id, state in found if run_id == task_run.id]


def inflight(client: Any, namespace: str) -> int:
    """The task runs the live workers hold, as their last heartbeats say."""
    keys = Keys(namespace)
    names = client.smembers(keys.workers)
    beats = [client.get(keys.worker(name.decode())) for name in names]
    return sum(json.loads(beat)["inflight"] for beat in beats if beat)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def run_in_thread(fn: Callable[..., Any], *args: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """Start ``fn(*args)`` on a daemon thread: the thread, and a dict that gets its ``result``
    or its ``error`` (a flow run driven while the test injects a fault)."""
    seen: dict[str, Any] = {}

    def run() -> None:
        try:
            seen["result"] = fn(*args)
        except BaseException as error:
            seen["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, seen
