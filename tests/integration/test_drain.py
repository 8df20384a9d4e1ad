"""SIGTERM drains: the worker claims nothing more, and exits as soon as its in-flight work ends
(not at the drain deadline)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import cloudpickle
from integration_helpers import WAIT, lines, wait_until
from shared_tasks import marked_sleep

from floq import flow, task

cloudpickle.register_pickle_by_value(sys.modules[__name__])


@task
def where() -> int:
    return os.getpid()


def test_a_draining_worker_claims_nothing_and_exits_when_its_work_ends(
    runner: Any, workers: Any, tmp_path: Path
) -> None:
    draining = workers.start("--concurrency", "4", FLOQ_DRAIN_SECONDS="60")
    workers.wait_registered(1)
    marks = tmp_path / "marks"
    seen: dict[str, Any] = {}

    @flow(task_runner=runner)
    def drained() -> tuple[str, int]:
        held = marked_sleep.submit(str(marks), 2.0)
        wait_until(lambda: lines(marks), WAIT, "the task to start")
        draining.send_signal(signal.SIGTERM)
        late = where.submit()  # submitted after SIGTERM: not for the draining worker
        seen["exit"] = draining.wait(timeout=WAIT)
        seen["exited_at"] = time.time()
        seen["other"] = workers.start("--concurrency", "4")
        return held.result(timeout=WAIT), late.result(timeout=WAIT)

    held, late_pid = drained()
    assert held == "slept"
    assert seen["exit"] == 0, workers.logs()
    assert late_pid == seen["other"].pid != draining.pid
    assert lines(marks) == [f"start {draining.pid}", f"end {draining.pid}"]
    ended = marks.stat().st_mtime  # the "end" line was the last write
    # FLOQ_DRAIN_SECONDS is 60: the exit came when the work ended, not at the deadline.
    assert seen["exited_at"] - ended < 5, (seen, ended)
