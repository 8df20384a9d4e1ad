"""The import path every RQ job of a flow run names: ``floq.producer.trampoline.run_flow``.

The trampoline runs on the worker and lives there (:mod:`floq.worker.trampoline`). RQ stores a
job's function as an import path, so this one stays: jobs queued before the move name it, and
the producer keeps naming it in new jobs, so that workers of either version run them.
"""

from __future__ import annotations

import importlib
from typing import Any


def run_flow(payload: bytes) -> Any:
    """Run an enqueued flow run: :func:`floq.worker.trampoline.run_flow`, in RQ's work horse."""
    # Resolved when the job runs, not imported at the top: the producer never imports the worker
    # (the layers contract in pyproject.toml), and an app that only enqueues never loads it.
    trampoline = importlib.import_module("floq.worker.trampoline")
    return trampoline.run_flow(payload)
