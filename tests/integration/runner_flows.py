"""A flow body the runner tests enqueue with each task runner (the workers import this module)."""

from __future__ import annotations

from typing import Any

from floq import flow, task


@task
def square(x: int) -> int:
    return x * x


def total(n: int) -> int:
    return sum(future.result() for future in square.map(range(n)))


def flow_with(runner: Any) -> Any:
    """``total`` as a flow that carries ``runner`` (a runner instance, as users write it)."""
    return flow(name=f"total-{type(runner).__name__}", task_runner=runner)(total)
