"""Tracebacks across processes: the remote traceback of an exception, and the source of code
shipped by value.

* An exception travels inside a :class:`~floq.states.State` as a :class:`PortableError`: the
  exception pickled on its own, its ``"Type: message"`` and its formatted traceback. On the
  receiving side it is rebuilt with a :class:`~floq.errors.RemoteTraceback` as its
  ``__cause__`` (what :mod:`concurrent.futures` does for process pools); an exception whose
  type cannot be rebuilt there (its module is missing, say) becomes a
  :class:`~floq.errors.RemoteError` naming it, with the same cause.
* Code that cloudpickle ships by value (functions of ``__main__``, closures, the functions
  inside tasks and flows) arrives named ``<dynamic-code>``, so the receiver's tracebacks show
  no lines. :class:`SourcePickler` keeps each code object's file name and collects the source
  lines of those files; :func:`register` puts them into :mod:`linecache` on the receiver when
  it has no such file, so its tracebacks show the lines.
"""

from __future__ import annotations

import io
import linecache
import os
import pickle
import traceback
import types
from collections import ChainMap
from typing import Any

import cloudpickle

from floq.errors import RemoteError, RemoteTraceback

MAX_SOURCE = 1_000_000  # characters of one file's source shipped at most
MAX_TRACEBACK = 100_000  # characters of a remote traceback kept at most

Sources = dict[str, list[str]]


def remote_text(error: BaseException) -> str | None:
    """The formatted traceback (and chain) of ``error``; None if it has none to show."""
    if error.__traceback__ is None and error.__cause__ is None and error.__context__ is None:
        return None
    text = "".join(traceback.format_exception(error))
    if len(text) > MAX_TRACEBACK:
        text = text[: MAX_TRACEBACK // 2] + "\n[...]\n" + text[-MAX_TRACEBACK // 2 :]
    return text


def attach(error: BaseException, text: str | None) -> BaseException:
    """``error``, with ``text`` (a remote traceback) as its ``__cause__``; returns ``error``.

    A traceback or chain that came along by itself (tblib's pickling, which Dask installs in
    every process that imports it) is dropped: ``text`` holds them already, shown once."""
    if text:
        error.__traceback__ = error.__context__ = None
        error.__cause__ = RemoteTraceback(text)
    return error


class PortableError:
    """An exception on its way to another process; unpickles as the exception itself."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __reduce__(self) -> tuple[Any, ...]:
        error = self.error
        try:
            blob: bytes | None = cloudpickle.dumps(error)
        except Exception:
            blob = None  # it arrives as a RemoteError naming it
        name = f"{type(error).__module__}.{type(error).__qualname__}"
        return (rebuild, (blob, name, _describe(error), remote_text(error)))


def _describe(error: BaseException) -> str:
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def rebuild(blob: bytes | None, type_name: str, described: str, text: str | None) -> BaseException:
    """The exception a :class:`PortableError` stood for, with its remote traceback attached."""
    error: BaseException | None = None
    if blob is not None:
        try:
            error = pickle.loads(blob)
        except Exception:
            error = None
    if not isinstance(error, BaseException):
        error = RemoteError(f"{described} (raised remotely as {type_name})", type_name=type_name)
    return attach(error, text)


class SourcePickler(cloudpickle.Pickler):  # type: ignore[misc]
    """cloudpickle's pickler, keeping the file names of the code it ships by value and noting
    them in ``files`` (cloudpickle itself names all such code ``<dynamic-code>``)."""

    def __init__(self, file: Any, protocol: int | None = None) -> None:
        self.files: set[str] = set()
        # before Pickler.__init__, which reads the table
        self.dispatch_table = ChainMap({types.CodeType: self._reduce_code}, *_DISPATCH.maps)
        super().__init__(file, protocol=protocol)

    def _reduce_code(self, code: types.CodeType) -> Any:
        self.files.add(code.co_filename)
        rebuild, args = _DISPATCH[types.CodeType](code)
        return rebuild, tuple(code.co_filename if arg == _DYNAMIC else arg for arg in args)


_DISPATCH = cloudpickle.Pickler.dispatch_table
_DYNAMIC = "<dynamic-code>"  # the file name cloudpickle gives the code objects it ships


def dumps_code(obj: Any, with_sources: bool = True) -> bytes:
    """``cloudpickle.dumps(obj)``, its by-value code keeping its file names; ``with_sources``
    adds the source lines of those files: unpickling registers them (see :func:`register`),
    then gives ``obj``."""
    with io.BytesIO() as file:
        pickler = SourcePickler(file)
        pickler.dump(obj)
        body = file.getvalue()
    sources = collect(pickler.files) if with_sources else None
    return pickle.dumps(_Shipped(sources, body), protocol=5) if sources else body


class _Shipped:
    __slots__ = ("body", "sources")

    def __init__(self, sources: Sources, body: bytes) -> None:
        self.sources, self.body = sources, body

    def __reduce__(self) -> tuple[Any, ...]:
        return (unship, (self.sources, self.body))


def unship(sources: Sources, body: bytes) -> Any:
    """The object in ``body``, its code's ``sources`` registered first."""
    register(sources)
    return pickle.loads(body)


def collect(files: set[str]) -> Sources:
    """The source lines of ``files`` that this process knows (from disk or linecache)."""
    sources = {}
    for filename in files:
        lines = linecache.getlines(filename)
        if lines and sum(map(len, lines)) <= MAX_SOURCE:
            sources[filename] = lines
    return sources


def register(sources: Sources) -> None:
    """Make ``sources`` what :mod:`linecache` shows for files this process does not have."""
    for filename, lines in sources.items():
        if os.path.exists(filename):
            continue  # the file here is what tracebacks should show for the code here
        size = sum(map(len, lines))
        linecache.cache[filename] = (size, None, lines, filename)  # mtime None: kept
