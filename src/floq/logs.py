"""Run loggers and ``log_prints``: ``print`` inside a run goes to the run's logger when asked.

floq's own records go to the logger ``floq`` (``floq.runs`` for retries and the end of runs
that do not complete: what is logged once, and where, is in :mod:`floq.engine.core`). Unless
the application configured ``floq`` itself, they are shown on the current ``sys.stderr``.
"""

from __future__ import annotations

import builtins
import datetime
import io
import json
import logging
import sys
import threading
from typing import Any

from floq import context
from floq.errors import MissingContextError
from floq.settings import get_settings

_original_print = builtins.print
_install_lock = threading.Lock()
_handler_installed = False


class RunLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger whose records carry the flow run and task run they come from."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = self.extra or {}
        where = extra.get("task_run_name") or extra.get("flow_run_name")
        return (f"{where} | {msg}" if where else msg), {**kwargs, "extra": extra}


def get_run_logger() -> RunLogger:
    """The logger of the task run or flow run this code runs in."""
    ctx = context.current()
    if ctx.task_run is not None:
        run = ctx.task_run
        extra = {"task_run_id": run.id, "task_run_name": run.name, "flow_run_id": run.flow_run_id}
        return RunLogger(logging.getLogger("floq.task_runs"), extra)
    if ctx.flow_run is not None:
        record = ctx.flow_run.run
        extra = {"flow_run_id": record.id, "flow_run_name": record.name}
        return RunLogger(logging.getLogger("floq.flow_runs"), extra)
    raise MissingContextError("get_run_logger() was called outside a flow run or task run")


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes each record to ``sys.stderr`` as it is *then*, like :data:`logging.lastResort`.

    A handler bound to the ``sys.stderr`` of the moment it was installed keeps writing there
    after that stream was swapped back: a progress display's proxy (whose console prints to
    stdout, so `floq run 2>/dev/null` still showed logs), or the stream of a ``CliRunner``
    that already returned, so a later run's retry WARNING landed after an earlier result.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        """Ignored: the stream is always the current ``sys.stderr``."""


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, and on every line
    logged inside a run, its ``flow_run_id``, ``task_run_id``, ``task`` and ``attempt``; the
    ``worker`` on every line a worker's processes write; the traceback as ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        line: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_run_fields(record))
        if _worker_name:
            line["worker"] = _worker_name
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def _run_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ids of the run the record was logged in: from ``extra``, else the run context."""
    ctx = context.current()
    fields: dict[str, Any] = {}
    if ctx.flow_run is not None:
        fields["flow_run_id"] = ctx.flow_run.run.id
    task_run = ctx.task_run
    if task_run is not None:
        fields.update(flow_run_id=task_run.flow_run_id, task_run_id=task_run.id,
                      task=task_run.task_name, attempt=task_run.run_count)  # fmt: skip
    for name in ("flow_run_id", "task_run_id"):
        value = getattr(record, name, None)
        if value is not None:
            fields[name] = value
    return {k: v for k, v in fields.items() if v is not None}


_worker_name = ""


def set_worker_name(name: str) -> None:
    """Name this process's worker on every JSON log line (a flow-worker and its processes)."""
    global _worker_name
    _worker_name = name


def install_default_handler(level: str, log_format: str = "text") -> None:
    """Show floq's run logs on stderr, once, unless the application configured 'floq' itself.

    ``log_format`` is ``text`` (time, level, message) or ``json`` (:class:`JsonFormatter`)."""
    global _handler_installed
    with _install_lock:
        if _handler_installed:
            return
        _handler_installed = True
        root = logging.getLogger("floq")
        if root.handlers:
            return
        handler = StderrHandler()
        if log_format == "json":
            handler.setFormatter(JsonFormatter())
        else:
            text = logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S")
            handler.setFormatter(text)
        root.addHandler(handler)
        root.setLevel(level)
        root.propagate = False


def show_run_logs() -> None:
    """:func:`install_default_handler` with ``FLOQ_LOG_LEVEL`` and ``FLOQ_LOG_FORMAT``: what a
    process that runs flows or tasks calls once before (calling it again costs nothing).

    Callers: ``Flow.__call__`` and ``floq run`` (runs here), the trampoline (enqueued runs,
    in RQ's work horse), the child processes of the process-pool and Dask runners."""
    if not _handler_installed:
        settings = get_settings()
        install_default_handler(settings.log_level, settings.log_format)


def _print(*args: Any, **kwargs: Any) -> None:
    ctx = context.current()
    if not ctx.log_prints or kwargs.get("file") not in (None, sys.stdout):
        _original_print(*args, **kwargs)
        return
    buffer = io.StringIO()
    _original_print(*args, **{**kwargs, "file": buffer, "end": ""})
    get_run_logger().info(buffer.getvalue())


def enable_log_prints() -> None:
    """Route ``print`` through :func:`_print`, which honours each run's ``log_prints``."""
    with _install_lock:
        if builtins.print is not _print:
            builtins.print = _print
