"""Futures inside task arguments, at any depth: finding them, and replacing them by values.

Arguments are walked through lists, tuples (named ones too), sets, frozensets, dicts and
dataclass instances. A collection is rebuilt only when something inside it changed.
A :class:`~floq.futures.TaskFuture` that crosses a process boundary travels as an
:class:`UpstreamRef`; both are resolved against the upstream states the runner supplies.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from floq.annotations import allow_failure, unmapped
from floq.futures import TaskFuture, TaskFutureList, UpstreamRef
from floq.states import State

_ATOMS = frozenset({str, bytes, int, float, bool, complex, type(None)})
_REFERENCES = frozenset({TaskFuture, UpstreamRef, State})


class NotReadyError(Exception):
    """Raised while resolving inputs: the named upstream run did not complete."""

    def __init__(self, upstream_id: str, state: State) -> None:
        super().__init__(upstream_id)
        self.upstream_id, self.state = upstream_id, state


def walk(obj: Any, leaf: Callable[[Any, bool], Any], allowed: bool = False) -> Any:
    """Rebuild ``obj`` with every future, ref or State replaced by ``leaf(item, allowed)``.

    ``allowed`` is true under an :class:`allow_failure` marker.
    """
    kind = type(obj)
    if kind in _ATOMS:
        return obj
    if kind in _REFERENCES or isinstance(obj, TaskFuture):
        return leaf(obj, allowed)
    if kind is allow_failure:
        return walk(obj.value, leaf, True)
    if kind is unmapped:
        return walk(obj.value, leaf, allowed)
    return _walk_container(obj, kind, leaf, allowed)


def _walk_container(obj: Any, kind: type, leaf: Callable[[Any, bool], Any], allowed: bool) -> Any:
    if kind is list or kind is TaskFutureList:  # a list of futures comes back a list
        return _same_or(obj, [walk(x, leaf, allowed) for x in obj])
    if kind is dict:
        new = {k: walk(v, leaf, allowed) for k, v in obj.items()}
        return obj if all(new[k] is v for k, v in obj.items()) else new
    if isinstance(obj, tuple):
        items = [walk(x, leaf, allowed) for x in obj]
        if all(a is b for a, b in zip(items, obj, strict=True)):
            return obj
        return kind(*items) if hasattr(obj, "_fields") else kind(items)
    if isinstance(obj, set | frozenset):
        return _same_or(obj, kind(walk(x, leaf, allowed) for x in obj))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _walk_dataclass(obj, leaf, allowed)
    return obj


def _same_or(old: Any, new: Any) -> Any:
    if len(old) == len(new) and all(a is b for a, b in zip(old, new, strict=True)):
        return old
    return new


def _walk_dataclass(obj: Any, leaf: Callable[[Any, bool], Any], allowed: bool) -> Any:
    changes = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        new = walk(value, leaf, allowed)
        if new is not value:
            changes[f.name] = new
    if not changes:
        return obj
    copy = dataclasses.replace(obj, **{k: v for k, v in changes.items() if _init_field(obj, k)})
    for name, value in changes.items():
        if not _init_field(obj, name):
            object.__setattr__(copy, name, value)
    return copy


def _init_field(obj: Any, name: str) -> bool:
    return bool(obj.__dataclass_fields__[name].init)


def run_id_of(obj: Any) -> str | None:
    """The upstream run id a future or ref stands for; None for a plain State."""
    return getattr(obj, "task_run_id", None)


def collect_upstream(
    args: tuple[Any, ...], kwargs: dict[str, Any], wait_for: tuple[Any, ...]
) -> tuple[dict[str, Any], bool]:
    """Every future in a call's inputs, keyed by task-run id (duplicates count once), and
    whether anything needs resolving at all (futures, refs or states)."""
    if not wait_for and _plain(args) and _plain(kwargs):
        return {}, False  # the common case, kept cheap
    found: dict[str, Any] = {}
    seen = [False]

    def leaf(item: Any, allowed: bool) -> Any:
        seen[0] = True
        run_id = run_id_of(item)
        if run_id is not None:
            found[run_id] = item
        return item

    walk((args, kwargs, wait_for), leaf)
    return found, seen[0]


def resolve(expr: Any, upstream: Mapping[str, State]) -> Any:
    """``expr`` with futures and refs replaced by their upstream's value.

    A failed upstream raises :class:`NotReadyError`, unless under ``allow_failure``, where its
    exception becomes the value.
    """
    if _plain(expr):
        return expr  # the common case (scalars in a tuple or dict), kept cheap

    def leaf(item: Any, allowed: bool) -> Any:
        run_id = run_id_of(item)
        state = item if run_id is None else upstream[run_id]
        if state.is_completed():
            return state.data
        if allowed:
            return state.exception()
        raise NotReadyError(run_id or "<state>", state)

    return walk(expr, leaf)


def _plain(expr: Any) -> bool:
    """True for an atom, or a tuple or dict of atoms: nothing in it to resolve."""
    kind = type(expr)
    if kind is tuple:
        return all(type(x) in _ATOMS for x in expr)
    if kind is dict:
        return all(type(x) in _ATOMS for x in expr.values())
    return kind in _ATOMS
