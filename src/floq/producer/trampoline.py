"""The RQ job function of every enqueued flow run (importable, so RQ can name it).

It decodes the flow call, records the run Running, runs the flow here (in RQ's work horse),
records the final state and returns the flow's value to RQ. A failed run raises, so that RQ
marks the job failed and applies its ``Retry``; while RQ still has retries left the record says
AwaitingRetry, not Failed. A flow without a task runner of its own sends its task runs to
``RedisTaskRunner`` on the same server and queue as the flow run.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

import rq

from floq import serialization
from floq.engine.flow_runs import run_flow_async, run_flow_sync
from floq.errors import SerializationError
from floq.settings import get_settings
from floq.states import AwaitingRetry, Running, State
from floq.store.flow_runs import FlowRunStore
from floq.store.keys import Keys

VERSION = 1  # of the flow call's fields inside the envelope


def encode_call(flow: Any, args: tuple[Any, ...], kwargs: dict[str, Any], queue: str) -> bytes:
    fields = (VERSION, flow, args, kwargs, queue)
    secret = get_settings().secret
    return serialization.dumps(fields, secret, what=f"flow {flow.name!r} with its arguments")


def decode_call(payload: bytes) -> tuple[Any, tuple[Any, ...], dict[str, Any], str]:
    fields = serialization.loads(payload, get_settings().secret)
    if not isinstance(fields, tuple) or len(fields) != 5 or fields[0] != VERSION:
        raise SerializationError("malformed flow call", raw=payload)
    _, flow, args, kwargs, queue = fields
    return flow, args, kwargs, queue


def run_flow(payload: bytes) -> Any:
    job = rq.get_current_job()
    assert job is not None, "run_flow runs inside an RQ job"
    settings = get_settings()
    store = FlowRunStore(job.connection, Keys(settings.namespace), settings.result_ttl)
    flow, args, kwargs, queue = decode_call(payload)
    running = Running(f"attempt {_attempt(store, job.id)}")
    if not store.transition(job.id, running, started=f"{time.time():.6f}", worker=_worker(job)):
        return None  # it ended before it started: cancelled
    if flow.task_runner is None:
        from floq.runners.redis import RedisTaskRunner

        url = settings.redis_url or url_of(job.connection)
        flow = flow.with_options(task_runner=RedisTaskRunner(url=url, queue=queue))
    state = _run(flow, args, kwargs, job.id)
    _record(store, job, state)
    return state.result()


def _run(flow: Any, args: tuple[Any, ...], kwargs: dict[str, Any], run_id: str) -> State:
    if flow.is_async:
        return asyncio.run(run_flow_async(flow, args, kwargs, run_id=run_id))
    return run_flow_sync(flow, args, kwargs, run_id=run_id)


def _record(store: FlowRunStore, job: Any, state: State) -> None:
    if not state.is_completed() and job.retries_left:
        message = f"{state.name}: {state.message}; RQ retries it ({job.retries_left} left)"
        store.transition(job.id, AwaitingRetry(message))
        return
    secret = get_settings().secret
    try:
        outcome = serialization.dumps(state, secret, what=f"the result of flow run {job.id}")
    except SerializationError as error:
        outcome = serialization.dumps(state.__class__(state.type, state.name, str(error)), secret)
    store.transition(job.id, state, outcome=outcome, ended=f"{time.time():.6f}")


def url_of(client: Any) -> str:
    """The URL of the server ``client`` talks to (for an RQ worker started without FLOQ_*)."""
    kwargs = client.connection_pool.connection_kwargs
    auth = ""
    if kwargs.get("password"):
        user = quote(kwargs.get("username") or "", safe="")
        auth = f"{user}:{quote(kwargs['password'], safe='')}@"
    if kwargs.get("path"):
        return f"unix://{auth}{kwargs['path']}?db={kwargs.get('db', 0)}"
    scheme = "rediss" if "SSL" in client.connection_pool.connection_class.__name__ else "redis"
    host, port, db = kwargs.get("host", "localhost"), kwargs.get("port", 6379), kwargs.get("db", 0)
    return f"{scheme}://{auth}{host}:{port}/{db}"


def _attempt(store: FlowRunStore, run_id: str) -> int:
    return int(store.client.hincrby(store.keys.run(run_id), "attempts", 1))


def _worker(job: Any) -> str:
    return str(getattr(job, "worker_name", "") or "")
