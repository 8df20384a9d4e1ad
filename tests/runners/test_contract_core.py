"""Runner contract, part 1: results, failures, dependencies, mapping and argument resolution.

Every test runs once per runner (see ``conftest.py``). Tasks are module-level and this module
is pickled by value, so worker processes need not import it.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
from pathlib import Path

import cloudpickle
import pytest
from contract_helpers import WAIT, caught

from floq import allow_failure, flow, task, unmapped
from floq.errors import MappingError, UpstreamFailedError
from floq.states import StateType

cloudpickle.register_pickle_by_value(sys.modules[__name__])


class CustomError(Exception):
    """A user-defined exception: it must come back as this very class."""


@dataclasses.dataclass
class Box:
    value: object
    items: list[object]


@task
def add(x, y):
    return x + y


@task
def echo(value):
    return value


@task
def noop():
    return None


@task
def type_and_value(value):
    """The argument as the task saw it: its type's name and its value."""
    if dataclasses.is_dataclass(value):
        return type(value).__name__, dataclasses.asdict(value)
    return type(value).__name__, value


@task
def describe_error(error):
    return type(error).__name__, str(error)


@task
def fail(message, counter=None):
    if counter is not None:
        counter.hit()
    raise ValueError(message)


@task
def fail_custom(message):
    raise CustomError(message)


@task
def counted(counter, value=None):
    counter.hit()
    return value


@task
def make_list(n):
    return list(range(n))


@task
def double(x):
    return 2 * x


@task
def plus_sum(x, numbers):
    return x + sum(numbers)


@task
def write_after(path, seconds):
    time.sleep(seconds)
    Path(path).write_text("done", encoding="utf-8")


@task
def file_exists(path):
    return Path(path).exists()


# --- 1. submit / result -----------------------------------------------------------------------


def test_submit_and_result(runner):
    @flow(task_runner=runner)
    def body():
        first = add.submit(1, 2)
        second = add.submit(x=first, y=10)  # a future as an argument is resolved to its value
        inline = add(100, 200)  # a direct call runs inline and returns the value
        return (
            first.result(timeout=WAIT),
            second.result(timeout=WAIT),
            inline,
            first.wait(timeout=WAIT).type,
            second.state.name,
            first.task_run_id,
            second.task_run_id,
        )

    one, two, inline, first_type, second_name, id1, id2 = body()
    assert (one, two, inline) == (3, 13, 300)
    assert first_type is StateType.COMPLETED
    assert second_name == "Completed"
    assert isinstance(id1, str) and id1 and id1 != id2


def test_none_result_and_large_argument(runner):
    blob = os.urandom(2 * 1024 * 1024)

    @flow(task_runner=runner)
    def body():
        nothing = noop.submit()
        echoed = echo.submit(blob)
        return (
            nothing.result(timeout=WAIT),
            nothing.state.type,
            echoed.result(timeout=WAIT) == blob,
        )

    assert body() == (None, StateType.COMPLETED, True)

    @flow(task_runner=runner)
    def returns_none():
        noop.submit()

    # A flow returning None completes when none of its task runs failed.
    state = returns_none(return_state=True)
    assert state.type is StateType.COMPLETED
    assert state.result() is None


def test_add_done_callback_gets_the_future(runner):
    @flow(task_runner=runner)
    def body():
        called = threading.Event()
        seen = []

        def callback(future):
            seen.append(future)
            called.set()

        future = add.submit(2, 3)
        future.add_done_callback(callback)
        assert called.wait(WAIT), "the done callback was never called"
        assert future.result(timeout=WAIT) == 5
        late = []
        future.add_done_callback(late.append)  # on a finished future: called at once
        return seen == [future] and seen[0] is future, late == [future]

    assert body() == (True, True)


# --- 2. a raising task ------------------------------------------------------------------------


def test_failed_task_reraises_its_exception(runner):
    seen = {}

    @flow(task_runner=runner)
    def body():
        failed = fail.submit("bad thing")
        custom = fail_custom.submit("custom thing")
        state = failed.wait(timeout=WAIT)
        seen["type"], seen["name"], seen["is_failed"] = state.type, state.name, state.is_failed()
        seen["raised"] = caught(failed.result, timeout=WAIT)
        seen["returned"] = failed.result(timeout=WAIT, raise_on_failure=False)
        seen["custom"] = caught(custom.result, timeout=WAIT)
        seen["state_error"] = failed.state.result(raise_on_failure=False)
        # returns None: a flow returning None fails because a task run failed

    final = body(return_state=True)
    assert seen["type"] is StateType.FAILED
    assert seen["name"] == "Failed" and seen["is_failed"]
    raised, custom = seen["raised"], seen["custom"]
    assert type(raised) is ValueError and str(raised) == "bad thing"
    assert type(custom) is CustomError and str(custom) == "custom thing"
    returned = seen["returned"]
    assert type(returned) is ValueError and str(returned) == "bad thing"
    assert type(seen["state_error"]) is ValueError
    assert final.is_failed()
    assert type(final.result(raise_on_failure=False)) is ValueError


# --- 3. a chain behind a failed task is NotReady and never runs -------------------------------


def test_chain_behind_failure_is_not_ready(runner, counters):
    ran_a, ran_b, ran_c = counters("a"), counters("b"), counters("c")

    @flow(task_runner=runner)
    def body():
        a = fail.submit("upstream broke", ran_a)
        b = counted.submit(ran_b, a)
        c = counted.submit(ran_c, b)
        b_state, c_state = b.wait(timeout=WAIT), c.wait(timeout=WAIT)
        return (
            a.state.type,
            [(s.type, s.name, s.is_pending()) for s in (b_state, c_state)],
            a.task_run_id in b_state.message,
            b.task_run_id in c_state.message,
            type(b.result(timeout=WAIT, raise_on_failure=False)),
            caught(c.result, timeout=WAIT),
        )

    a_type, downstream, b_names_a, c_names_b, b_error, c_raised = body()
    assert a_type is StateType.FAILED
    assert downstream == [(StateType.PENDING, "NotReady", True)] * 2
    assert b_names_a, "the NotReady message of b does not name its failed upstream a"
    assert c_names_b, "the NotReady message of c does not name its upstream b"
    assert b_error is UpstreamFailedError
    assert isinstance(c_raised, UpstreamFailedError)
    assert (ran_a.count(), ran_b.count(), ran_c.count()) == (1, 0, 0)


# --- 4. allow_failure -------------------------------------------------------------------------


def test_allow_failure_hands_over_the_exception(runner, counters):
    ran_after, ran_blocked = counters("after"), counters("blocked")

    @flow(task_runner=runner)
    def body():
        a = fail.submit("upstream broke")
        as_argument = describe_error.submit(allow_failure(a))
        nested = type_and_value.submit([allow_failure(a), 1])
        after = counted.submit(ran_after, "ran", wait_for=[allow_failure(a)])
        blocked = counted.submit(ran_blocked, "ran", wait_for=[a])
        nested_type, nested_value = nested.result(timeout=WAIT)
        return (
            as_argument.result(timeout=WAIT),
            (nested_type, [type(v).__name__ for v in nested_value]),
            after.result(timeout=WAIT),
            blocked.wait(timeout=WAIT).name,
        )

    argument, nested, after, blocked = body()
    assert argument == ("ValueError", "upstream broke")
    assert nested == ("list", ["ValueError", "int"])
    assert after == "ran" and ran_after.count() == 1
    assert blocked == "NotReady" and ran_blocked.count() == 0


# --- 5. wait_for orders tasks -----------------------------------------------------------------


def test_wait_for_orders_tasks(runner, tmp_path):
    marker = tmp_path / "a-finished"

    @flow(task_runner=runner)
    def body():
        a = write_after.submit(marker, 0.3)
        b = file_exists.submit(marker, wait_for=[a])
        single = file_exists.submit(marker, wait_for=a)  # one future, not in a list
        return b.result(timeout=WAIT), single.result(timeout=WAIT)

    assert body() == (True, True)


# --- 6. map -----------------------------------------------------------------------------------


def test_map_zip_unmapped_and_futures(runner):
    @flow(task_runner=runner)
    def body():
        zipped = add.map([1, 2, 3], [10, 20, 30])
        broadcast = plus_sum.map([1, 2], unmapped([100, 1000]))
        keyword = add.map(x=[1, 2], y=unmapped(5))
        over_future = double.map(make_list.submit(3))  # a future of a list maps over the list
        over_futures = double.map([add.submit(1, 1), add.submit(2, 2)])
        unequal = caught(add.map, [1, 2], [1, 2, 3])
        values = [
            [f.result(timeout=WAIT) for f in futures]
            for futures in (zipped, broadcast, keyword, over_future, over_futures)
        ]
        return values, unequal

    values, unequal = body()
    assert values == [[11, 22, 33], [1101, 1102], [6, 7], [0, 2, 4], [4, 8]]
    assert isinstance(unequal, MappingError) and "unequal" in str(unequal)


# --- 7. futures inside nested collections -----------------------------------------------------


def test_futures_in_nested_collections_are_resolved(runner):
    @flow(task_runner=runner)
    def body():
        one, two = echo.submit(1), echo.submit(2)
        inputs = [
            [one, two],
            (one, two),
            {one, two},
            {"x": one, "y": [two]},
            Box(one, [two]),
            {"deep": [({"deeper": (one,)}, {two})]},
        ]
        futures = [type_and_value.submit(value) for value in inputs]
        return [f.result(timeout=WAIT) for f in futures]

    assert body() == [
        ("list", [1, 2]),
        ("tuple", (1, 2)),
        ("set", {1, 2}),
        ("dict", {"x": 1, "y": [2]}),
        ("Box", {"value": 1, "items": [2]}),
        ("dict", {"deep": [({"deeper": (1,)}, {2})]}),
    ]


# --- 13. a flow whose body raises -------------------------------------------------------------


def test_flow_body_raising_fails_the_flow(runner, counters):
    ran = counters("ran")

    @flow(task_runner=runner)
    def body():
        counted.submit(ran, "x")
        raise CustomError("flow body broke")

    state = body(return_state=True)
    assert state.type is StateType.FAILED and state.is_failed()
    error = state.result(raise_on_failure=False)
    assert type(error) is CustomError and str(error) == "flow body broke"
    assert ran.count() == 1, "the flow did not wait for the task run it had started"
    with pytest.raises(CustomError, match=r"^flow body broke$"):
        body()
