"""Prometheus metrics of one flow-worker, served by ``flow-worker --metrics-port PORT``.

Labels stay bounded: a queue, a task name, a state name; never a run id.

======================================  =========  ==============================================
metric                                  type       what
======================================  =========  ==============================================
floq_task_runs_total                    counter    task-run outcomes this worker recorded, by
                                                   ``queue``, ``task``, ``state``
floq_task_run_duration_seconds          histogram  from an attempt's start to its end (``queue``,
                                                   ``task``)
floq_task_run_queue_wait_seconds        histogram  from submission to this worker's claim
                                                   (``queue``)
floq_task_runs_in_flight                gauge      task runs this worker holds (``queue``)
floq_queue_depth                        gauge      task runs waiting on the queue (``queue``),
                                                   read from Redis at each scrape
floq_queue_oldest_age_seconds           gauge      how long the oldest unclaimed one has waited
floq_worker_heartbeat_age_seconds       gauge      seconds since this worker's last heartbeat
======================================  =========  ==============================================
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from floq.errors import FloqError
from floq.store.keys import Keys
from floq.store.protocol import Claim, Result
from floq.store.protocol.queues import oldest_waiting_age, stream_counts

_DURATIONS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800)


class WorkerMetrics:
    """The worker's metrics, in a registry of their own; :meth:`serve` exposes them."""

    def __init__(self, client: Any, keys: Keys, queues: tuple[str, ...]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.outcomes = Counter(
            "floq_task_runs", "Task-run outcomes recorded by this worker.",
            ["queue", "task", "state"], registry=self.registry,
        )  # fmt: skip
        self.durations = Histogram(
            "floq_task_run_duration_seconds", "Task-run attempt durations.",
            ["queue", "task"], buckets=_DURATIONS, registry=self.registry,
        )  # fmt: skip
        self.waits = Histogram(
            "floq_task_run_queue_wait_seconds", "From submission to claim.",
            ["queue"], buckets=_DURATIONS, registry=self.registry,
        )  # fmt: skip
        self.in_flight = Gauge(
            "floq_task_runs_in_flight", "Task runs this worker holds.", ["queue"],
            registry=self.registry,
        )  # fmt: skip
        self._beat = time.monotonic()
        self._lock = threading.Lock()
        self.registry.register(_QueueCollector(client, keys, queues, self.heartbeat_age))

    def serve(self, port: int, host: str = "0.0.0.0") -> None:
        """Serve ``/metrics`` on ``port`` (every interface: Prometheus scrapes from elsewhere)
        from a daemon thread; a port that cannot be had fails with a line naming it."""
        try:
            start_http_server(port, addr=host, registry=self.registry)
        except OSError as error:
            raise FloqError(
                f"flow-worker --metrics-port / FLOQ_METRICS_PORT {port}: cannot serve: {error}"
            ) from error

    def claimed(self, queue: str, entry_id: str | bytes) -> None:
        """A task run claimed now: its wait since submission (the entry id's milliseconds)."""
        text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        submitted = int(text.split("-")[0]) / 1000
        self.waits.labels(queue).observe(max(0.0, time.time() - submitted))
        self.in_flight.labels(queue).inc()

    def released(self, queue: str) -> None:
        """A claimed task run is no longer held here (its outcome written, or handed back)."""
        self.in_flight.labels(queue).dec()

    def recorded(self, claim: Claim, result: Result) -> None:
        """An outcome Redis accepted from this worker: its state's name and the attempt's
        duration."""
        queue, task, summary = claim.queue, result.task or "unknown", result.summary
        self.outcomes.labels(queue, task, summary.name).inc()
        try:
            seconds = float(summary.ended) - float(summary.started)
        except ValueError:
            return
        self.durations.labels(queue, task).observe(max(0.0, seconds))

    def beat(self) -> None:
        """The heartbeat was refreshed now."""
        with self._lock:
            self._beat = time.monotonic()

    def heartbeat_age(self) -> float:
        with self._lock:
            return time.monotonic() - self._beat


class _QueueCollector(Collector):
    """Queue depth and oldest age, read from Redis when Prometheus scrapes."""

    def __init__(
        self, client: Any, keys: Keys, queues: tuple[str, ...], heartbeat_age: Callable[[], float]
    ) -> None:
        self._client, self._keys, self._queues = client, keys, queues
        self._heartbeat_age = heartbeat_age

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("floq_queue_depth", "Task runs waiting.", labels=["queue"])
        oldest = GaugeMetricFamily(
            "floq_queue_oldest_age_seconds", "Age of the oldest unclaimed task run.",
            labels=["queue"],
        )  # fmt: skip
        now = time.time()
        for queue in self._queues:
            depth.add_metric([queue], stream_counts(self._client, self._keys, queue)["depth"])
            age = oldest_waiting_age(self._client, self._keys, queue, now)
            oldest.add_metric([queue], 0.0 if age is None else age)
        beat = GaugeMetricFamily(
            "floq_worker_heartbeat_age_seconds", "Seconds since this worker's last heartbeat."
        )
        beat.add_metric([], self._heartbeat_age())
        yield from (depth, oldest, beat)
