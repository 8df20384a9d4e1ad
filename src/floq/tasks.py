"""``@task`` and the call model of a task: direct call, ``submit``, ``map``, ``with_options``."""

from __future__ import annotations

import dataclasses
import datetime
import inspect
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, ParamSpec, TypeVar, overload

from floq import context, logs
from floq.annotations import unmapped
from floq.context import FlowRunContext
from floq.definitions import Definition, build_options
from floq.engine import inputs
from floq.engine.core import RunSpec
from floq.engine.retries import DelaySpec, RetryPolicy, exponential_backoff
from floq.engine.task_runs import run_task_async, run_task_sync
from floq.errors import MappingError, MissingContextError
from floq.futures import TaskFuture, TaskFutureList
from floq.runs import TaskCall, TaskRunRecord, new_run_id, short_id
from floq.states import State

__all__ = ["Task", "exponential_backoff", "task"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

Hook = Callable[["Task[Any, Any]", TaskRunRecord, State], Any]


@dataclasses.dataclass(frozen=True, slots=True)
class TaskOptions:
    name: str
    retries: int = 0
    retry_delay_seconds: DelaySpec = 0
    retry_jitter_factor: float | None = None
    retry_condition_fn: Callable[..., bool] | None = None
    timeout_seconds: float | None = None
    tags: frozenset[str] = frozenset()
    task_run_name: str | Callable[[], str] | None = None
    on_completion: tuple[Hook, ...] = ()
    on_failure: tuple[Hook, ...] = ()
    log_prints: bool | None = None
    cache_key_fn: Callable[..., str | None] | None = None
    cache_expiration: datetime.timedelta | None = None
    # False: never kept for a retried enqueued flow run to reuse (see floq.worker.resume)
    persist_result: bool | None = None


class Task(Definition[P, R]):
    """A function that floq runs as task runs: inline, or through the flow's task runner."""

    kind = "task"
    options: TaskOptions

    def __init__(self, fn: Callable[P, R], options: TaskOptions) -> None:
        super().__init__(fn, options)
        self.run_spec = RunSpec(
            owner=self,
            label=f"task {options.name!r}",
            policy=RetryPolicy.build(
                options.retries, options.retry_delay_seconds, options.retry_jitter_factor
            ),
            timeout=options.timeout_seconds,
            retry_condition=options.retry_condition_fn,
            on_completion=options.on_completion,
            on_failure=options.on_failure,
        )
        if options.log_prints:
            logs.enable_log_prints()

    # --- the call model -----------------------------------------------------------------
    @overload
    def __call__(
        self: Task[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs
    ) -> Coroutine[Any, Any, T]: ...

    @overload
    def __call__(self: Task[P, T], *args: P.args, **kwargs: P.kwargs) -> T: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task here and now; return its value or raise its exception.

        An ``async def`` task gives a coroutine, to be awaited. ``return_state=True`` returns
        the final :class:`~floq.states.State` instead.
        """
        return_state = bool(kwargs.pop("return_state", False))
        call = self._call(args, kwargs, (), context.current_flow_run())
        if self.is_async:
            return self._call_async(call, return_state)
        upstream = {run_id: future.wait() for run_id, future in call.upstream.items()}
        state = run_task_sync(call, upstream)
        return state if return_state else state.result()

    async def _call_async(self, call: TaskCall, return_state: bool) -> Any:
        upstream = {run_id: await future.wait_async() for run_id, future in call.upstream.items()}
        state = await run_task_async(call, upstream)
        return state if return_state else state.result()

    @overload
    def submit(
        self: Task[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs
    ) -> TaskFuture[T]: ...

    @overload
    def submit(self: Task[P, T], *args: P.args, **kwargs: P.kwargs) -> TaskFuture[T]: ...

    @overload
    def submit(
        self: Task[P, Coroutine[Any, Any, T]], *args: Any, wait_for: Iterable[Any], **kwargs: Any
    ) -> TaskFuture[T]: ...

    @overload
    def submit(
        self: Task[P, T], *args: Any, wait_for: Iterable[Any], **kwargs: Any
    ) -> TaskFuture[T]: ...

    def submit(self, *args: Any, wait_for: Iterable[Any] | None = None, **kwargs: Any) -> Any:
        """Hand the call to the flow's task runner; returns a :class:`TaskFuture` at once."""
        flow_run = _require_flow_run(self, "submit")
        call = self._call(args, kwargs, _as_tuple(wait_for), flow_run)
        if flow_run.reuse is None:
            return flow_run.runner.submit(call)
        return _hand_over(flow_run, [call])[0]

    def map(
        self, *args: Any, wait_for: Iterable[Any] | None = None, **kwargs: Any
    ) -> TaskFutureList[Any]:
        """Submit one run per item of the iterable arguments, zipped; ``unmapped(x)`` broadcasts.

        The futures come in a list that also has ``.result()`` and ``.wait()`` (as in Prefect)."""
        flow_run = _require_flow_run(self, "map")
        wait = _as_tuple(wait_for)
        calls = [self._call(a, k, wait, flow_run) for a, k in expand_map(self, args, kwargs)]
        if flow_run.reuse is None:
            return TaskFutureList(flow_run.runner.map(calls))
        return TaskFutureList(_hand_over(flow_run, calls))

    def _call(
        self,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        wait_for: tuple[Any, ...],
        flow_run: FlowRunContext | None,
    ) -> TaskCall:
        self.check_arguments(args, kwargs)
        run_id = new_run_id()
        record = TaskRunRecord(
            run_id,
            self._run_name(run_id, args, kwargs, flow_run),
            self.options.name,
            flow_run.run.id if flow_run is not None else None,
            self.options.tags,
        )
        upstream, resolve = inputs.collect_upstream(args, kwargs, wait_for)
        log_prints = self.options.log_prints
        if flow_run is not None:
            flow_run.task_runs.append(record)
            if log_prints is None:
                log_prints = flow_run.flow.options.log_prints
        return TaskCall(
            self, record, args, kwargs, wait_for, bool(log_prints), resolve, upstream, flow_run
        )

    def _run_name(
        self,
        run_id: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        flow_run: FlowRunContext | None,
    ) -> str:
        """``task_run_name`` filled in, else ``<task>-<k>``: the k-th run of the task in its
        flow run, counted from 0 (one ``.map()``'s runs carry their index, as in Prefect)."""
        template = self.options.task_run_name
        if template is None:
            if flow_run is None:
                return f"{self.options.name}-{short_id(run_id)}"
            return f"{self.options.name}-{flow_run.next_run_number(self.options.name)}"
        if callable(template):
            return str(template())
        try:
            return template.format(**self.bind(args, kwargs))
        except (KeyError, IndexError) as error:
            raise ValueError(
                f"task {self.name!r}: task_run_name {template!r} names an unknown parameter {error}"
            ) from None


def _hand_over(flow_run: FlowRunContext, calls: list[TaskCall]) -> list[TaskFuture[Any]]:
    """Futures of ``calls``: finished at once for those an earlier attempt of the flow run
    completed (reused), the others from the task runner (their results kept when done)."""
    reuse = flow_run.reuse
    assert reuse is not None
    futures: list[TaskFuture[Any] | None] = [None] * len(calls)
    fresh: list[int] = []
    for i, call in enumerate(calls):
        state = reuse.reused(call)
        if state is None:
            fresh.append(i)
            continue
        future: TaskFuture[Any] = TaskFuture(call.run)
        future.finish(state)
        futures[i] = future
    if len(fresh) == 1:
        submitted = [flow_run.runner.submit(calls[fresh[0]])]
    else:
        submitted = flow_run.runner.map([calls[i] for i in fresh]) if fresh else []
    for i, future in zip(fresh, submitted, strict=True):
        reuse.watch(calls[i], future)
        futures[i] = future
    return [future for future in futures if future is not None]


def _require_flow_run(task: Task[Any, Any], verb: str) -> FlowRunContext:
    flow_run = context.current_flow_run()
    if flow_run is None:
        raise MissingContextError(
            f"task {task.name!r}: .{verb}() needs a running flow; call it inside a @flow "
            "function, or call the task directly to run it here"
        )
    return flow_run


def _as_tuple(wait_for: Iterable[Any] | None) -> tuple[Any, ...]:
    if wait_for is None:
        return ()
    if isinstance(wait_for, TaskFuture):
        return (wait_for,)
    return tuple(wait_for)


def _is_mappable(value: Any) -> bool:
    if isinstance(value, str | bytes | dict):
        return False
    try:
        iter(value)
    except TypeError:
        return False
    return True


def expand_map(
    task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """The (args, kwargs) of each mapped run: iterables zipped, everything else broadcast."""
    bound = task.bind_arguments(args, kwargs)
    mapped: dict[str, list[Any]] = {}
    for name, value in bound.arguments.items():
        if isinstance(value, TaskFuture | State):
            value = value.result()
        if isinstance(value, unmapped):
            bound.arguments[name] = value.value
        elif _is_mappable(value):
            mapped[name] = list(value)
    if not mapped:
        raise MappingError(
            f"task {task.name!r}: .map() needs at least one iterable argument; "
            f"got {', '.join(bound.arguments) or 'no arguments'}"
        )
    lengths = {name: len(values) for name, values in mapped.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name}={n}" for name, n in lengths.items())
        raise MappingError(f"task {task.name!r}: .map() got iterables of unequal lengths: {detail}")
    calls = []
    for i in range(next(iter(lengths.values()))):
        item = inspect.BoundArguments(task.signature, bound.arguments.copy())
        for name, values in mapped.items():
            item.arguments[name] = values[i]
        calls.append((item.args, item.kwargs))
    return calls


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...


@overload
def task(
    *,
    name: str | None = None,
    retries: int = 0,
    retry_delay_seconds: DelaySpec = 0,
    retry_jitter_factor: float | None = None,
    retry_condition_fn: Callable[..., bool] | None = None,
    timeout_seconds: float | None = None,
    tags: Iterable[str] | None = None,
    task_run_name: str | Callable[[], str] | None = None,
    on_completion: Hook | list[Hook] | None = None,
    on_failure: Hook | list[Hook] | None = None,
    log_prints: bool | None = None,
    cache_key_fn: Callable[..., str | None] | None = None,
    cache_expiration: datetime.timedelta | None = None,
    persist_result: bool | None = None,
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make a function a task: ``@task`` or ``@task(retries=3, ...)``."""
    if fn is None:
        return lambda f: task(f, **options)
    return Task(fn, build_options(TaskOptions, fn, options))
