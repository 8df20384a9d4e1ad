"""Resuming a crashed flow run: a retried attempt reuses what earlier attempts completed.

An enqueued flow run keeps the result of every task run that completes, under the flow run
(:class:`~floq.store.protocol.kept.KeptResults`), keyed by its call. When the flow run runs
again (RQ's retry after a crash or a failure, or ``floq retry``), each task call whose key an
earlier attempt kept is not run again: its future is finished at once, Cached, "reused from
attempt N", and ``floq inspect`` lists it so. This is on by default for enqueued flow runs
(Prefect needs result persistence switched on for the same); ``@task(persist_result=False)``
opts a task out (a task with side effects that must happen once per attempt, say).

The call key is the task's name, a digest of its code and a digest of its inputs, in which a
future stands for its own call key (so a downstream call keeps its key when its upstream was
reused), plus how many identical calls came before it in the attempt. What changes a key:
editing the task's code, any input value (as pickled), an upstream's key. Inputs that do not
pickle the same way twice (a set of strings in another process, an object without a stable
pickle) give a new key each time: the call runs again, never takes another's result.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from typing import Any

import cloudpickle

from floq import serialization
from floq.futures import TaskFuture
from floq.runs import TaskCall
from floq.states import Cached, State, transition
from floq.store.protocol.kept import KeptResults

logger = logging.getLogger("floq.worker")
_FLUSH_AFTER = 0.1  # s: results are written in small batches, at most this late


class Resume:
    """The kept results of one flow run, offered to its task calls (a ``TaskRunReuse``)."""

    def __init__(
        self, kept: KeptResults, flow_run_id: str, attempt: int, secret: bytes | None
    ) -> None:
        self._kept, self._flow_run_id, self._secret = kept, flow_run_id, secret
        self._attempt = attempt
        self._earlier = kept.load(flow_run_id) if attempt > 1 else {}
        self._keys: dict[str, str] = {}  # task run id -> its call key
        self._seen: dict[str, int] = {}  # digest -> identical calls so far
        self._lock = threading.Lock()
        self._pending: dict[str, bytes] = {}
        self._reused: list[tuple[str, str, str]] = []
        self._timer: threading.Timer | None = None

    def reused(self, call: TaskCall) -> State | None:
        key = self._key(call)
        if key is None or key not in self._earlier:
            return None
        value, attempt = serialization.loads(self._earlier[key], self._secret)
        message = f"reused from attempt {attempt}"
        with self._lock:
            self._pending[key] = self._earlier[key]  # kept again for a later attempt
            self._reused.append((call.run.id, call.run.name, message))
        self._maybe_flush()
        return transition(call.run, Cached(value, message))

    def watch(self, call: TaskCall, future: TaskFuture[Any]) -> None:
        key = self._keys.get(call.run.id)
        if key is not None:
            future.add_done_callback(lambda done: self._keep(key, done.state))

    def flush(self) -> None:
        """Write what is waiting (called at the end of the attempt, and in batches)."""
        with self._lock:
            pending, self._pending = self._pending, {}
            reused, self._reused = self._reused, []
            self._timer = None
        self._kept.keep(self._flow_run_id, pending)
        self._kept.record_reused(self._flow_run_id, reused)

    def _keep(self, key: str, state: State) -> None:
        if not state.is_completed():
            return
        try:
            blob = serialization.dumps((state.result(), self._attempt), self._secret)
        except Exception:  # a result that does not pickle is simply not kept
            return
        with self._lock:
            self._pending[key] = blob
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        """Flush within ``_FLUSH_AFTER`` s: a crash loses at most that much."""
        with self._lock:
            if self._timer is not None:
                return
            self._timer = threading.Timer(_FLUSH_AFTER, self._flush_quietly)
            self._timer.daemon = True
            self._timer.start()

    def _flush_quietly(self) -> None:
        try:
            self.flush()
        except Exception:  # the results are kept again at the end of the attempt
            logger.warning("could not keep results for a retry", exc_info=True)

    def _key(self, call: TaskCall) -> str | None:
        if call.task.options.persist_result is False:
            return None
        digest = self._digest(call)
        if digest is None:
            return None
        with self._lock:
            count = self._seen.get(digest, 0)
            self._seen[digest] = count + 1
        key = f"{call.task.name}:{digest}:{count}"
        self._keys[call.run.id] = key
        return key

    def _digest(self, call: TaskCall) -> str | None:
        buffer = io.BytesIO()
        pickler = _KeyPickler(buffer, self._keys)
        try:
            pickler.dump((_code_of(call.task.fn), call.args, call.kwargs, call.wait_for))
        except Exception:  # unpicklable, or an upstream without a key: never reused
            return None
        return hashlib.sha256(buffer.getvalue()).hexdigest()[:32]


class _KeyPickler(cloudpickle.Pickler):  # type: ignore[misc]
    """Pickles a call's inputs with each future replaced by its call's key."""

    def __init__(self, file: io.BytesIO, keys: dict[str, str]) -> None:
        super().__init__(file)
        self._call_keys = keys

    def persistent_id(self, obj: Any) -> str | None:
        if isinstance(obj, TaskFuture):
            return self._call_keys[obj.task_run_id]  # KeyError: no key, no reuse
        return None


def _code_of(fn: Any) -> bytes:
    code = getattr(fn, "__code__", None)
    if code is None:
        return repr(fn).encode()
    return bytes(code.co_code) + repr(code.co_consts).encode() + repr(code.co_names).encode()
