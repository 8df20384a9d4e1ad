"""Tasks several integration test modules submit. Pickled by value: the workers cannot import
this folder."""

from __future__ import annotations

import os
import sys
import time

import cloudpickle

from floq import task

cloudpickle.register_pickle_by_value(sys.modules[__name__])


@task
def add(x: int, y: int) -> int:
    return x + y


@task
def marked_sleep(path: str, seconds: float) -> str:
    """Appends ``start <pid>``, sleeps, appends ``end <pid>``."""
    with open(path, "a") as out:
        out.write(f"start {os.getpid()}\n")
    time.sleep(seconds)
    with open(path, "a") as out:
        out.write(f"end {os.getpid()}\n")
    return "slept"


@task
def held(marks: str, release: str, i: int) -> int:
    """Marks its start (pid), then waits (up to 60 s) for the file ``release``."""
    with open(marks, "a") as out:
        out.write(f"{os.getpid()}\n")
    deadline = time.monotonic() + 60
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.05)
    return i * i
