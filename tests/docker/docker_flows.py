"""Tasks the docker tests send to the containers' workers; shipped by value (cloudpickle), as
the image does not have the tests."""

from __future__ import annotations

import sys
import time

import cloudpickle

from floq import task

cloudpickle.register_pickle_by_value(sys.modules[__name__])


@task
def square(x: int, seconds: float = 0.0) -> int:
    time.sleep(seconds)
    return x * x


@task
def hold(x: int, seconds: float) -> int:
    time.sleep(seconds)
    return x
