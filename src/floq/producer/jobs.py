"""How the producer puts flow runs in RQ: the job's function, argument and description.

A flow run is an RQ job whose function is the importable trampoline
:func:`floq.producer.trampoline.run_flow` (it runs the flow on the worker) and whose one
argument is the flow call in floq's envelope (cloudpickled, signed under ``FLOQ_SECRET``).
RQ sees a readable description, never the payload. RQ's queue name and the job serializer
are the store's (:func:`floq.store.keys.rq_queue_name`, :class:`floq.store.rq_jobs.JobSerializer`).
"""

from __future__ import annotations

from typing import Any

from floq.settings import get_settings
from floq.store.protocol.records import FlowCall

# The serializer's old home: ``rq worker -S floq.producer.jobs.JobSerializer`` keeps working.
from floq.store.rq_jobs import JobSerializer as JobSerializer

TRAMPOLINE = "floq.producer.trampoline.run_flow"
_SHOWN = 60  # characters of each parameter's repr in a job's description


def encode_call(flow: Any, args: tuple[Any, ...], kwargs: dict[str, Any], queue: str) -> bytes:
    """The job's one argument: the flow call, encoded (and signed under ``FLOQ_SECRET``)."""
    return FlowCall(flow, args, kwargs, queue).encode(get_settings().secret)


def describe(flow_name: str, parameters: dict[str, Any]) -> str:
    """``name(a=1, b='x')``, each value's repr cut short: what `rq info` and dashboards show."""

    def shown(value: Any) -> str:
        text = repr(value)
        return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."

    return f"{flow_name}({', '.join(f'{k}={shown(v)}' for k, v in parameters.items())})"
