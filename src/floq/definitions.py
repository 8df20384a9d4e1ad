"""What ``@task`` and ``@flow`` share: a function, its frozen options, and calling conventions."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, Self, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class Definition(Generic[P, R]):
    """A decorated function plus its options (a frozen dataclass, readable as attributes)."""

    kind = "definition"

    def __init__(self, fn: Callable[P, R], options: Any) -> None:
        self.fn = fn
        self.options = options
        self.is_async = inspect.iscoroutinefunction(fn)
        self.signature = inspect.signature(fn)
        self._arity = _positional_arity(self.signature)
        self.__doc__, self.__name__ = fn.__doc__, getattr(fn, "__name__", options.name)
        self.__wrapped__ = fn

    def __getattr__(self, item: str) -> Any:
        options = self.__dict__.get("options")
        if options is not None and item in options.__dataclass_fields__:
            return getattr(options, item)
        raise AttributeError(item)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.options.name!r})"

    def with_options(self, **changes: Any) -> Self:
        """A copy with some options changed (the same names as the decorator takes)."""
        return type(self)(self.fn, dataclasses.replace(self.options, **normalise(changes)))

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments by parameter name; the error names this task or flow."""
        return dict(self.bind_arguments(args, kwargs).arguments)

    def check_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Raise a TypeError naming this task or flow if the arguments do not fit."""
        arity = self._arity
        if arity is not None and not kwargs and arity[0] <= len(args) <= arity[1]:
            return  # the common case, decided without binding
        self.bind_arguments(args, kwargs)

    def bind_arguments(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> inspect.BoundArguments:
        try:
            return self.signature.bind(*args, **kwargs)
        except TypeError as error:
            raise TypeError(f"{self.kind} {self.options.name!r}: {error}") from None


def normalise(options: dict[str, Any]) -> dict[str, Any]:
    """Accept one hook or a list of them, and any iterable of tags."""
    out = dict(options)
    for key in ("on_completion", "on_failure"):
        if key in out:
            value = out[key]
            out[key] = tuple(value) if isinstance(value, list | tuple) else (value,)
    if "tags" in out:
        out["tags"] = frozenset(out["tags"] or ())
    return out


def build_options(options_class: Any, fn: Callable[..., Any], given: dict[str, Any]) -> Any:
    """The decorator's options: unset (None) ones take their defaults; name defaults to fn's."""
    values = {k: v for k, v in normalise(given).items() if v is not None}
    name = values.pop("name", None) or getattr(fn, "__name__", options_class.__name__)
    return options_class(name=name, **values)


def _positional_arity(signature: inspect.Signature) -> tuple[int, int] | None:
    """(required, allowed) positional counts when every parameter is a plain positional one."""
    params = signature.parameters.values()
    plain = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind not in plain for p in params):
        return None
    required = sum(1 for p in params if p.default is inspect.Parameter.empty)
    return required, len(signature.parameters)
