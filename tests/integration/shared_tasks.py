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
