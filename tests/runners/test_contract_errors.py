"""Runner contract, errors: a task's exception, re-raised here, shows where the task raised it.

Every test runs once per runner (see ``conftest.py``). On runners whose task runs execute in
another process, the exception comes back with that process's traceback as its ``__cause__``
(a :class:`~floq.errors.RemoteTraceback`, as ``concurrent.futures`` does for process pools),
shown once.
"""

from __future__ import annotations

import sys
import traceback

import cloudpickle
from contract_helpers import WAIT, caught

from floq import flow, task
from floq.errors import RemoteTraceback

cloudpickle.register_pickle_by_value(sys.modules[__name__])


@task
def deep_failure(depth: int) -> None:
    if depth:
        deep_failure.fn(depth - 1)
        return
    raise LookupError("nothing at the bottom")  # the line every runner must show


def test_reraised_task_error_shows_the_task_traceback(runner, runner_case):
    @flow(task_runner=runner)
    def body():
        return caught(deep_failure.submit(2).result, timeout=WAIT)

    error = body()
    assert type(error) is LookupError and str(error) == "nothing at the bottom"
    shown = "".join(traceback.format_exception(error))
    assert shown.count("in deep_failure") == 3, shown
    assert 'raise LookupError("nothing at the bottom")  # the line every runner' in shown
    if runner_case.remote:
        assert isinstance(error.__cause__, RemoteTraceback)
        assert "in deep_failure" in str(error.__cause__)


@task
def returns_a_lock() -> object:
    import threading

    return threading.Lock()


def test_a_return_value_that_cannot_travel_back_fails_the_run_saying_so(runner, runner_case):
    @flow(task_runner=runner)
    def body():
        future = returns_a_lock.submit()
        state = future.wait(WAIT)
        return state.type.value, state.message, future.task_run.name

    kind, message, name = body()
    if not runner_case.remote:  # nothing to send back: the lock is the result
        assert kind == "COMPLETED"
        return
    assert kind == "FAILED"
    assert message == (
        f"the outcome of task run {name!r} cannot be sent back: cannot serialize its return "
        "value: TypeError: cannot pickle '_thread.lock' object"
    ), message
