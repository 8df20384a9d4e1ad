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
