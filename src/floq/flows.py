"""``@flow``: a function whose task calls a task runner runs; calling it runs a flow run."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from floq import logs
from floq.definitions import Definition, build_options
from floq.engine.core import RunSpec
from floq.engine.flow_runs import run_flow_async, run_flow_sync
from floq.engine.retries import DelaySpec, RetryPolicy
from floq.runners.base import TaskRunner
from floq.runners.threads import ConcurrentTaskRunner
from floq.runs import FlowRunRecord
from floq.states import State

if TYPE_CHECKING:
    from floq.producer import FlowRun

__all__ = ["Flow", "flow"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

Hook = Callable[["Flow[Any, Any]", FlowRunRecord, State], Any]


@dataclasses.dataclass(frozen=True, slots=True)
class FlowOptions:
    name: str
    task_runner: TaskRunner | None = None
    retries: int = 0
    retry_delay_seconds: DelaySpec = 0
    timeout_seconds: float | None = None
    log_prints: bool = False
    on_completion: tuple[Hook, ...] = ()
    on_failure: tuple[Hook, ...] = ()


class Flow(Definition[P, R]):
    """A flow: calling it runs it here (a flow run) and returns its value.

    Its task calls go to a fresh copy of ``task_runner`` for each flow run (default
    :class:`~floq.runners.ConcurrentTaskRunner`), so flow runs from several threads run in
    parallel with no configuration.
    """

    kind = "flow"
    options: FlowOptions

    def __init__(self, fn: Callable[P, R], options: FlowOptions) -> None:
        super().__init__(fn, options)
        self.run_spec = RunSpec(
            owner=self,
            label=f"flow {options.name!r}",
            policy=RetryPolicy.build(options.retries, options.retry_delay_seconds, None),
            timeout=options.timeout_seconds,
            on_completion=options.on_completion,
            on_failure=options.on_failure,
        )

    @overload
    def __call__(
        self: Flow[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs
    ) -> Coroutine[Any, Any, T]: ...

    @overload
    def __call__(self: Flow[P, T], *args: P.args, **kwargs: P.kwargs) -> T: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the flow; ``return_state=True`` returns its final State instead of its value."""
        return_state = bool(kwargs.pop("return_state", False))
        logs.show_run_logs()
        if self.is_async:
            return self._call_async(args, kwargs, return_state)
        state = run_flow_sync(self, args, kwargs)
        return state if return_state else state.result()

    def new_runner(self) -> TaskRunner:
        """A fresh, unstarted copy of this flow's task runner, for one flow run."""
        return (self.options.task_runner or ConcurrentTaskRunner()).duplicate()

    def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> FlowRun:
        """Put a run of this flow on the ``default`` queue for a flow-worker; its handle.

        For the queue, retries or a delay, use :func:`floq.producer.enqueue`."""
        from floq.producer import enqueue

        return enqueue(self, args, kwargs)

    async def _call_async(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], return_state: bool
    ) -> Any:
        state = await run_flow_async(self, args, kwargs)
        return state if return_state else state.result()


@overload
def flow(fn: Callable[P, R], /) -> Flow[P, R]: ...


@overload
def flow(
    *,
    name: str | None = None,
    task_runner: TaskRunner | None = None,
    retries: int = 0,
    retry_delay_seconds: DelaySpec = 0,
    timeout_seconds: float | None = None,
    log_prints: bool = False,
    on_completion: Hook | list[Hook] | None = None,
    on_failure: Hook | list[Hook] | None = None,
) -> Callable[[Callable[P, R]], Flow[P, R]]: ...


def flow(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make a function a flow: ``@flow`` or ``@flow(task_runner=..., retries=...)``."""
    if fn is None:
        return lambda f: flow(f, **options)
    return Flow(fn, build_options(FlowOptions, fn, options))
