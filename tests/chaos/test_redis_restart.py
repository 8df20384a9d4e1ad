"""Redis restarts in the middle of a flow: with its data (AOF), and without it.

A server of the test's own (Debian's ``redis-server``, AOF with ``appendfsync always``), two
flow-workers and the flow's coordinator on it; the server is stopped and started again on the
same port while task runs are in flight.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import enqueued_flows
import pytest
from chaos_report import Counts, report
from integration_helpers import WAIT, outcomes, run_in_thread, wait_until
from rq import Worker

from floq import flow, task
from floq.producer import enqueue
from floq.runners import RedisTaskRunner
from floq.store.connection import connect
from floq.store.keys import Keys
from servers import Servers

cloudpickle.register_pickle_by_value(sys.modules[__name__])

TASKS = 200
INTEGRATION = str(Path(__file__).parents[1] / "integration")  # enqueued_flows, for the workers


@task
def step(x: int, folder: str) -> int:
    time.sleep(0.05)
    (Path(folder) / f"{x}-{time.monotonic_ns()}").touch()  # one file per execution
    return x + 1


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Servers, int]]:
    servers = Servers(tmp_path / "server")
    port = servers.start("appendonly yes", "appendfsync always")
    yield servers, port
    servers.stop()


def _start(servers: Servers, port: int, workers: Any, count: int, folder: Path) -> str:
    """``count`` workers on the test's server; its URL. ``folder`` gets a file per execution."""
    folder.mkdir()
    workers.url = f"redis://127.0.0.1:{port}/0"
    for _ in range(count):
        workers.start("--concurrency", "4")
    workers.wait_registered(count)
    return str(workers.url)


def test_a_flow_completes_across_a_restart_with_persistence(
    server: tuple[Servers, int], namespace: str, workers: Any, tmp_path: Path
) -> None:
    servers, port = server
    done = tmp_path / "done"
    url = _start(servers, port, workers, 2, done)
    seen_id: dict[str, str] = {}

    @flow(task_runner=RedisTaskRunner(url=url, namespace=namespace))
    def counted(n: int) -> int:
        futures = step.map(range(n), str(done))
        seen_id["flow_run_id"] = futures[0].task_run.flow_run_id or ""
        return sum(future.result() for future in futures)

    thread, seen = run_in_thread(counted, TASKS)
    wait_until(lambda: len(list(done.iterdir())) >= 40, WAIT, "40 task runs done")
    servers.restart(port, down_for=1.0)
    restarted, before = time.monotonic(), len(list(done.iterdir()))
    wait_until(lambda: len(list(done.iterdir())) > before, WAIT, "work to go on")
    recover = time.monotonic() - restarted
    thread.join(timeout=WAIT * 3)
    assert not thread.is_alive(), f"the flow hung after the restart\n{workers.logs()}"
    assert "error" not in seen, f"{seen.get('error')!r}\n{workers.logs()}"
    assert seen["result"] == sum(range(1, TASKS + 1))
    client = connect(url)
    recorded = Counter(run for run, _ in outcomes(client, Keys(namespace), seen_id["flow_run_id"]))
    executions = len(list(done.iterdir()))
    report(Counts.of("Redis restart with AOF (down 1 s)", TASKS, recorded.values(),
                     rerun=executions - TASKS, recover=recover))  # fmt: skip
    assert len(recorded) == TASKS and set(recorded.values()) == {1}, recorded.most_common(3)
    logs = workers.logs()
    assert "lost Redis at" in logs and "is back after" in logs, logs
    assert "Traceback" not in logs, logs
    assert all(p.poll() is None for p in workers.processes), "a worker exited"


def test_a_restart_that_lost_the_data_ends_the_flow_instead_of_hanging(
    server: tuple[Servers, int], namespace: str, workers: Any, tmp_path: Path
) -> None:
    servers, port = server
    done = tmp_path / "done"
    url = _start(servers, port, workers, 1, done)

    @flow(task_runner=RedisTaskRunner(url=url, namespace=namespace))
    def counted(n: int) -> dict[str, Any]:
        futures = step.map(range(n), str(done))
        for future in futures:
            future.wait()
        crashed = [f.state.message for f in futures if f.state.name == "Crashed"]
        return {"states": Counter(f.state.name for f in futures), "crashed": crashed}

    thread, seen = run_in_thread(counted, TASKS)
    wait_until(lambda: len(list(done.iterdir())) >= 20, WAIT, "20 task runs done")
    started = time.monotonic()
    servers.restart(port, lose_data=True)
    thread.join(timeout=WAIT * 3)
    assert not thread.is_alive(), f"the flow hung after the data was lost\n{workers.logs()}"
    assert "error" not in seen, f"{seen.get('error')!r}\n{workers.logs()}"
    states, crashed = seen["result"]["states"], seen["result"]["crashed"]
    report(Counts("Redis restart that lost the data (ends, no hang)", TASKS, lost=len(crashed),
                  recover=time.monotonic() - started))  # fmt: skip
    assert sum(states.values()) == TASKS and set(states) <= {"Completed", "Crashed"}, states
    assert crashed and all("vanished" in message for message in crashed), crashed[:3]
    logs = workers.logs()
    assert "creating them again" in logs, logs
    assert all(p.poll() is None for p in workers.processes), f"a worker exited\n{logs}"
    thread, seen = run_in_thread(counted, 5)  # the same worker serves the recreated queue
    thread.join(timeout=WAIT)
    assert seen.get("result", {}).get("states") == {"Completed": 5}, f"{seen}\n{workers.logs()}"


def test_the_next_flow_run_in_the_process_runs_on_a_server_that_lost_its_data(
    server: tuple[Servers, int], namespace: str, workers: Any, tmp_path: Path
) -> None:
    """The flow runs of one process share a client, its loaded scripts and the queues it made
    (``floq.runners.redis``): after a restart that lost them, the next flow run still runs (the
    client reconnects, the scripts load again on NOSCRIPT, the workers make the queue again)."""
    servers, port = server
    done = tmp_path / "done"
    url = _start(servers, port, workers, 1, done)

    @flow(task_runner=RedisTaskRunner(url=url, namespace=namespace))
    def counted(n: int) -> int:
        return sum(future.result(timeout=WAIT) for future in step.map(range(n), str(done)))

    assert counted(5) == sum(range(1, 6))
    marker = f"{Keys(namespace).root}test-marker"  # no floq process writes it again
    connect(url).set(marker, "1")
    servers.restart(port, lose_data=True)
    assert not connect(url).exists(marker), "the server kept its data"
    thread, seen = run_in_thread(counted, 5)
    thread.join(timeout=WAIT * 2)
    assert not thread.is_alive(), f"the flow run hung after the restart\n{workers.logs()}"
    assert seen.get("result") == sum(range(1, 6)), f"{seen!r}\n{workers.logs()}"
    assert len(list(done.iterdir())) == 10


def test_a_delayed_flow_run_runs_on_time_after_a_restart(
    server: tuple[Servers, int], namespace: str, workers: Any
) -> None:
    """A flow slot's RQ scheduler outlives a restart (``SlotScheduler``). RQ's own died of the
    lost connection, and its worker started it again only at RQ's next maintenance, 10 min
    later: a flow run enqueued with a delay after the restart stayed Scheduled until then."""
    servers, port = server
    url = workers.url = f"redis://127.0.0.1:{port}/0"
    workers.start("--flow-slots", "1", PYTHONPATH=INTEGRATION)
    workers.wait_registered(1)

    def delayed() -> int:
        run = enqueue(enqueued_flows.sum_of_squares, (3,), delay=1, url=url, namespace=namespace)
        assert run.state.name == "Scheduled"
        return int(run.result(timeout=WAIT))

    assert delayed() == 5  # the slot's scheduler runs
    # Once the slot waits for its next flow run: RQ's worker quits on a connection error in
    # its bookkeeping after a job (floq then starts the slot again), and rides it out while
    # it waits. The scheduler is what this test is about.
    rq_client = connect(url)
    wait_until(lambda: [w.get_state() for w in Worker.all(connection=rq_client)] == ["idle"],
               WAIT, "the flow slot waiting for its next flow run")  # fmt: skip
    servers.restart(port, lose_data=True, down_for=1.5)  # longer than the scheduler's beat
    assert delayed() == 5, workers.logs()
    logs = workers.logs()
    assert "scheduler: lost Redis" in logs and "scheduler: Redis is back" in logs, logs
    assert "Traceback" not in logs, logs
