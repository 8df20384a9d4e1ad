"""How flow runs sit in RQ: the queue name, the serializer, the job's description.

A flow run is an RQ job whose function is the importable trampoline
:func:`floq.producer.trampoline.run_flow` and whose one argument is the flow call in floq's
envelope (cloudpickled, signed under ``FLOQ_SECRET``). RQ sees a readable description, never
the payload. RQ's queue for floq queue ``q`` is ``<namespace>:<q>`` (``floq:default``), so
namespaces keep deployments (and tests) apart in RQ as well.
"""

from __future__ import annotations

import pickle
from typing import Any

import cloudpickle

TRAMPOLINE = "floq.producer.trampoline.run_flow"
_SHOWN = 60  # characters of each parameter's repr in a job's description


class JobSerializer:
    """RQ job data out with cloudpickle (return values may be ``__main__`` objects), in with
    plain pickle, which reads cloudpickle's output: RQ tools without this serializer still
    read floq's jobs."""

    @staticmethod
    def dumps(obj: Any) -> bytes:
        return cloudpickle.dumps(obj, protocol=5)  # type: ignore[no-any-return]

    @staticmethod
    def loads(raw: bytes) -> Any:
        return pickle.loads(raw)


def rq_queue_name(namespace: str, queue: str) -> str:
    return f"{namespace}:{queue}"


def describe(flow_name: str, parameters: dict[str, Any]) -> str:
    """``name(a=1, b='x')``, each value's repr cut short: what `rq info` and dashboards show."""

    def shown(value: Any) -> str:
        text = repr(value)
        return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."

    return f"{flow_name}({', '.join(f'{k}={shown(v)}' for k, v in parameters.items())})"
