"""Flows the `floq inspect` tests enqueue; the flow-workers import this module (PYTHONPATH)."""

from __future__ import annotations

import time
from pathlib import Path

from floq import flow, task, wait
from floq.runners import RedisTaskRunner

TASK_QUEUE = "inspect-tasks"


@task
def square(x: int) -> int:
    if x % 100 == 7:
        raise ValueError(f"no {x}, on purpose")
    return x * x


@flow
def many_squares(n: int) -> int:
    """``n`` mapped task runs; those of 7, 107, 207, ... fail. Returns how many completed."""
    futures = square.map(range(n))
    wait(futures)
    return sum(future.state.is_completed() for future in futures)


@task
def nap_once(folder: str) -> str:
    """Its first attempt takes a minute (its worker is killed meanwhile); a redo is quick."""
    first = Path(folder, "first")
    if first.exists():
        return "redone"
    first.write_text("started")
    time.sleep(60)
    return "slept"


@flow(task_runner=RedisTaskRunner(queue=TASK_QUEUE))
def lose_a_worker(folder: str) -> str:
    return nap_once.submit(folder).result()
