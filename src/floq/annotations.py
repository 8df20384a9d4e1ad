"""Markers for task arguments: ``unmapped(x)`` and ``allow_failure(x)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class unmapped(Generic[T]):
    """In ``task.map(...)``: hand this value whole to every mapped run instead of iterating it."""

    value: T


@dataclass(frozen=True, slots=True)
class allow_failure(Generic[T]):
    """Run the downstream even if the upstream future(s) inside failed.

    A failed upstream's value is then its exception, handed to the downstream as the argument.
    Works on futures passed as arguments and in ``wait_for=[...]``.
    """

    value: T
