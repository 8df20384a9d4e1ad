"""Runner contract, part 2: retries, timeouts, waiting on many futures, and async.

Every test runs once per runner (see ``conftest.py``). Where runners legitimately differ,
the runner's capabilities (``runner_case``) say what to expect: a non-concurrent runner
finishes each run inside ``submit``, so its futures are never seen unfinished.
"""

from __future__ import annotations

import asyncio
import sys
import time

import cloudpickle
from contract_helpers import WAIT, caught

from floq import as_completed, flow, task, wait
from floq.errors import TaskRunTimeout
from floq.states import StateType

cloudpickle.register_pickle_by_value(sys.modules[__name__])


@task
def add(x, y):
    return x + y


@task
def sleep_then_return(seconds, value=None):
    time.sleep(seconds)
    return value


@task(retries=3)
def always_fails(counter):
    attempt = counter.hit()
    raise RuntimeError(f"attempt {attempt} failed")


@task(retries=3)
def fails_twice(counter):
    attempt = counter.hit()
    if attempt <= 2:
        raise RuntimeError(f"attempt {attempt} failed")
    return f"succeeded on attempt {attempt}"


@task(timeout_seconds=0.5)
def too_slow(seconds):
    time.sleep(seconds)
    return "should have timed out"


@task
async def async_add(x, y):
    await asyncio.sleep(0.01)
    return x + y


# --- 8. retries -------------------------------------------------------------------------------


def test_retries(runner, counters):
    hopeless, flaky = counters("hopeless"), counters("flaky")

    @flow(task_runner=runner)
    def body():
        doomed = always_fails.submit(hopeless)
        recovers = fails_twice.submit(flaky)
        doomed_state, recovers_state = doomed.wait(timeout=WAIT), recovers.wait(timeout=WAIT)
        return {
            "doomed": (
                doomed_state.type,
                str(doomed.result(timeout=WAIT, raise_on_failure=False)),
                [s.name for s in doomed.task_run.history],
                doomed.task_run.run_count,
            ),
            "recovers": (
                recovers_state.type,
                recovers.result(timeout=WAIT),
                [s.name for s in recovers.task_run.history],
                recovers.task_run.run_count,
            ),
        }

    outcome = body()
    doomed_type, doomed_error, doomed_history, doomed_runs = outcome["doomed"]
    assert hopeless.count() == 4, "retries=3 must run an always-failing task 4 times"
    assert (doomed_type, doomed_error, doomed_runs) == (StateType.FAILED, "attempt 4 failed", 4)
    assert doomed_history.count("AwaitingRetry") == 3
    assert doomed_history.count("Retrying") == 3
    assert doomed_history[-1] == "Failed"

    recovers_type, value, recovers_history, recovers_runs = outcome["recovers"]
    assert flaky.count() == 3, "a task failing twice then succeeding must run 3 times"
    assert (recovers_type, value, recovers_runs) == (
        StateType.COMPLETED,
        "succeeded on attempt 3",
        3,
    )
    assert recovers_history.count("AwaitingRetry") == 2
    assert recovers_history.count("Retrying") == 2
    assert recovers_history[-1] == "Completed"


# --- 9. timeout_seconds -----------------------------------------------------------------------


def test_timeout_seconds_ends_the_run_timed_out(runner, warm_up):
    @flow(task_runner=runner)
    def body():
        warm_up()  # process start-up must not count against the timeout
        started = time.monotonic()
        future = too_slow.submit(10)
        state = future.wait(timeout=WAIT)
        elapsed = time.monotonic() - started
        return state.type, state.name, elapsed, caught(future.result, timeout=WAIT)

    state_type, name, elapsed, error = body()
    assert (state_type, name) == (StateType.FAILED, "TimedOut")
    # Far below the task's 10 s, with room for a loaded machine.
    assert elapsed < 5, f"the 0.5 s timeout ended the run only after {elapsed:.2f} s"
    assert isinstance(error, TaskRunTimeout) and isinstance(error, TimeoutError)


# --- 10. result(timeout=...) ------------------------------------------------------------------


def test_result_timeout_raises_and_the_run_still_completes(runner, runner_case):
    @flow(task_runner=runner)
    def body():
        future = sleep_then_return.submit(2.5, "finished")
        started = time.monotonic()
        early = caught(future.result, timeout=0.1)
        waited = time.monotonic() - started
        return early, waited, future.result(timeout=WAIT), future.state.type

    early, waited, value, final_type = body()
    if runner_case.concurrent:
        assert isinstance(early, TimeoutError), f"expected TimeoutError, got {early!r}"
        assert waited < 2.0, f"result(timeout=0.1) returned only after {waited:.2f} s"
    else:  # the run finished inside submit(): nothing left to wait for
        assert early is None
    assert (value, final_type) == ("finished", StateType.COMPLETED)


# --- 11. as_completed and wait ----------------------------------------------------------------


def test_as_completed_yields_in_completion_order(runner, runner_case, warm_up):
    delays = [1.6, 0.1, 0.8]  # 0.7 s or more between completions, for a loaded machine

    @flow(task_runner=runner)
    def body():
        warm_up()  # every worker is up, so the three runs start together
        futures = [sleep_then_return.submit(delay, delay) for delay in delays]
        return [future.result(timeout=WAIT) for future in as_completed(futures, timeout=WAIT)]

    expected = sorted(delays) if runner_case.concurrent else delays
    assert body() == expected


def test_as_completed_timeout_and_wait(runner, runner_case):
    @flow(task_runner=runner)
    def body():
        slow = [sleep_then_return.submit(2.0, i) for i in range(2)]
        started = time.monotonic()
        yielded = []
        try:
            for future in as_completed(slow, timeout=0.05):
                yielded.append(future)
        except TimeoutError as error:
            timed_out = error
        else:
            timed_out = None
        as_completed_took = time.monotonic() - started

        fast = add.submit(1, 2)
        fast.result(timeout=WAIT)
        lone_slow = sleep_then_return.submit(2.0, "slow")
        first = wait([fast, lone_slow], timeout=0.05)
        second = wait([fast, lone_slow], timeout=WAIT)
        return {
            "timed_out": timed_out,
            "yielded": len(yielded),
            "as_completed_took": as_completed_took,
            "first": (first.done == {fast}, first.not_done == {lone_slow}),
            "first_all_done": (first.done == {fast, lone_slow}, first.not_done == set()),
            "second": (second.done == {fast, lone_slow}, second.not_done == set()),
            "positional": tuple(len(part) for part in second),
        }

    seen = body()
    if runner_case.concurrent:
        assert isinstance(seen["timed_out"], TimeoutError)
        assert seen["yielded"] == 0
        assert seen["as_completed_took"] < 1.5  # timeout=0.05, runs of 2 s
        assert seen["first"] == (True, True), "wait(timeout) must split (done, not_done)"
    else:  # every run finished inside submit()
        assert seen["timed_out"] is None and seen["yielded"] == 2
        assert seen["first_all_done"] == (True, True)
    assert seen["second"] == (True, True)
    assert seen["positional"] == (2, 0), "wait() returns (done, not_done)"


# --- 12. async tasks and flows ----------------------------------------------------------------


def test_async_task_from_sync_flow(runner):
    @flow(task_runner=runner)
    def body():
        first = async_add.submit(1, 2)
        second = async_add.submit(first, 10)  # an async task downstream of an async task
        mixed = add.submit(second, 100)  # a sync task downstream of an async one
        return [f.result(timeout=WAIT) for f in (first, second, mixed)], first.state.type

    assert body() == ([3, 13, 113], StateType.COMPLETED)


def test_async_flow_awaits_tasks_and_futures(runner):
    @flow(task_runner=runner)
    async def body():
        direct = await async_add(1, 2)  # awaiting an async task call runs it
        async_future = async_add.submit(3, 4)
        sync_future = add.submit(5, 6)
        failing = add.submit(1, "not a number")
        try:
            await failing
        except TypeError as error:
            failure = type(error).__name__
        else:
            failure = None
        return direct, await async_future, await sync_future, async_future.state.name, failure

    outcome = asyncio.run(asyncio.wait_for(body(), WAIT))
    assert outcome == (3, 7, 11, "Completed", "TypeError")
