"""The process pool (parallel mode's and ProcessPoolTaskRunner's), with real spawned
processes: replies, errors with their remote traceback, a process that dies loses only its own
call and is replaced, calls wait for a free process, a shutdown answers every call it did not
run; a pool that starts its processes on demand, and one whose processes cannot start."""

from __future__ import annotations

import os
import queue
import time
from typing import Any

import pytest

from floq.errors import FloqError, RemoteTraceback
from floq.runners.process_pool import ProcessPool

WAIT = 30.0


def _nothing() -> None:
    """The pool's initializer here (the worker's sets up signals and logs)."""


class Replies:
    """Collects ``(ok, value)`` replies; :meth:`next` waits for one, bounded."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[bool, Any]] = queue.Queue()

    def __call__(self, ok: bool, value: Any) -> None:
        self._queue.put((ok, value))

    def next(self) -> tuple[bool, Any]:
        try:
            return self._queue.get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError(f"no reply within {WAIT} s") from None


@pytest.fixture
def pool() -> Any:
    made: list[ProcessPool] = []

    def make(size: int, start_all: bool = True, initializer: Any = _nothing) -> ProcessPool:
        made.append(ProcessPool(size, initializer, (), start_all=start_all))
        return made[-1]

    yield make
    for each in made:
        each.shutdown(kill=True)


def test_a_call_runs_in_a_pool_process_and_replies_its_value(pool: Any) -> None:
    the_pool, replies = pool(2), Replies()
    the_pool.submit(os.getpid, (), replies)
    ok, pid = replies.next()
    assert ok and pid in the_pool.pids and pid != os.getpid()


def test_an_error_arrives_with_its_type_and_remote_traceback(pool: Any) -> None:
    the_pool, replies = pool(1), Replies()
    the_pool.submit(int, ("not a number",), replies)
    ok, error = replies.next()
    assert not ok and isinstance(error, ValueError), error
    assert isinstance(error.__cause__, RemoteTraceback)
    assert "not a number" in str(error.__cause__)


def test_a_process_that_dies_loses_its_own_call_only_and_is_replaced(pool: Any) -> None:
    the_pool = pool(2)
    before = set(the_pool.pids)
    dies, lives = Replies(), Replies()
    the_pool.submit(time.sleep, (0.5,), lives)  # in flight in the other process meanwhile
    the_pool.submit(os._exit, (3,), dies)
    ok, error = dies.next()
    assert not ok and isinstance(error, FloqError), error
    assert "ended with exit code 3" in str(error)
    assert lives.next() == (True, None)
    deadline = time.monotonic() + WAIT
    while len(set(the_pool.pids) - before) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(the_pool.pids) == 2 and len(set(the_pool.pids) - before) == 1, the_pool.pids
    after = Replies()
    for _ in range(2):
        the_pool.submit(os.getpid, (), after)
    assert {after.next()[1], after.next()[1]} <= set(the_pool.pids)


def test_calls_wait_for_a_free_process_and_run_in_turn(pool: Any) -> None:
    the_pool, replies = pool(1), Replies()
    for seconds in (0.2, 0.0, 0.0):
        the_pool.submit(time.sleep, (seconds,), replies)
    assert [replies.next() for _ in range(3)] == [(True, None)] * 3


def test_a_shutdown_answers_the_calls_it_did_not_run(pool: Any) -> None:
    the_pool, running, queued = pool(1), Replies(), Replies()
    the_pool.submit(time.sleep, (5,), running)
    the_pool.submit(os.getpid, (), queued)
    the_pool.shutdown(kill=True)
    ok, error = queued.next()
    assert not ok and "shut down before it ran" in str(error)
    ok, error = running.next()
    assert not ok and "killed by SIGKILL" in str(error), error
    with pytest.raises(FloqError, match="shut down"):
        the_pool.submit(os.getpid, (), queued)


def test_a_pool_started_on_demand_adds_a_process_per_call_that_finds_none_idle(pool: Any) -> None:
    the_pool = pool(2, start_all=False)
    assert the_pool.pids == []
    first, second = Replies(), Replies()
    the_pool.submit(os.getpid, (), first)
    ok, pid = first.next()
    assert ok and the_pool.pids == [pid]
    the_pool.submit(os.getpid, (), second)  # the first process is idle again: it takes it
    assert second.next() == (True, pid) and the_pool.pids == [pid]
    both = Replies()
    for _ in range(3):  # two at once: a second process, and no third (size 2)
        the_pool.submit(time.sleep, (0.3,), both)
    assert [both.next() for _ in range(3)] == [(True, None)] * 3
    assert len(the_pool.pids) == 2 and pid in the_pool.pids


def _cannot_start() -> None:
    raise SystemExit(5)


def test_calls_fail_when_no_process_of_the_pool_can_start(pool: Any) -> None:
    the_pool, replies = pool(1, start_all=False, initializer=_cannot_start), Replies()
    the_pool.submit(os.getpid, (), replies)
    ok, error = replies.next()
    assert not ok and isinstance(error, FloqError), error
    assert "no process of the pool could start: the last one ended with exit code 5" in str(error)
