"""TaskFuture, wait() and as_completed()."""

from __future__ import annotations

import pickle
import threading
from typing import Any

import cloudpickle
import pytest

from floq import as_completed, flow, task, wait
from floq.futures import TaskFuture, UpstreamRef
from floq.runs import TaskRunRecord
from floq.states import Completed, Failed, Running, transition


def make_future(run_id: str = "run-1") -> TaskFuture[Any]:
    return TaskFuture(TaskRunRecord(run_id, f"name-{run_id}", "t"))


def finish(future: TaskFuture[Any], state) -> None:
    transition(future.task_run, Running())
    transition(future.task_run, state)
    future.finish(state)


def test_future_basics() -> None:
    future = make_future("abc")
    assert future.task_run_id == "abc"
    assert not future.done()
    assert future.state.is_pending()
    finish(future, Completed(7))
    assert future.done()
    assert future.state.is_completed()
    assert future.result() == 7
    assert future.wait().result() == 7


def test_result_reraises_or_returns_the_exception() -> None:
    error = ValueError("task error")
    future = make_future()
    finish(future, Failed(error))
    with pytest.raises(ValueError) as info:
        future.result()
    assert info.value is error
    assert future.result(raise_on_failure=False) is error


def test_result_timeout_names_the_run() -> None:
    future = make_future("slow")
    with pytest.raises(TimeoutError, match="name-slow"):
        future.result(timeout=0.05)


def test_wait_with_timeout_returns_the_current_state() -> None:
    future = make_future()
    transition(future.task_run, Running())
    state = future.wait(timeout=0.05)
    assert state.is_running()


def test_finish_twice_keeps_the_first_state() -> None:
    future = make_future()
    first = Completed(1)
    future.finish(first)
    future.finish(Completed(2))
    assert future.wait() is first


def test_add_done_callback() -> None:
    called: list[TaskFuture[Any]] = []
    future = make_future()
    future.add_done_callback(called.append)
    assert called == []
    finish(future, Completed(1))
    assert called == [future]
    # Already done: called at once.
    future.add_done_callback(called.append)
    assert called == [future, future]


def test_future_pickles_to_an_upstream_ref() -> None:
    future = make_future("pickled-run")
    for dumps in (pickle.dumps, cloudpickle.dumps):
        restored = pickle.loads(dumps(future))
        assert restored == UpstreamRef("pickled-run")
        assert isinstance(restored, UpstreamRef)


def test_future_inside_a_structure_pickles_to_a_ref() -> None:
    future = make_future("inner")
    restored = pickle.loads(pickle.dumps({"args": [future, 1]}))
    assert restored == {"args": [UpstreamRef("inner"), 1]}


def test_await_a_future() -> None:
    import asyncio

    future = make_future()

    async def main() -> Any:
        threading.Timer(0.05, finish, (future, Completed("awaited"))).start()
        return await asyncio.wait_for(_await(future), timeout=5)

    async def _await(f: TaskFuture[Any]) -> Any:
        return await f

    assert asyncio.run(main()) == "awaited"


# --- wait ------------------------------------------------------------------------------


def test_wait_negative_timeout_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="timeout"):
        wait([make_future()], timeout=-1)


def test_as_completed_negative_timeout_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="timeout"):
        list(as_completed([make_future()], timeout=-0.5))


def test_wait_splits_done_and_not_done() -> None:
    done_future, pending_future = make_future("d"), make_future("p")
    finish(done_future, Completed(1))
    result = wait([done_future, pending_future], timeout=0.05)
    assert result.done == {done_future}
    assert result.not_done == {pending_future}
    done, not_done = result  # a named tuple
    assert done is result.done and not_done is result.not_done


def test_wait_zero_timeout_does_not_block() -> None:
    future = make_future()
    result = wait([future], timeout=0)
    assert result.not_done == {future}


def test_wait_for_all() -> None:
    futures = [make_future(str(i)) for i in range(3)]
    for i, f in enumerate(futures):
        threading.Timer(0.01 * i, finish, (f, Completed(i))).start()
    result = wait(futures, timeout=10)
    assert result.done == set(futures)
    assert result.not_done == set()


def test_as_completed_yields_in_completion_order() -> None:
    first, second, third = make_future("1"), make_future("2"), make_future("3")
    finish(second, Completed(2))
    iterator = as_completed([first, second, third], timeout=5)
    assert next(iterator) is second
    finish(third, Completed(3))
    assert next(iterator) is third
    finish(first, Completed(1))
    assert next(iterator) is first
    with pytest.raises(StopIteration):
        next(iterator)


def test_as_completed_with_duplicates_yields_each_once() -> None:
    a, b = make_future("a"), make_future("b")
    finish(a, Completed(1))
    finish(b, Completed(2))
    got = list(as_completed([a, b, a, a, b], timeout=5))
    assert len(got) == 2
    assert set(got) == {a, b}


def test_as_completed_timeout_raises() -> None:
    a, b = make_future("a"), make_future("b")
    finish(a, Completed(1))
    iterator = as_completed([a, b], timeout=0.1)
    assert next(iterator) is a
    with pytest.raises(TimeoutError):
        next(iterator)


def test_wait_and_as_completed_inside_a_flow() -> None:
    @task
    def value(i: int) -> int:
        return i

    @flow
    def my_flow() -> tuple[set[int], list[int]]:
        futures = value.map(range(5))
        done, not_done = wait(futures, timeout=10)
        assert not not_done
        completed = sorted(f.result() for f in as_completed(futures, timeout=10))
        return {f.result() for f in done}, completed

    done, completed = my_flow()
    assert done == {0, 1, 2, 3, 4}
    assert completed == [0, 1, 2, 3, 4]


def test_future_repr_names_the_run() -> None:
    future = make_future("r")
    assert "name-r" in repr(future)


def test_a_raising_done_callback_does_not_stop_the_others() -> None:
    called: list[str] = []

    def bad(_: TaskFuture[Any]) -> None:
        raise RuntimeError("callback broke")

    future = make_future()
    future.add_done_callback(bad)
    future.add_done_callback(lambda f: called.append("second"))
    finish(future, Completed(1))
    assert called == ["second"]
    assert future.result() == 1


def test_callbacks_run_once_when_finished_from_another_thread() -> None:
    calls: list[int] = []
    everyone_called = threading.Event()
    future = make_future()

    def callback(_: TaskFuture[Any]) -> None:
        calls.append(1)
        if len(calls) == 3:
            everyone_called.set()

    for _ in range(3):
        future.add_done_callback(callback)
    threading.Thread(target=finish, args=(future, Completed(1))).start()
    assert everyone_called.wait(5)
    future.finish(Completed(2))  # a second finish is ignored and calls nothing again
    assert len(calls) == 3


def test_wait_async_from_an_event_loop() -> None:
    import asyncio

    future = make_future()

    async def main() -> Any:
        waiter = asyncio.ensure_future(future.wait_async())
        await asyncio.sleep(0)
        assert not waiter.done()
        threading.Thread(target=finish, args=(future, Completed("late"))).start()
        state = await asyncio.wait_for(waiter, timeout=5)
        return state.result()

    assert asyncio.run(main()) == "late"


def test_as_completed_with_futures_finishing_in_other_threads() -> None:
    futures = [make_future(str(i)) for i in range(5)]
    for f in reversed(futures):
        threading.Thread(target=finish, args=(f, Completed(f.task_run_id))).start()
    got = list(as_completed(futures, timeout=5))
    assert sorted(f.result() for f in got) == ["0", "1", "2", "3", "4"]
    assert len(got) == 5
