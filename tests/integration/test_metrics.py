"""``flow-worker --metrics-port``: Prometheus metrics move while a flow runs."""

from __future__ import annotations

import sys
import threading
import time
import urllib.request
from typing import Any

import cloudpickle
from integration_helpers import WAIT, wait_until
from prometheus_client.parser import text_string_to_metric_families

from floq import flow, task
from floq.store import embedded

cloudpickle.register_pickle_by_value(sys.modules[__name__])

TASKS = 40


@task
def nap(x: int) -> int:
    time.sleep(0.05)
    return x


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_follow_a_flow(runner: Any, workers: Any) -> None:
    port = embedded.free_port()
    workers.start("--concurrency", "2", "--metrics-port", str(port))
    workers.wait_registered(1)
    wait_until(lambda: scrape(port), WAIT, "the metrics endpoint")

    @flow(task_runner=runner)
    def naps(n: int) -> int:
        return sum(nap.map(range(n)).result())

    result: dict[str, int] = {}
    thread = threading.Thread(target=lambda: result.update(total=naps(TASKS)), daemon=True)
    thread.start()
    deepest = wait_until(
        lambda: value(scrape(port), "floq_queue_depth", queue="default") or None,
        WAIT, "the queue depth to show waiting task runs",
    )  # fmt: skip
    assert deepest > 0
    thread.join(timeout=WAIT)
    assert result.get("total") == sum(range(TASKS))
    done = wait_until(
        lambda: (s := scrape(port)) and value(
            s, "floq_task_runs_total", queue="default", task="nap", state="Completed"
        ) == TASKS and s,
        WAIT, "every outcome counted",
    )  # fmt: skip
    assert value(done, "floq_queue_depth", queue="default") == 0
    assert value(done, "floq_task_runs_in_flight", queue="default") == 0
    assert value(done, "floq_task_run_duration_seconds_count", queue="default", task="nap") == TASKS
    assert value(done, "floq_task_run_queue_wait_seconds_count", queue="default") == TASKS
    assert 0 <= value(done, "floq_worker_heartbeat_age_seconds") < 5
