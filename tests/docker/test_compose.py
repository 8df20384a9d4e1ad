"""docker-compose.yml for real: floq's image, Redis, three worker containers and the producer.

Flows run here, on the host (every container shares its network); their task runs go to the
workers in the containers, and floq's records (the worker of each task run) say which ran them.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from compose import Compose, exit_code
from docker_flows import hold, square

from floq import flow, unmapped
from floq.runners import RedisTaskRunner
from floq.store.connection import connect
from floq.store.keys import Keys
from floq.store.protocol import FlowRunRecords, TaskRunRow, WorkerRegistry

pytestmark = pytest.mark.timeout(900)  # the first test also builds the image (cold: minutes)
T = TypeVar("T")
WAIT = 60.0


def wait_until(condition: Callable[[], T], what: str, timeout: float = WAIT) -> T:
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.1)
    return found


def worker_names(compose: Compose) -> dict[str, str]:
    """floq worker name -> container, for the running worker containers."""
    found = {}
    for container in compose.containers("worker"):
        name = wait_until(lambda c=container: _name_or_none(compose, c), f"{container}'s name")
        found[name] = container
    return found


def _name_or_none(compose: Compose, container: str) -> str | None:
    try:
        return compose.worker_name(container) or None
    except RuntimeError:
        return None  # the entrypoint has not written it yet


def wait_live(compose: Compose, names: set[str]) -> None:
    registry = WorkerRegistry(connect(compose.url), Keys())
    wait_until(lambda: names <= {w["name"] for w in registry.live()}, f"workers {names} live")


def rows(compose: Compose, flow_run_id: str) -> list[TaskRunRow]:
    return FlowRunRecords(connect(compose.url), Keys(), 3600).task_runs(flow_run_id)


class FlowInThread:
    """``task.map(range(n), seconds)`` in a flow on this host, through the containers' Redis."""

    def __init__(
        self, compose: Compose, task: Any, n: int, seconds: float, queue: str = "default"
    ) -> None:
        self.compose, self.result, self.error = compose, None, None
        self.flow_run_id: str | None = None
        ready = threading.Event()

        @flow(task_runner=RedisTaskRunner(url=compose.url, queue=queue))
        def spread() -> list[int]:
            futures = task.map(range(n), unmapped(seconds))
            self.flow_run_id = futures[0].task_run.flow_run_id
            ready.set()
            return [future.result() for future in futures]

        def target() -> None:
            try:
                self.result = spread()
            except BaseException as error:
                self.error = error
                ready.set()

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()
        assert ready.wait(WAIT), "the flow did not submit its task runs"
        assert self.error is None, self.error

    def rows(self) -> list[TaskRunRow]:
        assert self.flow_run_id
        return rows(self.compose, self.flow_run_id)

    def running_on(self) -> dict[str, str]:
        """task run id -> worker, of the runs running now (waits for one)."""
        return wait_until(
            lambda: {r.id: r.worker for r in self.rows() if r.state == "Running"},
            "a task run to start on a worker",
        )

    def finish(self, timeout: float = 120) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the flow did not end within {timeout} s"
        if self.error is not None:
            raise self.error
        return self.result


def test_a_flow_spreads_over_the_worker_containers_and_the_producer_enqueues(
    containers_ran: Compose,
) -> None:
    compose = containers_ran
    names = worker_names(compose)
    wait_live(compose, set(names))
    run = FlowInThread(compose, square, 300, 0.01)
    assert run.finish() == [x * x for x in range(300)]
    done = run.rows()
    assert len(done) == 300 and {r.state for r in done} == {"Completed"}
    by_worker = Counter(names.get(r.worker, f"not a container: {r.worker}") for r in done)
    compose.notes.append(f"task runs per container: {dict(by_worker)}")
    assert set(by_worker) <= set(names.values()) and len(by_worker) >= 2, by_worker

    base = f"http://127.0.0.1:{compose.producer_port}"
    posted = wait_until(lambda: _post(f"{base}/runs", {"text": "one two\nthree"}), "the producer")
    url = f"{base}{posted['url']}"
    final = wait_until(lambda: _finished(url), f"flow run {posted['id']} to end")
    assert final["state"] == "Completed", final
    assert final["result"] == {"lines": 2, "words": 3, "characters": 13}


def test_the_image_health_check_sees_each_worker_heartbeat(containers_ran: Compose) -> None:
    compose = containers_ran
    names = worker_names(compose)
    wait_live(compose, set(names))
    for container in [*names.values(), *compose.containers("producer")]:
        configured = compose.docker("inspect", "-f", "{{json .Config.Healthcheck.Test}}", container)
        assert json.loads(configured) == ["CMD", "floq-healthcheck"], configured
        said = compose.docker("exec", container, "floq-healthcheck").strip()
        worker = [name for name, c in names.items() if c == container]
        assert said == f"healthy: {compose.url}" + (f", worker {worker[0]}" if worker else "")
        compose.notes.append(f"{container}: {said}")


def test_the_dashboard_container_shows_the_worker_containers_and_the_runs(
    containers_ran: Compose,
) -> None:
    compose = containers_ran
    names = worker_names(compose)
    wait_live(compose, set(names))
    base = f"http://127.0.0.1:{compose.dashboard_port}"
    workers = wait_until(lambda: _get(f"{base}/api/workers"), "the dashboard container")
    shown = {w["name"] for w in workers["workers"]}
    assert set(names) <= shown, (shown, names)
    with urllib.request.urlopen(f"{base}/", timeout=10) as page:
        assert page.status == 200 and "floq" in page.read().decode()
    compose.notes.append(f"{compose.containers('dashboard')}: {len(shown)} live workers shown")


def _get(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return dict(json.load(answer))
    except OSError:
        return None  # not listening yet


def _post(url: str, body: dict[str, str]) -> dict[str, Any] | None:
    request = urllib.request.Request(url, json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return dict(json.load(answer))
    except OSError:
        return None  # not listening yet


def _finished(url: str) -> dict[str, Any] | None:
    with urllib.request.urlopen(url, timeout=10) as answer:
        body = dict(json.load(answer))
    return body if body["state"] not in ("Scheduled", "Pending", "Running") else None


def test_a_killed_worker_container_task_runs_again_on_another(containers_ran: Compose) -> None:
    compose = containers_ran
    names = worker_names(compose)
    run = FlowInThread(compose, hold, 8, 4.0)
    running = run.running_on()
    victim = next(iter(running.values()))
    lost = {run_id for run_id, worker in running.items() if worker == victim}
    compose.docker("kill", names[victim])  # SIGKILL: no drain, the heartbeat just lapses
    assert run.finish() == list(range(8))
    after = {r.id: r for r in run.rows()}
    for run_id in lost:
        row = after[run_id]
        assert row.state == "Completed" and row.attempts == 2, row
        assert row.worker != victim and row.worker in names, (row, names)
    again = sorted({names[after[run_id].worker] for run_id in lost})
    compose.notes.append(f"killed {names[victim]}: {len(lost)} task run(s) ran again on {again}")
    compose.up("worker")  # the killed container starts again, for the next tests


def test_a_stopped_worker_container_drains(containers_ran: Compose) -> None:
    compose = containers_ran
    names = worker_names(compose)
    wait_live(compose, set(names))
    run = FlowInThread(compose, hold, 6, 3.0)
    running = run.running_on()
    victim = next(iter(running.values()))
    in_flight = {run_id for run_id, worker in running.items() if worker == victim}
    began = time.monotonic()
    compose.docker("stop", "-t", "15", names[victim])  # SIGTERM, then the drain
    took = time.monotonic() - began
    assert exit_code(compose, names[victim]) == 0, compose.logs(names[victim])
    assert "draining" in compose.logs(names[victim]), compose.logs(names[victim])
    assert took < 15, f"docker stop took {took:.1f} s: the worker did not drain in time"
    assert run.finish() == list(range(6))
    after = {r.id: r for r in run.rows()}
    for run_id in in_flight:  # finished where they ran: drained, not handed back
        assert after[run_id].worker == victim and after[run_id].attempts == 1, after[run_id]
    compose.notes.append(
        f"stopped {names[victim]} in {took:.1f} s; it finished its {len(in_flight)} task run(s)"
    )
    compose.up("worker")


def test_the_flow_completes_across_a_redis_container_restart(containers_ran: Compose) -> None:
    compose = containers_ran
    names = worker_names(compose)
    wait_live(compose, set(names))
    run = FlowInThread(compose, hold, 60, 0.5)
    wait_until(lambda: sum(r.state == "Completed" for r in run.rows()) >= 5, "5 completed")
    assert run.thread.is_alive(), "the flow ended before the restart"
    began = time.monotonic()
    compose("restart", "-t", "10", "redis")  # AOF on the named volume keeps the queues
    compose.notes.append(f"restarted the redis container in {time.monotonic() - began:.1f} s")
    assert run.finish() == list(range(60))
    assert {r.state for r in run.rows()} == {"Completed"}
    assert sorted(compose.containers("worker")) == sorted(names.values()), "a worker exited"


def test_scaled_up_worker_containers_take_work(containers_ran: Compose) -> None:
    compose = containers_ran
    before = set(compose.containers("worker"))
    compose.up("worker", workers=5)
    names = worker_names(compose)
    new = {name for name, container in names.items() if container not in before}
    assert len(names) == 5 and len(new) == 2, names
    wait_live(compose, set(names))
    run = FlowInThread(compose, square, 200, 0.1)
    assert run.finish() == [x * x for x in range(200)]
    by_worker = Counter(r.worker for r in run.rows())
    per_container = {names[worker]: n for worker, n in by_worker.items()}
    compose.notes.append(f"task runs per container: {per_container}")
    assert new <= set(by_worker), (new, by_worker)


def test_the_parallel_and_dask_workers_of_the_compose_file_run_their_queues(
    containers_ran: Compose,
) -> None:
    compose = containers_ran
    compose.up("worker-parallel", "dask-scheduler", "dask-worker", "worker-dask")
    for queue, service in (("cpu", "worker-parallel"), ("dask", "worker-dask")):
        [container] = compose.containers(service)
        name = wait_until(lambda c=container: _name_or_none(compose, c), f"{container}'s name")
        wait_live(compose, {name})
        run = FlowInThread(compose, square, 20, 0.0, queue=queue)
        assert run.finish() == [x * x for x in range(20)], compose.logs(container)
        assert {r.worker for r in run.rows()} == {name}
        compose.notes.append(f"queue {queue!r}: 20 task runs on {container}")
