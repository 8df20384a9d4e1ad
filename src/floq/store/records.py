"""Wire records of the task-run protocol: a task call, and the code it runs.

A task's code (the cloudpickled :class:`~floq.tasks.Task`, with its function) is stored once
under a content address and shared by all its calls; each call carries only the address, its
run's identity and its arguments. Decoding errors carry the raw bytes and the reason. The code
carries the source lines of what it ships by value, for the worker's tracebacks.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from floq import serialization
from floq.errors import SerializationError
from floq.runs import TaskCall, TaskRunRecord

VERSION = 1
_PLAIN = frozenset({str, bytes, int, float, bool, complex, type(None)})


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One task call on the wire (the queue entry's payload)."""

    code: str
    run_id: str
    name: str
    task_name: str
    flow_run_id: str | None
    tags: tuple[str, ...]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    wait_for: tuple[Any, ...] = ()
    log_prints: bool = False
    resolve: bool = True

    @classmethod
    def of(cls, call: TaskCall, code: str) -> CallRecord:
        run = call.run
        return cls(
            code, run.id, run.name, run.task_name, run.flow_run_id, tuple(run.tags),
            call.args, call.kwargs, call.wait_for, call.log_prints, call.resolve,
        )  # fmt: skip

    def encode(self, secret: bytes | None) -> bytes:
        fields = (VERSION, self.code, self.run_id, self.name, self.task_name, self.flow_run_id,
                  self.tags, self.args, self.kwargs, self.wait_for, self.log_prints,
                  self.resolve)  # fmt: skip
        what = f"the call of task {self.task_name!r}"
        return serialization.dumps(fields, secret, what=what, by_reference=self._plain())

    def _plain(self) -> bool:
        """Only builtin scalars as arguments: the standard pickler (faster) does as well as
        cloudpickle, since nothing is stored by reference that the worker might lack."""
        if self.wait_for:
            return False
        for value in self.args:
            if type(value) not in _PLAIN:
                return False
        return not self.kwargs or all(type(v) in _PLAIN for v in self.kwargs.values())

    @classmethod
    def decode(cls, raw: bytes, secret: bytes | None) -> CallRecord:
        fields = serialization.loads(raw, secret)
        if not isinstance(fields, tuple) or not fields or fields[0] != VERSION:
            raise SerializationError("not a floq task call (or of another version)", raw=raw)
        try:
            return cls(*fields[1:])
        except TypeError as error:
            raise SerializationError(f"malformed task call: {error}", raw=raw) from None

    def to_call(self, task: Any) -> TaskCall:
        run = TaskRunRecord(
            self.run_id, self.name, self.task_name, self.flow_run_id, frozenset(self.tags)
        )
        return TaskCall(
            task, run, self.args, self.kwargs, self.wait_for, self.log_prints, self.resolve
        )


def encode_code(task: Any, secret: bytes | None) -> tuple[str, bytes]:
    """(content address, bytes) of a task's code."""
    raw = serialization.dumps(task, secret, what=f"task {task.name!r}", with_sources=True)
    return hashlib.sha256(raw).hexdigest()[:32], raw


V = TypeVar("V")


class _Bounded(Generic[V]):
    """Values by content address, bounded (least recently used go first), thread-safe."""

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._items: OrderedDict[str, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, code: str) -> V | None:
        with self._lock:
            value = self._items.get(code)
            if value is not None:
                self._items.move_to_end(code)
            return value

    def put(self, code: str, value: V) -> None:
        with self._lock:
            self._items[code] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class CodeCache(_Bounded[bytes]):
    """Tasks' code as stored (the bytes of :func:`encode_code`) by content address: what a
    worker fetched once and hands to each attempt that needs it."""


class TaskCache(_Bounded[Any]):
    """Tasks decoded from their code, by content address (see :func:`task_for`)."""


tasks = TaskCache()  # this process's decoded tasks (workers, their children, Dask workers)


def task_for(code: str, raw: bytes | None, secret: bytes | None) -> Any:
    """The task at ``code``: from this process's cache, else decoded from ``raw``."""
    task = tasks.get(code)
    if task is None:
        if raw is None:
            raise SerializationError(f"the code of task call {code} is missing (expired?)")
        if hashlib.sha256(raw).hexdigest()[:32] != code:
            raise SerializationError(f"the code stored under {code} does not match it", raw=raw)
        task = serialization.loads(raw, secret)
        tasks.put(code, task)
    return task
