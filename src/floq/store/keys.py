"""Every Redis key floq uses, in one place.

Per-flow-run keys carry the flow run id as a hash tag (``ns:{<flow_run_id>}:...``).
``ns`` (``FLOQ_NAMESPACE``, default ``floq``) lets several deployments or tests share a server.
"""

from __future__ import annotations

from dataclasses import dataclass

GROUP = "floq"  # the consumer group on every queue stream


@dataclass(frozen=True, slots=True)
class Keys:
    ns: str = "floq"

    def queue(self, name: str) -> str:
        """The stream of task runs ready to run on queue ``name``."""
        return f"{self.ns}:q:{name}"

    @property
    def queue_prefix(self) -> str:
        return f"{self.ns}:q:"

    def flow_prefix(self, flow_run_id: str) -> str:
        return f"{self.ns}:{{{flow_run_id}}}:"

    def task(self, flow_run_id: str, task_run_id: str) -> str:
        """The hash of one task run (payload, queue, upstreams, waiting, entry, outcome)."""
        return f"{self.flow_prefix(flow_run_id)}t:{task_run_id}"

    def run(self, flow_run_id: str) -> str:
        """The hash of one flow run: its state (enqueued runs) and counts of its task runs."""
        return f"{self.flow_prefix(flow_run_id)}run"

    def task_index(self, flow_run_id: str) -> str:
        """The list of a flow run's task run ids, in submission order."""
        return f"{self.flow_prefix(flow_run_id)}tasks"

    def events(self, flow_run_id: str) -> str:
        """The stream of a flow run's state changes (what `FlowRun.wait` blocks on)."""
        return f"{self.flow_prefix(flow_run_id)}events"

    @property
    def runs(self) -> str:
        """Sorted set of enqueued flow run ids, scored by creation time (epoch s)."""
        return f"{self.ns}:runs"

    def code(self, address: str) -> str:
        """A task's code, stored once by content address and shared by all its calls."""
        return f"{self.ns}:code:{address}"

    def results(self, flow_run_id: str) -> str:
        """The stream of a flow run's task-run outcomes, read by its coordinator."""
        return f"{self.flow_prefix(flow_run_id)}results"

    @property
    def retries(self) -> str:
        """Sorted set of task-run hashes waiting for a retry, scored by due time (ms)."""
        return f"{self.ns}:retries"

    @property
    def cancelled(self) -> str:
        """Sorted set of flow runs cancelled in the last hour, scored by when (epoch s)."""
        return f"{self.ns}:cancelled"

    def dead(self, queue: str) -> str:
        """Stream of payloads that could not be decoded, with the reason."""
        return f"{self.ns}:dead:{queue}"

    def worker(self, name: str) -> str:
        """A worker's heartbeat key (expires when the worker stops refreshing it)."""
        return f"{self.ns}:w:{name}"

    @property
    def workers(self) -> str:
        return f"{self.ns}:workers"

    @property
    def served(self) -> str:
        """Set of the queue names workers serve (added at each heartbeat; reapers walk it)."""
        return f"{self.ns}:queues"


def rq_queue_name(namespace: str, queue: str) -> str:
    """RQ's queue of floq queue ``queue``: ``<namespace>:<queue>`` (``floq:default``), so that
    namespaces keep deployments (and tests) apart in RQ as well."""
    return f"{namespace}:{queue}"
