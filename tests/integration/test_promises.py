"""README promises of the distributed path, each through real flow-workers on a real server.

Signed payloads end to end, live workers' claims never reaped, a late outcome refused (fencing
through a real worker), waiting downstreams holding no slot, claims bounded by free slots,
task code stored once, results expiring after FLOQ_RESULT_TTL, and ``--burst``.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from integration_helpers import WAIT, lines, outcomes_of, wait_until
from shared_tasks import add, marked_sleep

import floq.settings
from floq import flow, task
from floq.runners import RedisTaskRunner
from floq.settings import Settings
from floq.store.keys import GROUP

cloudpickle.register_pickle_by_value(sys.modules[__name__])


@task
def tagged(value: str, index: int) -> str:
    return f"{value}-{index}"


@task
def blocked(release: str, marker: str) -> str:
    """Marks that it started, then waits (at most a minute) until ``release`` exists."""
    Path(marker).write_text("started")
    deadline = time.monotonic() + 60
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.02)
    return "released"


def _settings(monkeypatch: pytest.MonkeyPatch, **changes: Any) -> None:
    """This process's settings (the coordinator's) with ``changes``, for this test only."""
    monkeypatch.setattr(floq.settings, "_settings", Settings.from_env().replace(**changes))


def test_signed_payloads_run_end_to_end(
    runner: Any, workers: Any, client: Any, keys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _settings(monkeypatch, secret=b"shared-secret")
    workers.start(FLOQ_SECRET="shared-secret")
    workers.wait_registered(1)

    @flow(task_runner=runner)
    def signed() -> int:
        return sum(f.result() for f in add.map(range(4), 10))

    assert signed() == 46, workers.logs()
    assert client.xlen(keys.dead("default")) == 0


def test_a_live_workers_long_claim_is_never_reaped(
    runner: Any, workers: Any, client: Any, keys: Any, tmp_path: Path
) -> None:
    for _ in range(2):
        workers.start("--concurrency", "2")
    workers.wait_registered(2)
    marks = tmp_path / "marks"
    seen: dict[str, Any] = {}

    @flow(task_runner=runner)
    def long_one() -> str:
        future = marked_sleep.submit(str(marks), 6.0)  # 3x FLOQ_WORKER_TTL of the test workers
        seen["future"] = future
        return future.result(timeout=WAIT)

    assert long_one() == "slept"
    assert [line.split()[0] for line in lines(marks)] == ["start", "end"], lines(marks)
    assert "handed back" not in workers.logs()
    run = seen["future"].task_run
    mine = outcomes_of(client, keys, run)
    assert len(mine) == 1 and mine[0].is_completed(), mine


def test_a_late_outcome_from_a_worker_presumed_dead_is_refused(
    runner: Any, workers: Any, client: Any, keys: Any, tmp_path: Path
) -> None:
    for _ in range(2):
        workers.start("--concurrency", "2")
    workers.wait_registered(2)
    marks = tmp_path / "marks"
    seen: dict[str, Any] = {}

    @flow(task_runner=runner)
    def fenced() -> str:
        future = marked_sleep.submit(str(marks), 2.0)
        seen["future"] = future
        first = int(wait_until(lambda: lines(marks), WAIT, "the first start")[0].split()[1])
        [paused] = [p for p in workers.processes if p.pid == first]
        paused.send_signal(signal.SIGSTOP)  # its heartbeat stops too: presumed dead
        seen["paused"] = paused
        try:
            return future.result(timeout=WAIT)  # run again and completed by the other worker
        finally:
            paused.send_signal(signal.SIGCONT)

    assert fenced() == "slept"
    paused = seen["paused"]
    log = workers.log_dir / f"worker-{workers.processes.index(paused)}.log"
    wait_until(lambda: "refused" in log.read_text(), WAIT, f"the refusal\n{workers.logs()}")
    run = seen["future"].task_run
    mine = outcomes_of(client, keys, run)
    assert [s.is_final() for s in mine] == [True], mine
    starts = [line.split()[1] for line in lines(marks) if line.startswith("start")]
    assert len(starts) == 2 and starts[0] == str(paused.pid) != starts[1], starts


def test_waiting_downstreams_hold_no_worker_slot(runner: Any, workers: Any, tmp_path: Path) -> None:
    workers.start("--concurrency", "2")
    workers.wait_registered(1)
    release = tmp_path / "release"

    @flow(task_runner=runner)
    def fan_out() -> list[str]:
        gate = blocked.submit(str(release), str(tmp_path / "gate"))
        downstream = [tagged.submit(gate, i) for i in range(5)]  # wait for the gate
        # Two slots: the gate holds one. Had the five downstreams taken the other, this
        # independent run could not start until the gate opened.
        independent = add.submit(1, 1)
        assert independent.result(timeout=WAIT) == 2
        release.write_text("go")
        return [f.result(timeout=WAIT) for f in downstream]

    assert fan_out() == [f"released-{i}" for i in range(5)], workers.logs()


def test_claims_never_exceed_free_slots(
    runner: Any, workers: Any, client: Any, keys: Any, tmp_path: Path
) -> None:
    worker = workers.start("--concurrency", "2", "--name", "slots-2")
    workers.wait_registered(1)
    release = tmp_path / "release"
    counts: dict[str, int] = {}

    @flow(task_runner=runner)
    def many() -> list[str]:
        futures = [blocked.submit(str(release), str(tmp_path / f"m{i}")) for i in range(8)]
        wait_until(lambda: len(list(tmp_path.glob("m*"))) >= 2, WAIT, "two runs started")
        stream = keys.queue("default")
        wait_until(lambda: client.xlen(stream) == 8, WAIT, "all eight on the stream")
        time.sleep(1.0)  # give an over-eager worker the time to claim more: it must not
        pending = client.xpending(stream, GROUP)
        counts.update(pending=pending["pending"], started=len(list(tmp_path.glob("m*"))))
        release.write_text("go")
        return [f.result(timeout=WAIT) for f in futures]

    assert many() == ["released"] * 8
    assert counts == {"pending": 2, "started": 2}, (counts, worker.args)


@task
def in_turn(folder: str) -> int:
    """Takes the next start number k (a marker file made with O_EXCL), then waits until
    ``go-k`` exists (at most a minute); returns k."""
    k = 0
    while True:
        try:
            os.close(os.open(f"{folder}/m{k}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            break
        except FileExistsError:
            k += 1
    deadline = time.monotonic() + 60
    while not os.path.exists(f"{folder}/go-{k}") and time.monotonic() < deadline:
        time.sleep(0.02)
    return k


@pytest.mark.parametrize(
    "mode", [("--concurrency", "2"), ("--mode", "parallel", "--processes", "2")]
)
def test_a_run_that_ends_frees_one_slot_and_one_is_claimed(
    mode: tuple[str, ...], runner: Any, workers: Any, client: Any, keys: Any, tmp_path: Path
) -> None:
    """Runs end one at a time: each time exactly one more is claimed (parallel mode claims it
    from the pool's thread as the run ends, see Worker._refill), never two."""
    workers.start(*mode, "--name", "in-turn")
    workers.wait_registered(1)
    seen: list[int] = []

    @flow(task_runner=runner)
    def turns() -> list[int]:
        futures = [in_turn.submit(str(tmp_path)) for _ in range(6)]
        stream = keys.queue("default")
        for k in range(4):
            wait_until(lambda k=k: (tmp_path / f"m{k + 1}").exists(), WAIT, f"run {k + 1} to start")
            wait_until(lambda k=k: sum(f.done() for f in futures) == k, WAIT, f"{k} outcome(s)")
            time.sleep(0.3)  # the time an over-eager worker would need to claim more
            seen.append(client.xpending(stream, GROUP)["pending"])
            (tmp_path / f"go-{k}").write_text("go")
        for k in range(4, 6):
            (tmp_path / f"go-{k}").write_text("go")
        return sorted(f.result(timeout=WAIT) for f in futures)

    assert turns() == list(range(6))
    assert seen == [2, 2, 2, 2], workers.logs()


def test_a_worker_on_two_queues_claims_no_more_than_its_free_slots(
    redis_url: str, namespace: str, workers: Any, client: Any, keys: Any, tmp_path: Path
) -> None:
    """XREADGROUP's COUNT is per stream: one free slot and two queues read at once claimed
    one run of each. The first queue listed has the first pick."""
    workers.start("--concurrency", "1", "--queue", "high", "--queue", "low")
    workers.wait_registered(1)

    def one_on(queue: str, name: str, release: str) -> str:
        @flow(task_runner=RedisTaskRunner(url=redis_url, namespace=namespace, queue=queue))
        def one() -> str:
            return blocked.submit(str(tmp_path / release), str(tmp_path / name)).result(WAIT)

        return one()

    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(one_on, "low", "first", "first-go")  # takes the one slot
        wait_until(lambda: (tmp_path / "first").exists(), WAIT, "the first run to start")
        later = [pool.submit(one_on, q, q, "go") for q in ("low", "high")]
        for queue in ("low", "high"):
            wait_until(lambda q=queue: client.xlen(keys.queue(q)) >= 1, WAIT, f"a run on {queue}")
        (tmp_path / "first-go").write_text("go")  # its slot frees: both queues hold a run
        assert first.result(timeout=WAIT) == "released"
        wait_until(lambda: (tmp_path / "high").exists() or (tmp_path / "low").exists(), WAIT,
                   "the next run to start")  # fmt: skip
        time.sleep(0.5)  # the time an over-eager worker would need to claim more
        pending = [client.xpending(keys.queue(q), GROUP)["pending"] for q in ("high", "low")]
        (tmp_path / "go").write_text("go")
        assert [f.result(timeout=WAIT) for f in later] == ["released"] * 2
    assert pending == [1, 0], workers.logs()  # high's run, and nothing else


def test_task_code_is_stored_once(runner: Any, workers: Any, client: Any, keys: Any) -> None:
    workers.start()
    workers.wait_registered(1)

    @flow(task_runner=runner)
    def mapped() -> int:
        return sum(f.result() for f in add.map(range(50), 1))

    assert mapped() == sum(range(50)) + 50
    assert len(list(client.scan_iter(match=keys.code("*"), count=1000))) == 1


def test_results_and_records_expire_after_the_result_ttl(
    runner: Any, workers: Any, client: Any, keys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _settings(monkeypatch, result_ttl=2)
    workers.start(FLOQ_RESULT_TTL="2")
    workers.wait_registered(1)
    seen: dict[str, str] = {}

    @flow(task_runner=runner)
    def short_lived() -> int:
        future = add.submit(2, 3)
        seen["flow_run_id"] = future.task_run.flow_run_id or ""
        return future.result(timeout=WAIT)

    assert short_lived() == 5
    prefix = keys.flow_prefix(seen["flow_run_id"])
    written = list(client.scan_iter(match=f"{prefix}*", count=1000))
    assert written, "the flow run wrote nothing under its prefix"
    assert all(0 < client.pttl(key) <= 2000 for key in written), {
        key: client.pttl(key) for key in written
    }
    wait_until(lambda: not list(client.scan_iter(match=f"{prefix}*", count=1000)), 10, "the expiry")


def test_a_burst_worker_runs_what_is_queued_then_exits(runner: Any, workers: Any) -> None:
    seen: dict[str, Any] = {}

    @flow(task_runner=runner)
    def queued_first() -> list[int]:
        futures = add.map(range(20), 100)
        seen["worker"] = workers.start("--burst")  # started after the runs were queued
        return [f.result(timeout=WAIT) for f in futures]

    assert queued_first() == [100 + i for i in range(20)]
    assert seen["worker"].wait(timeout=WAIT) == 0, workers.logs()
