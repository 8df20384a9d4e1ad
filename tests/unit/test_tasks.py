"""The task call model on the default runner: direct calls, submit, map, options and hooks."""

from __future__ import annotations

import datetime
import itertools
import logging
import threading
import time

import pytest

from floq import allow_failure, flow, task, unmapped
from floq.errors import MappingError, MissingContextError, TaskRunTimeout, UpstreamFailedError
from floq.futures import TaskFuture
from floq.states import State

_counter = itertools.count()


def unique(prefix: str) -> str:
    """A fresh name, so that process-wide caches never mix two tests."""
    return f"{prefix}-{next(_counter)}-{time.monotonic_ns()}"


# --- direct calls ------------------------------------------------------------------------


def test_direct_call_outside_a_flow_runs_inline() -> None:
    where: list[threading.Thread] = []

    @task
    def add(a: int, b: int) -> int:
        where.append(threading.current_thread())
        return a + b

    assert add(2, 3) == 5
    assert where == [threading.current_thread()]


def test_direct_call_raises_the_tasks_own_exception() -> None:
    error = LookupError("mine")

    @task
    def fails() -> None:
        raise error

    with pytest.raises(LookupError) as info:
        fails()
    assert info.value is error


def test_direct_call_with_return_state() -> None:
    @task
    def double(x: int) -> int:
        return 2 * x

    @task
    def fails() -> None:
        raise ValueError("x")

    state = double(21, return_state=True)
    assert isinstance(state, State)
    assert state.is_completed()
    assert state.result() == 42
    failed = fails(return_state=True)
    assert failed.is_failed()
    assert isinstance(failed.result(raise_on_failure=False), ValueError)


def test_direct_call_inside_a_flow_returns_the_value() -> None:
    @task
    def square(x: int) -> int:
        return x * x

    @flow
    def my_flow() -> int:
        return square(3) + square(4)

    assert my_flow() == 25


def test_wrong_arguments_raise_type_error_without_running() -> None:
    ran: list[int] = []

    @task
    def one(x: int) -> int:
        ran.append(x)
        return x

    with pytest.raises(TypeError):
        one(1, 2)
    assert ran == []


# --- submit outside a flow -----------------------------------------------------------------


def test_submit_outside_a_flow_names_the_task() -> None:
    @task(name="lonely-task")
    def lonely() -> None:
        pass

    with pytest.raises(MissingContextError, match="lonely-task") as info:
        lonely.submit()
    assert ".submit()" in str(info.value)


def test_map_outside_a_flow_names_the_task() -> None:
    @task
    def item(x: int) -> int:
        return x

    with pytest.raises(MissingContextError, match="'item'"):
        item.map([1, 2])


# --- options ---------------------------------------------------------------------------


def test_decorator_defaults_and_name() -> None:
    @task
    def plain() -> None:
        pass

    assert plain.name == "plain"
    assert plain.retries == 0
    assert plain.tags == frozenset()
    assert plain.__name__ == "plain"

    @task(name="custom")
    def other() -> None:
        pass

    assert other.name == "custom"


def test_tags_are_kept_on_the_task_and_its_runs() -> None:
    runs: list = []

    @task(tags=["etl", "nightly"], on_completion=lambda t, run, s: runs.append(run))
    def tagged() -> int:
        return 1

    assert tagged.tags == frozenset({"etl", "nightly"})
    tagged()
    assert runs[0].tags == frozenset({"etl", "nightly"})


def test_with_options_returns_a_changed_copy() -> None:
    calls: list[int] = []

    @task(name="orig", retries=0, tags={"a"})
    def fails_once() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first")
        return "second"

    changed = fails_once.with_options(name="changed", retries=1, tags=["b"])
    assert changed is not fails_once
    assert (changed.name, changed.retries, changed.tags) == ("changed", 1, frozenset({"b"}))
    assert (fails_once.name, fails_once.retries, fails_once.tags) == ("orig", 0, frozenset({"a"}))
    assert changed.fn is fails_once.fn
    assert changed() == "second"
    assert len(calls) == 2


def test_with_options_rejects_unknown_options() -> None:
    @task
    def t() -> None:
        pass

    with pytest.raises(TypeError):
        t.with_options(no_such_option=1)


def test_task_run_name_template_formats_parameters() -> None:
    @task(task_run_name="{x}-item")
    def process(x: str, y: int = 0) -> str:
        return x

    @flow
    def my_flow() -> list[str]:
        futures = [process.submit("apple"), process.submit(x="pear", y=2)]
        for future in futures:
            future.wait()
        return [f.task_run.name for f in futures]

    assert my_flow() == ["apple-item", "pear-item"]


def test_task_run_name_on_direct_call_and_callable() -> None:
    names: list[str] = []

    def remember(t, run, state) -> None:
        names.append(run.name)

    templated = task(task_run_name="run-{n}", on_completion=remember)(lambda n: n)
    templated(7)
    from_callable = task(task_run_name=lambda: "from-callable", on_completion=remember)(
        lambda: None
    )
    from_callable()
    assert names == ["run-7", "from-callable"]


def test_task_run_name_with_unknown_parameter_names_it() -> None:
    @task(task_run_name="{missing}")
    def t(x: int) -> int:
        return x

    with pytest.raises(ValueError, match="missing"):
        t(1)


def test_default_task_run_name_starts_with_the_task_name() -> None:
    @task
    def compute() -> None:
        pass

    @flow
    def my_flow() -> str:
        return compute.submit().task_run.name

    assert my_flow().startswith("compute-")


# --- hooks -----------------------------------------------------------------------------


def test_on_completion_gets_task_run_and_state() -> None:
    seen: list[tuple] = []

    @task(on_completion=lambda t, run, state: seen.append((t, run, state)))
    def ok() -> int:
        return 5

    assert ok() == 5
    ((hook_task, run, state),) = seen
    assert hook_task is ok
    assert run.task_name == "ok"
    assert state.is_completed() and state.result() == 5
    assert run.state is state


def test_on_failure_only_after_the_last_retry() -> None:
    failures: list[State] = []
    completions: list[State] = []

    @task(
        retries=2,
        on_failure=lambda t, r, s: failures.append(s),
        on_completion=lambda t, r, s: completions.append(s),
    )
    def always_fails() -> None:
        raise ValueError("x")

    assert always_fails(return_state=True).is_failed()
    assert len(failures) == 1
    assert failures[0].is_failed()
    assert completions == []


def test_on_failure_not_called_when_a_retry_succeeds() -> None:
    failures: list[State] = []
    completions: list[State] = []
    calls: list[int] = []

    @task(
        retries=1,
        on_failure=[lambda t, r, s: failures.append(s)],
        on_completion=[lambda t, r, s: completions.append(s)],
    )
    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first")
        return "ok"

    assert flaky() == "ok"
    assert failures == []
    assert [s.result() for s in completions] == ["ok"]


def test_several_hooks_all_run_in_order() -> None:
    order: list[str] = []

    @task(on_completion=[lambda t, r, s: order.append("a"), lambda t, r, s: order.append("b")])
    def ok() -> None:
        pass

    ok()
    assert order == ["a", "b"]


def test_a_raising_hook_does_not_break_the_run(caplog: pytest.LogCaptureFixture) -> None:
    after: list[str] = []

    def bad_hook(t, r, s) -> None:
        raise RuntimeError("hook broke")

    @task(on_completion=[bad_hook, lambda t, r, s: after.append("ran")])
    def ok() -> int:
        return 1

    @task(on_failure=bad_hook)
    def fails() -> None:
        raise ValueError("task error")

    floq_logger = logging.getLogger("floq")
    propagate = floq_logger.propagate
    floq_logger.addHandler(caplog.handler)
    floq_logger.propagate = False  # each record reaches caplog once
    caplog.set_level(logging.INFO, logger="floq")
    try:
        assert ok() == 1
        with pytest.raises(ValueError, match="task error"):
            fails()
    finally:
        floq_logger.removeHandler(caplog.handler)
        floq_logger.propagate = propagate
    assert after == ["ran"]
    hook_errors = [r for r in caplog.records if "bad_hook" in r.getMessage()]
    assert len(hook_errors) == 2
    assert all(r.exc_info and "hook broke" in str(r.exc_info[1]) for r in hook_errors)


def test_hooks_run_for_submitted_tasks() -> None:
    done = threading.Event()

    @task(on_completion=lambda t, r, s: done.set())
    def ok() -> int:
        return 1

    @flow
    def my_flow() -> int:
        return ok.submit().result()

    assert my_flow() == 1
    assert done.is_set()


# --- timeouts --------------------------------------------------------------------------


def test_task_timeout_ends_timed_out() -> None:
    release = threading.Event()

    @task(timeout_seconds=0.2)
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
    with pytest.raises(TaskRunTimeout):
        state.result()


def test_tasks_own_timeout_error_is_a_plain_failure() -> None:
    @task(timeout_seconds=5)
    def raises_timeout() -> None:
        raise TimeoutError("mine")

    state = raises_timeout(return_state=True)
    assert state.name == "Failed"
    assert str(state.data) == "mine"


def test_async_task_timeout() -> None:
    import asyncio

    @task(timeout_seconds=0.2)
    async def slow() -> None:
        await asyncio.sleep(10)

    state = asyncio.run(slow(return_state=True))
    assert state.name == "TimedOut"


# --- cache -----------------------------------------------------------------------------


def test_cache_key_fn_second_call_is_cached() -> None:
    calls: list[int] = []
    key = unique("cache")

    @task(cache_key_fn=lambda ctx, params: f"{key}-{params['x']}")
    def expensive(x: int) -> int:
        calls.append(x)
        return x * 10

    first = expensive(4, return_state=True)
    second = expensive(4, return_state=True)
    other = expensive(5, return_state=True)
    assert first.name == "Completed"
    assert second.name == "Cached"
    assert second.is_completed()
    assert second.result() == 40
    assert other.name == "Completed"
    assert calls == [4, 5]


def test_cache_key_none_means_no_cache() -> None:
    calls: list[int] = []

    @task(cache_key_fn=lambda ctx, params: None)
    def t() -> int:
        calls.append(1)
        return 1

    assert t(return_state=True).name == "Completed"
    assert t(return_state=True).name == "Completed"
    assert len(calls) == 2


def test_failed_runs_are_not_cached() -> None:
    calls: list[int] = []
    key = unique("fail-cache")

    @task(cache_key_fn=lambda ctx, params: key)
    def fails_once() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("x")
        return "ok"

    assert fails_once(return_state=True).is_failed()
    assert fails_once(return_state=True).name == "Completed"
    assert fails_once(return_state=True).name == "Cached"


def test_cache_expiration() -> None:
    calls: list[int] = []
    key = unique("expiring")

    @task(
        cache_key_fn=lambda ctx, params: key,
        cache_expiration=datetime.timedelta(seconds=-1),
    )
    def t() -> int:
        calls.append(1)
        return 1

    t()
    assert t(return_state=True).name == "Completed"
    assert len(calls) == 2


# --- submit, map and dependencies inside a flow ----------------------------------------


def test_submit_returns_a_future_and_passes_values_downstream() -> None:
    @task
    def one() -> int:
        return 1

    @task
    def add(a: int, b: int) -> int:
        return a + b

    @flow
    def my_flow() -> tuple:
        a = one.submit()
        b = add.submit(a, 10)
        c = add.submit(a, b=b)
        return isinstance(a, TaskFuture), c.result()

    assert my_flow() == (True, 12)


def test_futures_nested_in_arguments_are_resolved() -> None:
    @task
    def value(x: int) -> int:
        return x

    @task
    def total(items: dict) -> int:
        return sum(items["list"]) + items["single"]

    @flow
    def my_flow() -> int:
        futures = [value.submit(i) for i in range(4)]
        return total.submit({"list": futures, "single": value.submit(100)}).result()

    assert my_flow() == 106


def test_failed_upstream_leaves_downstream_not_ready() -> None:
    ran: list[int] = []
    seen: list[State] = []

    @task
    def fails() -> int:
        raise ValueError("upstream error")

    @task
    def downstream(x: int) -> int:
        ran.append(x)
        return x

    @flow
    def my_flow() -> None:
        seen.append(downstream.submit(fails.submit()).wait())

    flow_state = my_flow(return_state=True)
    assert flow_state.is_failed()  # returned None and a task run failed
    (state,) = seen
    assert state.is_pending()
    assert state.name == "NotReady"
    assert "upstream error" in state.message
    with pytest.raises(UpstreamFailedError):
        state.result()
    assert ran == []


def test_allow_failure_passes_the_exception() -> None:
    error = ValueError("upstream error")

    @task
    def fails() -> int:
        raise error

    @task
    def downstream(x: object) -> object:
        return x

    @flow
    def my_flow() -> object:
        return downstream.submit(allow_failure(fails.submit())).result()

    # A flow that returns a value ends with that value (as in Prefect 2).
    assert my_flow() is error


def test_wait_for_orders_runs_without_passing_data() -> None:
    order: list[str] = []

    @task
    def first() -> None:
        time.sleep(0.2)
        order.append("first")

    @task
    def second() -> None:
        order.append("second")

    @flow
    def my_flow() -> None:
        f = first.submit()
        second.submit(wait_for=[f])

    my_flow()
    assert order == ["first", "second"]


def test_wait_for_failed_upstream_and_allow_failure() -> None:
    ran: list[str] = []

    @task
    def fails() -> None:
        raise ValueError("x")

    @task
    def after(label: str) -> None:
        ran.append(label)

    @flow
    def my_flow() -> list[str]:
        f = fails.submit()
        blocked = after.submit("blocked", wait_for=[f])
        allowed = after.submit("allowed", wait_for=[allow_failure(f)])
        return [blocked.wait().name, allowed.wait().name]

    assert my_flow() == ["NotReady", "Completed"]
    assert ran == ["allowed"]


def test_map_zips_and_broadcasts_unmapped() -> None:
    @task
    def combine(x: int, y: int, offset: list[int]) -> int:
        return x * y + sum(offset)

    @flow
    def my_flow() -> list[int]:
        futures = combine.map([1, 2, 3], [10, 20, 30], unmapped([1, 1]))
        return [f.result() for f in futures]

    assert my_flow() == [12, 42, 92]


def test_map_over_a_future_result() -> None:
    @task
    def items() -> list[int]:
        return [1, 2, 3]

    @task
    def inc(x: int) -> int:
        return x + 1

    @flow
    def my_flow() -> list[int]:
        return inc.map(items.submit())

    assert my_flow() == [2, 3, 4]


def test_map_with_unequal_lengths_is_an_error() -> None:
    @task
    def pair(a: int, b: int) -> int:
        return a + b

    @flow
    def my_flow() -> None:
        pair.map([1, 2], [1, 2, 3])

    with pytest.raises(MappingError, match=r"a=2, b=3"):
        my_flow()


def test_map_needs_an_iterable() -> None:
    @task
    def single(a: int) -> int:
        return a

    @flow
    def my_flow() -> None:
        single.map(5)

    with pytest.raises(MappingError, match="iterable"):
        my_flow()


def test_submitted_tasks_run_concurrently_by_default() -> None:
    barrier = threading.Barrier(3, timeout=5)

    @task
    def meet(i: int) -> int:
        barrier.wait()
        return i

    @flow
    def my_flow() -> list[int]:
        return meet.map(range(3))

    assert my_flow() == [0, 1, 2]


def test_get_run_logger_inside_a_task(caplog: pytest.LogCaptureFixture) -> None:
    from floq import get_run_logger

    @task(task_run_name="logging-run")
    def chatty() -> None:
        get_run_logger().info("hello from the task")

    floq_logger = logging.getLogger("floq")
    propagate = floq_logger.propagate
    floq_logger.addHandler(caplog.handler)
    floq_logger.propagate = False  # each record reaches caplog once
    caplog.set_level(logging.INFO, logger="floq")
    try:
        chatty()
    finally:
        floq_logger.removeHandler(caplog.handler)
        floq_logger.propagate = propagate
    records = [r for r in caplog.records if "hello from the task" in r.getMessage()]
    assert len(records) == 1
    assert records[0].name == "floq.task_runs"
    assert records[0].getMessage() == "logging-run | hello from the task"
    assert records[0].task_run_name == "logging-run"


def test_wrong_arguments_fail_at_the_call_naming_the_task() -> None:
    runs: list[int] = []

    @task(retries=2)
    def one(x: int) -> int:
        runs.append(x)
        return x

    @flow
    def submits_badly() -> None:
        one.submit(1, 2)

    with pytest.raises(TypeError, match="task 'one'"):
        one(1, 2)
    with pytest.raises(TypeError, match="task 'one'"):
        submits_badly()
    with pytest.raises(TypeError, match="task 'one'"):
        one(y=3)
    assert runs == []


def test_map_futures_have_result_and_wait_for_all() -> None:
    @task
    def double(x: int) -> int:
        return 2 * x

    @task
    def fail(x: int) -> int:
        raise ValueError(f"bad {x}")

    @flow
    def my_flow() -> tuple[list[int], list[str], list[int]]:
        futures = double.map(range(4))
        futures.wait(timeout=10)
        assert all(f.state.is_completed() for f in futures)
        failed = fail.map([7, 8]).result(raise_on_failure=False)
        returned = double.map([5])
        return futures.result(timeout=10), [type(e).__name__ for e in failed], returned

    values, failures, returned = my_flow()
    assert values == [0, 2, 4, 6]
    assert failures == ["ValueError", "ValueError"]
    assert returned == [10] and type(returned) is list


def test_map_result_timeout_bounds_the_whole_wait() -> None:
    gate = threading.Event()

    @task
    def blocked(x: int) -> int:
        gate.wait(10)
        return x

    @flow
    def my_flow() -> str:
        futures = blocked.map([1, 2])
        try:
            futures.result(timeout=0.05)
        except TimeoutError:
            return "timed out"
        finally:
            gate.set()
        return "finished"

    assert my_flow() == "timed out"
