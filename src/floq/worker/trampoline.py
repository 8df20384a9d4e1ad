"""The RQ job function of every enqueued flow run: it runs on the worker, in RQ's work horse.

Jobs name it by the import path :func:`floq.producer.trampoline.run_flow`, which calls
:func:`run_flow` here. It records the run Running, decodes the flow call, runs the flow,
records the final state and returns the flow's value to RQ. Whatever fails on this side (the
flow, or decoding its call: a module the worker cannot import, say) ends the run Failed with
that exception, whose traceback text travels with the recorded state to ``FlowRun.result()``.
A failed run raises, so that RQ marks the job failed, logs the traceback (the one log of it
here: floq logs the flow run's end in one line) and applies its ``Retry``; while RQ still has
retries left the record says AwaitingRetry, not Failed. A flow without a task runner of its
own sends its task runs to ``RedisTaskRunner`` on the same server and queue as the flow run.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

import rq

from floq import logs, serialization
from floq.engine.flow_runs import run_flow_async, run_flow_sync
from floq.errors import SerializationError
from floq.settings import get_settings
from floq.states import AwaitingRetry, Failed, Running, State
from floq.store.connection import connect
from floq.store.flow_runs import FlowRunStore
from floq.store.keys import Keys
from floq.store.protocol.kept import KeptResults
from floq.store.protocol.records import FlowCall
from floq.worker.resume import Resume


def decode_call(payload: bytes, run_id: str) -> tuple[Any, tuple[Any, ...], dict[str, Any], str]:
    call = FlowCall.decode(payload, get_settings().secret, run_id)
    return call.flow, call.args, call.kwargs, call.queue


def run_flow(payload: bytes) -> Any:
    """Run the flow call ``payload`` as the current RQ job's flow run; the flow's value."""
    job = rq.get_current_job()
    assert job is not None, "run_flow runs inside an RQ job"
    logs.show_run_logs()
    settings = get_settings()
    records = _records_client(job, settings)
    store = FlowRunStore(records, Keys(settings.namespace), settings.result_ttl, job.connection)
    attempt = _attempt(store, job.id)
    running = Running(f"attempt {attempt}")
    if not store.transition(job.id, running, started=f"{time.time():.6f}", worker=_worker(job)):
        return None  # it ended before it started: cancelled
    kept = KeptResults(store.client, store.keys, store.ttl)
    resume = Resume(kept, job.id, attempt, settings.secret)
    try:
        state = _decode_and_run(payload, job, settings, resume)
    except Exception as error:  # floq's side of the run failed: the run fails with it
        where = f"on worker {_worker(job)}" if _worker(job) else "on its worker"
        message = f"flow run {job.id} failed {where}: {type(error).__name__}: {error}"
        state = Failed(error, message)
    state = _record(store, job, state)
    return state.result()  # a failure raises: RQ marks the job failed and applies its Retry


def _records_client(job: Any, settings: Any) -> Any:
    """Flow-run records live with the task runs: on ``FLOQ_REDIS_URL`` when RQ's jobs are on
    another server (``FLOQ_FLOW_RUN_REDIS_URL``, the cluster case); else on the job's."""
    if settings.flow_run_redis_url and settings.redis_url:
        return connect(settings.redis_url)
    return job.connection


def _decode_and_run(payload: bytes, job: Any, settings: Any, resume: Resume) -> State:
    flow, args, kwargs, queue = decode_call(payload, job.id)
    if flow.task_runner is None:
        from floq.runners.redis import RedisTaskRunner

        url = settings.redis_url or url_of(job.connection)
        flow = flow.with_options(task_runner=RedisTaskRunner(url=url, queue=queue))
    try:
        return _run(flow, args, kwargs, job.id, resume)
    finally:
        resume.flush()


def _run(
    flow: Any, args: tuple[Any, ...], kwargs: dict[str, Any], run_id: str, resume: Resume
) -> State:
    def offer(flow_run: Any) -> None:
        flow_run.reuse = resume

    if flow.is_async:
        return asyncio.run(run_flow_async(flow, args, kwargs, run_id=run_id, on_start=offer))
    return run_flow_sync(flow, args, kwargs, run_id=run_id, on_start=offer)


def _record(store: FlowRunStore, job: Any, state: State) -> State:
    """Record the run's end (AwaitingRetry while RQ has retries left); the state recorded.

    A result that cannot be encoded fails the run, saying so: it never reaches the app."""
    secret = get_settings().secret
    try:
        outcome = serialization.dumps(state, secret, what=f"the result of flow run {job.id}")
    except SerializationError as error:
        message = f"flow run {job.id} ended {state.name}, but {error.message}"
        state = Failed(SerializationError(message, run_id=job.id), message)
        outcome = serialization.dumps(state, secret)
    if not state.is_completed() and job.retries_left:
        message = f"{state.name}: {state.message}; RQ retries it ({job.retries_left} left)"
        store.transition(job.id, AwaitingRetry(message))
        return state
    store.transition(job.id, state, outcome=outcome, ended=f"{time.time():.6f}")
    return state


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
    return store.count_attempt(run_id)


def _worker(job: Any) -> str:
    return str(getattr(job, "worker_name", "") or "")
