"""The reliability model: fencing, dead letters, retries held in Redis, draining on SIGTERM."""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cloudpickle
from integration_helpers import WAIT, lines, outcomes, wait_until
from shared_tasks import add, marked_sleep

from floq import flow, task
from floq.states import StateType
from floq.store.keys import GROUP, Keys
from floq.store.protocol import Claim, Result, Submission, Summary, TaskRunProtocol

cloudpickle.register_pickle_by_value(sys.modules[__name__])

TTL = 600


@task(retries=2, retry_delay_seconds=0.5)
def fails_twice(path: str) -> str:
    with open(path, "a") as out:
        out.write(f"{os.getpid()}\n")
    with open(path) as done:
        runs = len(done.read().splitlines())
    if runs < 3:
        raise RuntimeError(f"failure number {runs}")
    return f"ok after {runs}"


# --- the store protocol, called directly --------------------------------------------------------
@dataclass
class OneRun:
    """One task run of one flow run on queue ``default``, driven through the protocol class."""

    client: Any
    keys: Keys
    flow_run_id: str = "fr-fencing"
    task_run_id: str = "tr-fencing"

    def __post_init__(self) -> None:
        self.protocol = TaskRunProtocol(self.client, self.keys, TTL)
        self.stream = self.keys.queue("default")
        self.hash = self.keys.task(self.flow_run_id, self.task_run_id)
        self.results = self.keys.results(self.flow_run_id)
        self.protocol.ensure_queue("default")

    def submit(self) -> int:
        submission = Submission(
            self.task_run_id, self.flow_run_id, b"payload", (), "code-address", "task-name"
        )
        return self.protocol.submit("default", [submission])

    def claim(self, consumer: str) -> str:
        claims, _ = self.protocol.claim(self.client, consumer, ["default"], 1, block_ms=1000)
        assert claims, f"{consumer} claimed nothing"
        [claim] = claims
        return claim.entry_id

    def reclaim(self, consumer: str) -> int:
        return self.protocol.hand_back("default", consumer)

    def complete(self, consumer: str, entry: str) -> int:
        """1 if ``consumer``'s outcome of attempt ``entry`` was recorded, 0 if refused."""
        claim = Claim("default", entry, self.flow_run_id, self.task_run_id, b"payload")
        summary = Summary("COMPLETED", "Completed", "", "1.0", "2.0")
        result = Result(b"outcome of " + consumer.encode(), summary=summary)
        [accepted] = self.protocol.complete(consumer, [(claim, result)])
        return int(accepted)

    def current_entry(self) -> str:
        return str(self.client.hget(self.hash, "e").decode())


def test_a_reclaimed_attempt_cannot_complete(client: Any, keys: Keys) -> None:
    run = OneRun(client, keys)
    assert run.submit() == 0  # nothing to wait for: queued at once

    old_entry = run.claim("old")
    assert run.current_entry() == old_entry
    # "old" is presumed dead: the reaper hands its attempt back, under a new token.
    assert run.reclaim("old") == 1
    assert run.current_entry() != old_entry

    assert run.complete("old", old_entry) == 0
    assert client.xlen(run.results) == 0
    assert client.hget(run.hash, "f") is None

    new_entry = run.claim("new")
    assert new_entry == run.current_entry() != old_entry
    assert run.complete("old", new_entry) == 0  # not its attempt
    assert run.complete("new", old_entry) == 0  # a stale token
    assert client.xlen(run.results) == 0
    assert run.complete("new", new_entry) == 1
    [(_, fields)] = client.xrange(run.results)
    assert fields == {b"o:" + run.task_run_id.encode(): b"outcome of new"}
    assert client.hget(run.hash, "f") == b"1"
    assert client.xpending(run.stream, GROUP)["pending"] == 0
    # Completing twice records nothing more.
    assert run.complete("new", new_entry) == 0
    assert client.xlen(run.results) == 1


def _queue_raw_entry(client: Any, keys: Keys, task_run_id: str, fields: dict[str, Any]) -> None:
    """XADD ``fields`` to the default queue as task run ``task_run_id`` of flow run ``fr-raw``.

    The run's hash names the entry first, so whenever a worker claims it, it is current.
    """
    entry_id = f"{int(time.time() * 1000)}-7"
    client.hset(
        keys.task("fr-raw", task_run_id),
        mapping={"e": entry_id, "r": "fr-raw", "i": task_run_id, "q": "default"},
    )
    client.xadd(keys.queue("default"), {"f": "fr-raw", "t": task_run_id, **fields}, id=entry_id)


def _dead_letters(client: Any, keys: Keys, worker: Any, logs: Any) -> list[Any]:
    assert worker.poll() is None, f"the worker died (exit {worker.returncode}):\n{logs()}"
    return list(client.xrange(keys.dead("default")))


def _assert_dead_lettered(client: Any, keys: Keys, workers: Any, task_run_id: str) -> bytes:
    """The run is in the dead letters, with a reason, and recorded Failed; returns the reason."""
    worker = workers.processes[-1]
    dead = wait_until(lambda: _dead_letters(client, keys, worker, workers.logs), 15,
                      f"a dead letter\n{workers.logs()}")  # fmt: skip
    assert [letter[b"t"] for _, letter in dead] == [task_run_id.encode()]
    reason = dead[0][1][b"reason"]
    assert reason.strip()
    recorded = wait_until(lambda: outcomes(client, keys, "fr-raw"), 15, "the outcome")
    assert [(run_id, state.type) for run_id, state in recorded] == [(task_run_id, StateType.FAILED)]
    return bytes(reason)


def _still_works(runner: Any, workers: Any) -> None:
    @flow(task_runner=runner)
    def afterwards() -> int:
        return add.submit(2, 3).result(timeout=WAIT)

    assert afterwards() == 5
    assert workers.processes[-1].poll() is None, workers.logs()


def test_garbage_payload_goes_to_dead_letters(runner, workers, client: Any, keys: Keys) -> None:
    workers.start("--concurrency", "4")
    workers.wait_registered(1)
    payload = b"\x00 not a floq payload \xff"
    _queue_raw_entry(client, keys, "tr-garbage",
                     {"p": payload, "u": "", "n": "1", "c": "no-such-code"})  # fmt: skip

    _assert_dead_lettered(client, keys, workers, "tr-garbage")
    [(_, letter)] = client.xrange(keys.dead("default"))
    assert letter[b"payload"] == payload
    _still_works(runner, workers)


def test_unsigned_payload_is_refused_by_a_worker_with_a_secret(
    runner, workers, client: Any, keys: Keys
) -> None:
    workers.start("--concurrency", "4", FLOQ_SECRET="worker-only-secret")
    workers.wait_registered(1)

    seen: dict[str, Any] = {}

    @flow(task_runner=runner)
    def unsigned() -> None:
        seen["state"] = add.submit(1, 2).wait(timeout=WAIT)

    # A flow with a failed task run and no value of its own fails.
    assert unsigned(return_state=True).is_failed()
    state = seen["state"]
    assert state.type is StateType.FAILED, state
    [(_, letter)] = client.xrange(keys.dead("default"))
    assert b"not signed" in letter[b"reason"], letter[b"reason"]


def test_retries_wait_in_redis(runner, workers, client: Any, keys: Keys, tmp_path: Path) -> None:
    workers.start("--concurrency", "4")
    workers.wait_registered(1)
    runs = tmp_path / "runs"
    seen: dict[str, Any] = {}

    @flow(task_runner=runner)
    def retrying() -> str:
        future = fails_twice.submit(str(runs))
        seen["future"] = future
        seen["waiting"] = wait_until(lambda: client.zrange(keys.retries, 0, -1), 10,
                                     "a retry waiting in the retries set")  # fmt: skip
        return future.result(timeout=WAIT)

    assert retrying() == "ok after 3"
    assert len(lines(runs)) == 3
    future = seen["future"]
    assert seen["waiting"] == [keys.task(future.task_run.flow_run_id, future.task_run_id).encode()]
    assert future.state.is_completed()
    names = [state.name for state in future.task_run.history]
    assert names.count("AwaitingRetry") == 2, names
    assert future.task_run.run_count == 3
    assert client.zcard(keys.retries) == 0


def test_sigterm_lets_the_running_task_finish(runner, workers, tmp_path: Path) -> None:
    worker = workers.start("--concurrency", "4")
    workers.wait_registered(1)
    marks = tmp_path / "marks"
    seen: dict[str, float] = {}

    @flow(task_runner=runner)
    def drained() -> str:
        future = marked_sleep.submit(str(marks), 1.5)
        wait_until(lambda: lines(marks), 15, "the task to start")
        worker.send_signal(signal.SIGTERM)
        seen["sent"] = time.monotonic()
        return future.result(timeout=WAIT)

    assert drained() == "slept"
    assert worker.wait(timeout=15) == 0, workers.logs()
    assert time.monotonic() - seen["sent"] < 10  # FLOQ_DRAIN_SECONDS of WORKER_ENV
    assert lines(marks) == [f"start {worker.pid}", f"end {worker.pid}"]


def test_task_outliving_the_grace_period_is_handed_back(
    runner, workers, client: Any, keys: Keys, tmp_path: Path
) -> None:
    first = workers.start("--concurrency", "4", FLOQ_DRAIN_SECONDS="1")
    workers.wait_registered(1)
    marks = tmp_path / "marks"
    seen: dict[str, Any] = {}

    @flow(task_runner=runner)
    def handed_back() -> str:
        future = marked_sleep.submit(str(marks), 4.0)
        wait_until(lambda: lines(marks), 15, "the task to start")
        first.send_signal(signal.SIGTERM)
        seen["exit"] = first.wait(timeout=10)
        seen["second"] = workers.start("--concurrency", "4")
        wait_until(lambda: client.scard(keys.workers), 15, f"a second worker\n{workers.logs()}")
        return future.result(timeout=WAIT)

    assert handed_back() == "slept"
    assert seen["exit"] == 0, workers.logs()
    assert "handing back 1" in workers.logs()
    second = seen["second"].pid
    # The first attempt never finished: its worker left without waiting for it.
    assert lines(marks) == [f"start {first.pid}", f"start {second}", f"end {second}"]


def test_malformed_entry_goes_to_dead_letters(runner, workers, client: Any, keys: Keys) -> None:
    """An entry lacking a field (say, queued by an older floq) must not kill the worker.

    Last in the file: it fails while the bug is there, and ``-x`` should not skip the others.
    """
    workers.start("--concurrency", "4")
    workers.wait_registered(1)
    _queue_raw_entry(client, keys, "tr-malformed", {"p": b"payload", "u": "", "n": "1"})

    _assert_dead_lettered(client, keys, workers, "tr-malformed")
    _still_works(runner, workers)
