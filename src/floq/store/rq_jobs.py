"""How flow runs sit in RQ's keys: the serializer of their jobs.

A flow run is an RQ job on RQ's queue :func:`floq.store.keys.rq_queue_name` (``floq:default``
for floq queue ``default``), whose data is written by :class:`JobSerializer`. Whatever opens
floq's RQ queues (the producer, the flow slots of a worker, ``floq queues``, RQ's own CLI:
``rq worker -S floq.store.rq_jobs.JobSerializer floq:default``) passes it.
"""

from __future__ import annotations

import pickle
from typing import Any

import cloudpickle


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
