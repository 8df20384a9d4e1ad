"""``@flow``: a function whose task calls a task runner runs; calling it runs a flow run."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, Generic, ParamSpec, TypeVar, overload

from floq.engine.core import RunSpec
from floq.engine.flow_runs import run_flow_async, run_flow_sync
from floq.engine.retries import DelaySpec, RetryPolicy
from floq.runners.base import TaskRunner
from floq.runs import FlowRunRecord
from floq.states import State

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


class Flow(Generic[P, R]):
    """A flow: calling it runs it here (a flow run) and returns its value.

    Its task calls go to a fresh copy of ``task_runner`` for each flow run (default
    :class:`~floq.runners.ConcurrentTaskRunner`), so flow runs from several threads run in
    parallel with no configuration.
    """

    def __init__(self, fn: Callable[P, R], options: FlowOptions) -> None:
        self.fn = fn
        self.options = options
        self.is_async = inspect.iscoroutinefunction(fn)
        self.signature = inspect.signature(fn)
        self.run_spec = RunSpec(
            owner=self,
            label=f"flow {options.name!r}",
            policy=RetryPolicy.build(options.retries, options.retry_delay_seconds, None),
            timeout=options.timeout_seconds,
            on_completion=options.on_completion,
            on_failure=options.on_failure,
        )
        self.__doc__, self.__name__ = fn.__doc__, getattr(fn, "__name__", options.name)
        self.__wrapped__ = fn

    def __getattr__(self, item: str) -> Any:
        options = self.__dict__.get("options")
        if options is not None and item in FlowOptions.__dataclass_fields__:
            return getattr(options, item)
        raise AttributeError(item)

    def __repr__(self) -> str:
        return f"Flow({self.options.name!r})"

    def with_options(self, **changes: Any) -> Flow[P, R]:
        """A copy of this flow with some options changed (same names as ``@flow``)."""
        return Flow(self.fn, dataclasses.replace(self.options, **_normalise(changes)))

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            return dict(self.signature.bind(*args, **kwargs).arguments)
        except TypeError as error:
            raise TypeError(f"flow {self.name!r}: {error}") from None

    @overload
    def __call__(
        self: Flow[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs
    ) -> Coroutine[Any, Any, T]: ...

    @overload
    def __call__(self: Flow[P, T], *args: P.args, **kwargs: P.kwargs) -> T: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the flow; ``return_state=True`` returns its final State instead of its value."""
        return_state = bool(kwargs.pop("return_state", False))
        if self.is_async:
            return self._call_async(args, kwargs, return_state)
        state = run_flow_sync(self, args, kwargs)
        return state if return_state else state.result()

    async def _call_async(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], return_state: bool
    ) -> Any:
        state = await run_flow_async(self, args, kwargs)
        return state if return_state else state.result()


def _normalise(options: dict[str, Any]) -> dict[str, Any]:
    out = dict(options)
    for key in ("on_completion", "on_failure"):
        if key in out:
            value = out[key]
            out[key] = tuple(value) if isinstance(value, list | tuple) else (value,)
    return out


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
    given = {k: v for k, v in _normalise(options).items() if v is not None}
    name = given.pop("name", None) or getattr(fn, "__name__", "flow")
    return Flow(fn, FlowOptions(name=name, **given))
