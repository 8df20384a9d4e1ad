"""Flows the promise tests enqueue (the flow-workers import this module through PYTHONPATH)."""

from __future__ import annotations

import time
from pathlib import Path

from enqueued_flows import hold, touch

from floq import flow, task


def _append(path: str, line: str) -> int:
    """Append ``line`` to ``path``; the number of lines it now has."""
    with open(path, "a") as out:
        out.write(line + "\n")
    return len(Path(path).read_text().splitlines())


@flow
def fails_first_run(path: str) -> str:
    """Fails its first run; each run appends its start time to ``path``."""
    runs = _append(path, f"{time.time():.3f}")
    if runs == 1:
        raise RuntimeError("the first run fails on purpose")
    return f"run {runs}"


@task(retries=1, retry_delay_seconds=3)
def fails_once(counter: str) -> str:
    if _append(counter, "attempt") == 1:
        raise RuntimeError("the first attempt fails on purpose")
    return "retried"


@flow
def blocked_and_delayed(folder: str) -> list[str]:
    """A run waiting on a slow upstream, and a run whose retry waits in Redis."""
    slow = hold.submit(f"{folder}/gate", 2.0)
    waiting = touch.submit(f"{folder}/after", wait_for=[slow])
    delayed = fails_once.submit(f"{folder}/counter")
    return [slow.result(), waiting.result(), delayed.result()]
