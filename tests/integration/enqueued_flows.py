"""Flows the enqueue tests put on queues; the flow-workers import this module (PYTHONPATH)."""

from __future__ import annotations

import time
from pathlib import Path

from floq import flow, task


@task
def square(x: int) -> int:
    return x * x


@flow
def sum_of_squares(n: int) -> int:
    return sum(future.result() for future in square.map(range(n)))


@flow
def flaky(counter: str, failures: int) -> str:
    """Fails its first ``failures`` runs (counted in the file ``counter``), then succeeds."""
    path = Path(counter)
    runs = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(runs))
    if runs <= failures:
        raise RuntimeError(f"run {runs} fails on purpose")
    return f"succeeded on run {runs}"


@task
def hold(marker: str, seconds: float) -> str:
    Path(marker).write_text("started")
    time.sleep(seconds)
    return "held"


@task
def touch(marker: str) -> str:
    Path(marker).write_text("ran")
    return marker


@flow
def long_one(folder: str, queued: int, seconds: float = 3.0) -> list[str]:
    """One long task (``seconds``) first, then ``queued`` tasks that wait for a free slot."""
    first = hold.submit(f"{folder}/hold", seconds)
    rest = [touch.submit(f"{folder}/touch-{i}") for i in range(queued)]
    return [first.result(), *(future.result() for future in rest)]


@task
async def hold_async(marker: str, seconds: float) -> str:
    import asyncio

    Path(marker).write_text("started")
    await asyncio.sleep(seconds)
    return "held"


@flow
def stuck(folder: str, use_async: bool) -> str:
    """One task that would take a minute (the test cancels the flow run long before)."""
    held = hold_async if use_async else hold
    return held.submit(f"{folder}/hold", 60.0).result()


@flow
def meet(folder: str, name: str, other: str) -> str:
    """Ends only if the flow run ``other`` runs at the same time (each waits for the other)."""
    Path(folder, name).write_text("here")
    deadline = time.monotonic() + 30
    while not Path(folder, other).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{other} never came")
        time.sleep(0.02)
    return name


@flow
def two_naps(folder: str) -> float:
    """Two task runs one after the other: the second is submitted a second after the first."""
    first = hold.submit(f"{folder}/first", 1.0).result()
    second = hold.submit(f"{folder}/second", 1.0).result()
    return len(first) + len(second)


@task
def tally(path: str, x: int) -> int:
    """Appends ``x`` to ``path`` (one line per execution)."""
    with open(path, "a") as out:
        out.write(f"{x}\n")
    return x * 10


@task(persist_result=False)
def tally_every_time(path: str) -> str:
    with open(path, "a") as out:
        out.write("ran\n")
    return "ran"


@flow
def crash_once(folder: str, n: int) -> int:
    """Completes ``n`` tallies, then (first attempt only) waits to be killed by the test."""
    import os

    total = sum(tally.map(f"{folder}/tally", range(n)).result())
    tally_every_time.submit(f"{folder}/every").result()
    Path(folder, f"pid-{os.getpid()}").write_text("stage 1 done")
    deadline = time.monotonic() + 60
    while not Path(folder, "killed").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # the test kills this process now
    return total + tally.submit(f"{folder}/tally", 100).result()


@flow
def fail_until_fixed(folder: str, n: int) -> int:
    """Completes ``n`` tallies, then fails unless ``folder/fixed`` exists."""
    total = sum(tally.map(f"{folder}/tally", range(n)).result())
    if not Path(folder, "fixed").exists():
        raise RuntimeError("fails until fixed")
    return total


@task(persist_result=False)
def note_run_ids(path: str) -> None:
    """Appends ``<task run id> <flow run id>`` (one line per execution)."""
    from floq.context import current

    run = current().task_run
    assert run is not None
    with open(path, "a") as out:
        out.write(f"{run.id} {run.flow_run_id}\n")


@flow
def ids_then_fail_once(folder: str) -> str:
    """Notes its task's run ids, then fails on its first attempt."""
    note_run_ids.submit(f"{folder}/ids").result()
    first = not Path(folder, "failed").exists()
    Path(folder, "failed").touch()
    if first:
        raise RuntimeError("the first attempt fails")
    return "second attempt"
