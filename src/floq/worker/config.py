"""A worker's configuration: the flags of ``flow-worker`` over :class:`~floq.settings.Settings`."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

from floq.settings import Settings


def default_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{os.urandom(2).hex()}"


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """A worker's configuration: flags over :class:`~floq.settings.Settings`."""

    url: str
    settings: Settings
    queues: tuple[str, ...] = ("default",)
    mode: str = "concurrent"
    concurrency: int = 16
    processes: int = 1
    dask_address: str | None = None
    name: str = field(default_factory=default_name)
    burst: bool = False
    flow_slots: int = 0  # RQ workers for enqueued flow runs (see floq.worker.flow_slots)

    @property
    def capacity(self) -> int:
        return self.processes if self.mode == "parallel" else self.concurrency
