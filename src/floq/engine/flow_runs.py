"""One flow run: its task runner, its body's attempts, and the state it ends in.

An attempt is the body plus every task run it started: the attempt ends when they are all
finished, unless Ctrl-C (or another ``BaseException``: ``SystemExit``, a cancelled coroutine)
ended the body: then the flow run ends Crashed at once, as in Prefect, and task runs still
queued elsewhere are left to run (a worker's results expire unread).
Its value is the body's return value with futures and states inside replaced by
their values (a failed one fails the flow). A body that returns ``None`` fails if any of its
task runs failed or crashed (as in Prefect 2).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from floq import context, logs
from floq.context import FlowRunContext, RunContext
from floq.engine.core import attempts
from floq.engine.inputs import walk
from floq.engine.shells import drive_async, drive_sync
from floq.runs import FlowRunRecord, new_run_id, short_id
from floq.states import State


def _begin(
    flow: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    run_id: str | None,
    on_start: Callable[[FlowRunContext], None] | None,
) -> FlowRunContext:
    parameters = flow.bind(args, kwargs)
    parent = context.current_flow_run()
    run_id = run_id or new_run_id()
    record = FlowRunRecord(
        run_id,
        f"{flow.name}-{short_id(run_id)}",
        flow.name,
        parameters,
        parent.run.id if parent is not None else None,
    )
    runner = flow.new_runner()  # the flow's runner, else the default (ConcurrentTaskRunner)
    if flow.log_prints:
        logs.enable_log_prints()
    flow_run = FlowRunContext(flow, record, runner)
    if on_start is not None:
        on_start(flow_run)
    return flow_run


@contextmanager
def _started(flow_run: FlowRunContext) -> Iterator[None]:
    """The flow run's task runner, started; closed without waiting, since every attempt
    already waited for its task runs (unless it timed out, and then we must not wait)."""
    flow_run.runner.__enter__()
    try:
        yield
    finally:
        flow_run.runner.close()


def _attempt_value(flow_run: FlowRunContext, value: Any, first_run: int) -> Any:
    """The attempt's value: returned futures and states resolved; see the module docstring.

    ``first_run`` is where this attempt's task runs start in ``flow_run.task_runs``.
    """
    value = walk(value, lambda item, allowed: item.result())
    if value is None:
        runs = flow_run.task_runs[first_run:]
        failed = [r for r in runs if r.state.is_failed() or r.state.is_crashed()]
        if failed:
            raise failed[0].state.exception()
    return value


def run_flow_sync(
    flow: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    run_id: str | None = None,
    on_start: Callable[[FlowRunContext], None] | None = None,
) -> State:
    """Run ``flow`` here; ``run_id`` names the flow run (an enqueued run keeps its id) and
    ``on_start`` sees its context first (`floq run` follows ``task_runs`` for its progress)."""
    flow_run = _begin(flow, args, kwargs, run_id, on_start)

    def attempt() -> Any:
        first_run = len(flow_run.task_runs)
        try:
            value = flow.fn(*args, **kwargs)
        except Exception:
            flow_run.runner.wait_all()
            raise
        flow_run.runner.wait_all()  # not after Ctrl-C (KeyboardInterrupt): see the docstring
        return _attempt_value(flow_run, value, first_run)

    spec = flow.run_spec
    with context.entered(RunContext(flow_run, None, bool(flow.log_prints))), _started(flow_run):
        return drive_sync(attempts(spec, flow_run.run), attempt, spec.label)


async def run_flow_async(
    flow: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    run_id: str | None = None,
    on_start: Callable[[FlowRunContext], None] | None = None,
) -> State:
    flow_run = _begin(flow, args, kwargs, run_id, on_start)

    async def attempt() -> Any:
        first_run = len(flow_run.task_runs)
        try:
            value = await flow.fn(*args, **kwargs)
        except Exception:
            await asyncio.to_thread(flow_run.runner.wait_all)
            raise
        await asyncio.to_thread(flow_run.runner.wait_all)  # not after a cancellation or Ctrl-C
        return _attempt_value(flow_run, value, first_run)

    spec = flow.run_spec
    with context.entered(RunContext(flow_run, None, bool(flow.log_prints))), _started(flow_run):
        return await drive_async(attempts(spec, flow_run.run), attempt, spec.label)
