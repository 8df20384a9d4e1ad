"""Flows on the default runner: values, states, subflows, retries, timeouts, parallel runs."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import threading
import time

import pytest

from floq import flow, task
from floq.errors import TaskRunTimeout
from floq.runners import ConcurrentTaskRunner, SequentialTaskRunner
from floq.states import State


@task
def double(x: int) -> int:
    return 2 * x


@task
def explode(message: str = "task failed") -> None:
    raise ValueError(message)


def test_calling_a_flow_returns_its_value() -> None:
    @flow
    def my_flow(x: int, y: int = 1) -> int:
        return double(x) + y

    assert my_flow(5) == 11
    assert my_flow(5, y=2) == 12


def test_return_state() -> None:
    @flow
    def my_flow() -> str:
        return "value"

    state = my_flow(return_state=True)
    assert isinstance(state, State)
    assert state.is_completed()
    assert state.result() == "value"


def test_flow_raising_reraises_and_fails() -> None:
    error = RuntimeError("flow body broke")

    @flow
    def my_flow() -> None:
        raise error

    with pytest.raises(RuntimeError) as info:
        my_flow()
    assert info.value is error
    state = my_flow(return_state=True)
    assert state.is_failed()
    assert "flow body broke" in state.message


def test_flow_bad_arguments_name_the_flow() -> None:
    @flow(name="strict-flow")
    def my_flow(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="strict-flow"):
        my_flow(1, 2)


def test_returned_futures_are_resolved() -> None:
    @flow
    def my_flow() -> list[int]:
        return [double.submit(i) for i in range(5)]

    assert my_flow() == [0, 2, 4, 6, 8]


def test_returned_nested_futures_and_map() -> None:
    @flow
    def my_flow() -> dict:
        return {"mapped": double.map([1, 2]), "single": (double.submit(10),)}

    assert my_flow() == {"mapped": [2, 4], "single": (20,)}


def test_returning_a_failed_future_fails_the_flow() -> None:
    @flow
    def my_flow() -> object:
        return explode.submit("returned failure")

    state = my_flow(return_state=True)
    assert state.is_failed()
    with pytest.raises(ValueError, match="returned failure"):
        state.result()


def test_none_with_a_failed_task_ends_failed() -> None:
    @flow
    def my_flow() -> None:
        double.submit(1)
        explode.submit("background failure")

    state = my_flow(return_state=True)
    assert state.is_failed()
    with pytest.raises(ValueError, match="background failure"):
        state.result()


def test_none_with_only_successful_tasks_completes() -> None:
    @flow
    def my_flow() -> None:
        double.submit(1)

    state = my_flow(return_state=True)
    assert state.is_completed()
    assert state.result() is None


def test_flow_waits_for_unawaited_tasks() -> None:
    finished = threading.Event()

    @task
    def slow() -> None:
        time.sleep(0.3)
        finished.set()

    @flow
    def my_flow() -> None:
        slow.submit()

    my_flow()
    assert finished.is_set()


def test_subflow_runs_and_returns_its_value() -> None:
    runs: list = []

    def remember(flow_, run, state) -> None:
        runs.append(run)

    @flow(on_completion=remember)
    def child(x: int) -> int:
        return double.submit(x).result() + 1

    @flow(on_completion=remember)
    def parent() -> list[int]:
        return [child(1), child(2)]

    assert parent() == [3, 5]
    child_a, child_b, parent_run = runs
    assert parent_run.flow_name == "parent"
    assert child_a.flow_name == "child"
    assert child_a.parent_run_id == parent_run.id
    assert child_b.parent_run_id == parent_run.id
    assert parent_run.parent_run_id is None
    assert child_a.parameters == {"x": 1}


def test_failing_subflow_fails_the_parent() -> None:
    @flow
    def child() -> None:
        raise KeyError("child broke")

    @flow
    def parent() -> None:
        child()

    state = parent(return_state=True)
    assert state.is_failed()
    assert isinstance(state.data, KeyError)


def test_subflow_return_state() -> None:
    @flow
    def child() -> None:
        raise KeyError("child broke")

    @flow
    def parent() -> str:
        return child(return_state=True).name

    assert parent() == "Failed"


def test_flow_retries_a_failing_body() -> None:
    calls: list[int] = []

    @flow(retries=1)
    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first attempt")
        return "second attempt"

    records: list = []
    flaky_with_hook = flaky.with_options(on_completion=lambda f, run, s: records.append(run))
    assert flaky_with_hook() == "second attempt"
    assert len(calls) == 2
    (run,) = records
    assert run.run_count == 2
    assert [s.name for s in run.history] == [
        "Pending",
        "Running",
        "AwaitingRetry",
        "Retrying",
        "Completed",
    ]


def test_flow_retries_exhausted() -> None:
    calls: list[int] = []

    @flow(retries=2, retry_delay_seconds=0)
    def always() -> None:
        calls.append(1)
        raise ValueError("always")

    assert always(return_state=True).is_failed()
    assert len(calls) == 3


def test_flow_retry_recovers_from_a_failed_task() -> None:
    """A retried flow ends by its last attempt, not by the task runs of earlier ones."""
    attempts: list[int] = []

    @task
    def fails_first_time() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("first attempt")
        return "ok"

    @flow(retries=1)
    def my_flow() -> None:
        fails_first_time.submit()

    state = my_flow(return_state=True)
    assert len(attempts) == 2
    assert state.is_completed(), state


def test_flow_timeout() -> None:
    release = threading.Event()

    @flow(timeout_seconds=0.3)
    def slow() -> None:
        release.wait(10)

    started = time.monotonic()
    try:
        state = slow(return_state=True)
    finally:
        release.set()
    assert time.monotonic() - started < 5
    assert state.is_failed()
    assert state.name == "TimedOut"
    assert "0.3" in state.message
    with pytest.raises(TaskRunTimeout):
        state.result()


def test_flow_within_its_timeout_completes() -> None:
    @flow(timeout_seconds=10)
    def quick() -> int:
        return double.submit(4).result()

    assert quick() == 8


def test_flow_hooks() -> None:
    seen: list[tuple[str, str]] = []

    @flow(
        on_completion=lambda f, run, s: seen.append(("completion", s.name)),
        on_failure=lambda f, run, s: seen.append(("failure", s.name)),
    )
    def ok(fail: bool) -> None:
        if fail:
            raise ValueError("x")

    ok(False)
    ok(True, return_state=True)
    assert seen == [("completion", "Completed"), ("failure", "Failed")]


def test_flow_with_options() -> None:
    @flow(name="base")
    def base() -> str:
        return "v"

    renamed = base.with_options(name="renamed", retries=2)
    assert renamed is not base
    assert (renamed.name, renamed.retries) == ("renamed", 2)
    assert (base.name, base.retries) == ("base", 0)
    assert renamed() == "v"


def test_two_flow_runs_from_two_threads_run_in_parallel() -> None:
    """No configuration: each flow run waits at a barrier that needs both to arrive."""
    barrier = threading.Barrier(2, timeout=5)

    @task
    def meet(label: str) -> str:
        barrier.wait()
        return label

    @flow
    def my_flow(label: str) -> str:
        return meet.submit(label).result()

    with cf.ThreadPoolExecutor(2) as pool:
        results = [pool.submit(my_flow, label) for label in ("left", "right")]
        values = [f.result(timeout=30) for f in results]
    assert values == ["left", "right"]
    assert not barrier.broken


def test_two_flow_runs_in_parallel_with_direct_task_calls() -> None:
    barrier = threading.Barrier(2, timeout=5)

    @task
    def meet() -> int:
        return barrier.wait()

    @flow
    def my_flow() -> int:
        return meet()

    with cf.ThreadPoolExecutor(2) as pool:
        results = [pool.submit(my_flow) for _ in range(2)]
        indices = sorted(f.result(timeout=30) for f in results)
    assert indices == [0, 1]


def test_each_flow_run_gets_its_own_runner() -> None:
    runners: list = []
    shared = ConcurrentTaskRunner(max_workers=2)

    @task
    def noop() -> None:
        pass

    @flow(task_runner=shared)
    def my_flow() -> None:
        from floq import context

        runners.append(context.current_flow_run().runner)
        noop.submit()

    my_flow()
    my_flow()
    assert len(runners) == 2
    assert runners[0] is not runners[1]
    assert shared not in runners
    assert all(isinstance(r, ConcurrentTaskRunner) and r.max_workers == 2 for r in runners)


def test_sequential_runner_runs_in_submission_order() -> None:
    order: list[int] = []

    @task
    def record(i: int) -> None:
        time.sleep(0.01 * (5 - i))
        order.append(i)

    @flow(task_runner=SequentialTaskRunner())
    def my_flow() -> None:
        for i in range(5):
            record.submit(i)

    my_flow()
    assert order == [0, 1, 2, 3, 4]


# --- async -----------------------------------------------------------------------------


def test_async_flow_and_tasks() -> None:
    @task
    async def add_one(x: int) -> int:
        await asyncio.sleep(0)
        return x + 1

    @flow
    async def my_flow() -> int:
        first = await add_one(1)
        second = await add_one.submit(first)
        return second

    assert asyncio.run(my_flow()) == 3


def test_gathered_async_tasks_run_concurrently() -> None:
    @task
    async def meet(event_to_set: asyncio.Event, event_to_wait: asyncio.Event) -> str:
        event_to_set.set()
        await asyncio.wait_for(event_to_wait.wait(), timeout=5)
        return "met"

    @flow
    async def my_flow() -> list[str]:
        a, b = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(meet(a, b), meet(b, a))

    assert asyncio.run(my_flow()) == ["met", "met"]


def test_async_flow_return_state() -> None:
    @flow
    async def my_flow() -> None:
        raise ValueError("async failure")

    state = asyncio.run(my_flow(return_state=True))
    assert state.is_failed()
    assert isinstance(state.data, ValueError)


def test_async_flow_timeout() -> None:
    @flow(timeout_seconds=0.2)
    async def slow() -> None:
        await asyncio.sleep(10)

    state = asyncio.run(slow(return_state=True))
    assert state.name == "TimedOut"


def test_flow_timeout_does_not_wait_for_its_running_task() -> None:
    release = threading.Event()

    @task
    def stuck() -> None:
        release.wait(30)

    @flow(timeout_seconds=0.3)
    def waits_on_task() -> None:
        stuck.submit().result()

    started = time.monotonic()
    try:
        state = waits_on_task(return_state=True)
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert state.name == "TimedOut"
    # Far below the task's 30 s, with room for a loaded machine.
    assert elapsed < 5, f"the timed-out flow returned after {elapsed:.2f}s"
