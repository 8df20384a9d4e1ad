"""Every Redis key floq uses, in one place.

Every key starts with the namespace as a hash tag, ``{ns}:``, so that on a Redis Cluster a
namespace lives in one slot and every script's keys are on one node (the layout and why:
:mod:`floq.store.protocol`). ``ns`` (``FLOQ_NAMESPACE``, default ``floq``) lets several
deployments or tests share a server; on a cluster, namespaces spread over the nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

GROUP = "floq"  # the consumer group on every queue stream


@dataclass(frozen=True, slots=True)
class Keys:
    ns: str = "floq"

    @property
    def root(self) -> str:
        """What every key of the namespace starts with: the namespace as a hash tag."""
        return f"{{{self.ns}}}:"

    @property
    def flow_root(self) -> str:
        """What every per-flow-run key starts with (then the flow run id and ``:``)."""
        return f"{self.root}f:"

    def queue(self, name: str) -> str:
        """The stream of task runs ready to run on queue ``name``."""
        return f"{self.root}q:{name}"

    @property
    def queue_prefix(self) -> str:
        return f"{self.root}q:"

    def flow_prefix(self, flow_run_id: str) -> str:
        return f"{self.flow_root}{flow_run_id}:"

    def task(self, flow_run_id: str, task_run_id: str) -> str:
        """The hash of one task run (payload, queue, upstreams, waiting, entry, outcome)."""
        return f"{self.flow_prefix(flow_run_id)}t:{task_run_id}"

    def run(self, flow_run_id: str) -> str:
        """The hash of one flow run: its state (enqueued runs) and counts of its task runs."""
        return f"{self.flow_prefix(flow_run_id)}run"

    def kept(self, flow_run_id: str) -> str:
        """The hash of a flow run's completed task-run results, by call key, for a retry of
        the flow run to reuse (see :mod:`floq.worker.resume`)."""
        return f"{self.flow_prefix(flow_run_id)}kept"

    def task_index(self, flow_run_id: str) -> str:
        """The list of a flow run's task run ids, in submission order."""
        return f"{self.flow_prefix(flow_run_id)}tasks"

    def events(self, flow_run_id: str) -> str:
        """The stream of a flow run's state changes (what `FlowRun.wait` blocks on)."""
        return f"{self.flow_prefix(flow_run_id)}events"

    @property
    def runs(self) -> str:
        """Sorted set of enqueued flow run ids, scored by creation time (epoch s)."""
        return f"{self.root}runs"

    @property
    def state_index_prefix(self) -> str:
        """What each state type's index of flow runs starts with (then the type)."""
        return f"{self.root}ix:state:"

    def state_index(self, state_type: str) -> str:
        """Sorted set of the flow runs now in ``state_type`` (COMPLETED ...), by creation time;
        kept by ``flow_state.lua`` as runs change state."""
        return f"{self.state_index_prefix}{state_type}"

    def flow_index(self, flow: str) -> str:
        """Sorted set of the enqueued runs of flow ``flow``, by creation time."""
        return f"{self.root}ix:flow:{flow}"

    def queue_index(self, queue: str) -> str:
        """Sorted set of the flow runs enqueued on ``queue``, by creation time."""
        return f"{self.root}ix:queue:{queue}"

    @property
    def flow_names(self) -> str:
        """Sorted set of the names of enqueued flows, by the last run's creation time."""
        return f"{self.root}ix:flows"

    @property
    def queue_names(self) -> str:
        """Sorted set of the queues flow runs were enqueued on, by the last one's creation."""
        return f"{self.root}ix:queues"

    def index_scratch(self, token: str) -> str:
        """A short-lived intersection of indexes (runs filtered on several things at once)."""
        return f"{self.root}ix:tmp:{token}"

    def code(self, address: str) -> str:
        """A task's code, stored once by content address and shared by all its calls."""
        return f"{self.root}code:{address}"

    def results(self, flow_run_id: str) -> str:
        """The stream of a flow run's task-run outcomes, read by its coordinator."""
        return f"{self.flow_prefix(flow_run_id)}results"

    @property
    def retries(self) -> str:
        """Sorted set of task-run hashes waiting for a retry, scored by due time (ms)."""
        return f"{self.root}retries"

    @property
    def cancelled(self) -> str:
        """Sorted set of flow runs cancelled in the last hour, scored by when (epoch s)."""
        return f"{self.root}cancelled"

    def dead(self, queue: str) -> str:
        """Stream of payloads that could not be decoded, with the reason."""
        return f"{self.root}dead:{queue}"

    def worker(self, name: str) -> str:
        """A worker's heartbeat key (expires when the worker stops refreshing it)."""
        return f"{self.root}w:{name}"

    @property
    def workers(self) -> str:
        return f"{self.root}workers"

    @property
    def served(self) -> str:
        """Set of the queue names workers serve (added at each heartbeat; reapers walk it)."""
        return f"{self.root}queues"


def rq_queue_name(namespace: str, queue: str) -> str:
    """RQ's queue of floq queue ``queue``: ``<namespace>:<queue>`` (``floq:default``), so that
    namespaces keep deployments (and tests) apart in RQ as well."""
    return f"{namespace}:{queue}"
