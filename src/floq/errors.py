"""Every error floq raises on its own account.

A task's own exception is never wrapped: ``future.result()`` re-raises exactly what the
task raised. The errors below are floq's, and each carries the run it concerns
(``run_id``) where there is one::

    FloqError
    ├── ConfigurationError     a bad setting, named (also a ValueError)
    ├── MissingContextError    an API that needs a flow run was used outside one
    ├── MappingError           task.map() arguments that cannot be zipped (also a ValueError)
    ├── RunnerError            a task runner used wrongly (not started, missing __main__ guard)
    ├── SerializationError     a payload that cannot be encoded or decoded (raw bytes kept)
    ├── RemoteError            an exception from another process whose type cannot be rebuilt here
    ├── RemoteTraceback        the formatted traceback of an exception raised in another process
    └── RunError               a run ended without a value of its own
        ├── UpstreamFailedError   NotReady: an upstream run failed, this one never ran
        ├── TaskRunTimeout        TimedOut: the run exceeded timeout_seconds (also a TimeoutError)
        ├── CrashedRunError       Crashed: the run was interrupted or its process was lost
        └── CancelledRunError     Cancelled
"""

from __future__ import annotations


class FloqError(Exception):
    """The root of floq's own errors; ``run_id`` names the run concerned, if any."""

    def __init__(self, message: str, *, run_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.run_id = run_id

    def __reduce__(self) -> tuple[object, ...]:
        # Keep run_id when the error crosses a process boundary (process pool, Dask).
        return (_rebuild, (type(self), self.message, self.run_id))


def _rebuild(cls: type[FloqError], message: str, run_id: str | None) -> FloqError:
    return cls(message, run_id=run_id)


class ConfigurationError(FloqError, ValueError):
    """A setting has a value floq cannot use; the message names the setting."""


class MissingContextError(FloqError, RuntimeError):
    """An API that needs a running flow (``task.submit``, ``get_run_logger``) ran outside one."""


class MappingError(FloqError, ValueError):
    """``task.map()`` got no iterable argument, or iterables of unequal lengths."""


class RunnerError(FloqError, RuntimeError):
    """A task runner was used wrongly: not started, or started where it cannot work."""


class SerializationError(FloqError):
    """A payload could not be encoded or decoded; ``raw`` keeps the bytes that failed."""

    def __init__(self, message: str, *, raw: bytes = b"", run_id: str | None = None) -> None:
        super().__init__(message, run_id=run_id)
        self.raw = raw


class RemoteError(FloqError):
    """An exception raised in another process (a worker) whose type cannot be rebuilt here,
    say because its module is not importable; ``type_name`` names it and the message is its
    ``"Type: message"``. Its ``__cause__`` holds the remote traceback, if one came along."""

    def __init__(self, message: str, *, type_name: str = "", run_id: str | None = None) -> None:
        super().__init__(message, run_id=run_id)
        self.type_name = type_name

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_remote, (self.message, self.type_name, self.run_id))


def _rebuild_remote(message: str, type_name: str, run_id: str | None) -> RemoteError:
    return RemoteError(message, type_name=type_name, run_id=run_id)


class RemoteTraceback(FloqError):
    """The formatted traceback of an exception raised in another process.

    An exception that comes back from a worker, a process pool or a Dask worker has this as its
    ``__cause__`` (as :mod:`concurrent.futures` does for process pools), so the traceback
    printed here shows where it failed there, then where it was re-raised here.
    """

    def __init__(self, text: str, *, run_id: str | None = None) -> None:
        super().__init__(text, run_id=run_id)

    def __str__(self) -> str:
        return f'\n"""\n{self.message.rstrip()}\n"""'


class RunError(FloqError):
    """A run ended without producing a value of its own."""


class UpstreamFailedError(RunError):
    """The run was never started because an upstream run did not complete (state NotReady)."""


class TaskRunTimeout(RunError, TimeoutError):
    """The run exceeded its ``timeout_seconds`` (state Failed, named TimedOut)."""


class CrashedRunError(RunError):
    """The run was interrupted, or the process running it was lost (state Crashed)."""


class CancelledRunError(RunError):
    """The run was cancelled (state Cancelled)."""
