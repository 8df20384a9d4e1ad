"""floq's configuration: one frozen :class:`Settings`, read from the environment only here.

Precedence is flag > environment > default: command-line code builds ``Settings.from_env()``
and then ``replace()``s what its flags set. A bad value fails at once, naming what the user
gave: the variable, or the flag (``replace(given_as={"redis_url": "--redis"}, redis_url=...)``).

=========================  =========================================  ================
variable                   meaning                                    default
=========================  =========================================  ================
FLOQ_REDIS_URL             Redis server for the distributed path      (embedded server)
FLOQ_FLOW_RUN_REDIS_URL    server of RQ's flow-run queues             FLOQ_REDIS_URL
FLOQ_SECRET                HMAC key(s), comma-separated: first signs  (off)
FLOQ_NAMESPACE             prefix of every Redis key floq writes      floq
FLOQ_HOME                  where the embedded server keeps its files  ~/.floq
FLOQ_LOG_LEVEL             level of floq's run logs on stderr         INFO
FLOQ_LOG_FORMAT            text, or json (one object a line)          text
FLOQ_THREAD_POOL_WORKERS   threads of ConcurrentTaskRunner            64
FLOQ_RESULT_TTL            seconds results and run records are kept   86400
FLOQ_HEARTBEAT_SECONDS     how often a worker refreshes its heartbeat 2
FLOQ_WORKER_TTL            heartbeat lapse after which work is taken  10
FLOQ_REAP_SECONDS          how often each worker looks for lapses     5
FLOQ_DRAIN_SECONDS         SIGTERM grace period for in-flight runs    30
FLOQ_REDIS_RETRY_SECONDS   how long a lost Redis is waited for        60
FLOQ_QUEUES                queues a flow-worker serves (comma list)   default
FLOQ_WORKER_MODE           concurrent, parallel or dask               concurrent
FLOQ_CONCURRENCY           task runs a worker runs at once            16
FLOQ_PROCESSES             processes of a parallel-mode worker        CPU count
FLOQ_DASK_ADDRESS          scheduler of a dask-mode worker            (local cluster)
FLOQ_FLOW_SLOTS            enqueued flow runs a flow-worker runs      1
FLOQ_METRICS_PORT          flow-worker's Prometheus /metrics port     (off)
FLOQ_DASHBOARD_TOKEN       lets `floq dashboard` cancel and retry     (read-only)
=========================  =========================================  ================

``FLOQ_REDIS_URL`` may name one server (``redis://``, ``rediss://``, ``unix://``), a Redis
Cluster (``redis+cluster://host:port[,host:port]``) or a Sentinel-watched master
(``redis+sentinel://host:port[,host:port]/service[/db]``): see :mod:`floq.store.connection`.
Enqueued flow runs travel through RQ, which needs one plain server: on a cluster, give it with
``FLOQ_FLOW_RUN_REDIS_URL`` (task runs, records and results stay on the cluster).

With the defaults, a task run held by a worker that was killed runs again within about
``FLOQ_WORKER_TTL + FLOQ_REAP_SECONDS`` = 15 seconds.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from floq.errors import ConfigurationError

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True, slots=True)
class Settings:
    redis_url: str | None = None
    flow_run_redis_url: str | None = None
    secret: bytes | None = None
    namespace: str = "floq"
    home: Path = field(default_factory=lambda: Path.home() / ".floq")
    log_level: str = "INFO"
    log_format: str = "text"
    thread_pool_workers: int = 64
    result_ttl: int = 86400
    heartbeat_seconds: float = 2.0
    worker_ttl: float = 10.0
    reap_seconds: float = 5.0
    max_lost_attempts: int = 3
    drain_seconds: float = 30.0
    redis_retry_seconds: float = 60.0
    queues: tuple[str, ...] = ("default",)
    worker_mode: str = "concurrent"
    concurrency: int = 16
    processes: int = field(default_factory=lambda: os.cpu_count() or 1)
    dask_address: str | None = None
    flow_slots: int = 1
    metrics_port: int | None = None
    dashboard_token: str | None = field(default=None, repr=False)
    # where values came from, for messages: setting -> flag ("--redis"); else its variable
    given_as: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.log_level.upper() in _LEVELS:  # 'debug' is DEBUG; a bad one is shown as given
            object.__setattr__(self, "log_level", self.log_level.upper())
        self._check_choices()
        self._check_numbers()
        for setting in ("redis_url", "flow_run_redis_url"):
            url = getattr(self, setting)
            if url is not None and not url.startswith(URL_SCHEMES):
                rule = f"must start with one of {', '.join(URL_SCHEMES)}"
                self._fail(setting, rule, redacted(url))
        if self.flow_run_redis_url is not None and "+" in self.flow_run_redis_url.split(":")[0]:
            self._fail("flow_run_redis_url", "must name one server (RQ needs one)")
        if not self.namespace or any(c in self.namespace for c in "{}: "):
            self._fail("namespace", "must be non-empty without '{', '}', ':' or spaces")

    def label(self, setting: str) -> str:
        """What the user set ``setting`` with: a flag given to ``replace``, else the variable."""
        return dict(self.given_as).get(setting) or _VARIABLE_OF[setting]

    def _fail(self, setting: str, rule: str, shown: Any = None) -> None:
        value = getattr(self, setting) if shown is None else shown
        raise ConfigurationError(f"{self.label(setting)} {rule}, got {value!r}")

    def _check_choices(self) -> None:
        if self.log_level not in _LEVELS:
            self._fail("log_level", f"must be one of {', '.join(_LEVELS)}")
        if self.log_format not in LOG_FORMATS:
            self._fail("log_format", f"must be one of {', '.join(LOG_FORMATS)}")
        if self.worker_mode not in WORKER_MODES:
            self._fail("worker_mode", f"must be one of {', '.join(WORKER_MODES)}")
        if not self.queues or not all(self.queues):
            self._fail("queues", "must name at least one queue")

    def _check_numbers(self) -> None:
        positive = (
            "concurrency", "processes", "thread_pool_workers", "result_ttl",
            "heartbeat_seconds", "worker_ttl", "reap_seconds", "drain_seconds",
            "max_lost_attempts",
        )  # fmt: skip
        for setting in positive:
            if not getattr(self, setting) > 0:
                self._fail(setting, "must be > 0")
        if self.flow_slots < 0:
            self._fail("flow_slots", "must be >= 0")
        if self.metrics_port is not None and not 0 < self.metrics_port < 65536:
            self._fail("metrics_port", "must be a port number (1-65535)")
        if self.redis_retry_seconds < 0:
            self._fail("redis_retry_seconds", "must be >= 0")
        if self.worker_ttl <= self.heartbeat_seconds:
            self._fail(
                "worker_ttl",
                f"must be longer than {self.label('heartbeat_seconds')} ({self.heartbeat_seconds})",
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {
            key: _parse(name, env[name], parse)
            for name, (key, parse) in _VARIABLES.items()
            if env.get(name)
        }
        return cls(**values)

    def replace(self, given_as: Mapping[str, str] | None = None, **changes: Any) -> Settings:
        """These settings with ``changes`` (None: unchanged), validated again; ``given_as``
        names where changed values came from (``{"namespace": "--namespace"}``), so that a bad
        one is reported as the user gave it."""
        changes = {k: v for k, v in changes.items() if v is not None}
        labels = dict(self.given_as)
        labels.update((k, v) for k, v in (given_as or {}).items() if k in changes)
        return dataclasses.replace(self, given_as=tuple(labels.items()), **changes)


URL_SCHEMES = (
    "redis://", "rediss://", "unix://",
    "redis+cluster://", "rediss+cluster://", "redis+sentinel://", "rediss+sentinel://",
)  # fmt: skip
WORKER_MODES = ("concurrent", "parallel", "dask")
LOG_FORMATS = ("text", "json")
_VARIABLES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "FLOQ_REDIS_URL": ("redis_url", str),
    "FLOQ_FLOW_RUN_REDIS_URL": ("flow_run_redis_url", str),
    "FLOQ_SECRET": ("secret", str.encode),
    "FLOQ_NAMESPACE": ("namespace", str),
    "FLOQ_HOME": ("home", lambda raw: Path(raw).expanduser()),
    "FLOQ_LOG_LEVEL": ("log_level", str),
    "FLOQ_LOG_FORMAT": ("log_format", str.lower),
    "FLOQ_THREAD_POOL_WORKERS": ("thread_pool_workers", int),
    "FLOQ_RESULT_TTL": ("result_ttl", int),
    "FLOQ_HEARTBEAT_SECONDS": ("heartbeat_seconds", float),
    "FLOQ_WORKER_TTL": ("worker_ttl", float),
    "FLOQ_REAP_SECONDS": ("reap_seconds", float),
    "FLOQ_MAX_LOST_ATTEMPTS": ("max_lost_attempts", int),
    "FLOQ_DRAIN_SECONDS": ("drain_seconds", float),
    "FLOQ_REDIS_RETRY_SECONDS": ("redis_retry_seconds", float),
    "FLOQ_QUEUES": ("queues", lambda raw: tuple(q.strip() for q in raw.split(","))),
    "FLOQ_WORKER_MODE": ("worker_mode", str),
    "FLOQ_CONCURRENCY": ("concurrency", int),
    "FLOQ_PROCESSES": ("processes", int),
    "FLOQ_DASK_ADDRESS": ("dask_address", str),
    "FLOQ_FLOW_SLOTS": ("flow_slots", int),
    "FLOQ_METRICS_PORT": ("metrics_port", int),
    "FLOQ_DASHBOARD_TOKEN": ("dashboard_token", str),
}
_VARIABLE_OF = {key: name for name, (key, _) in _VARIABLES.items()}


def _parse(name: str, raw: str, parse: Callable[[str], Any]) -> Any:
    try:
        return parse(raw)
    except ValueError:
        what = {int: "an integer", float: "a number"}.get(parse, "valid")  # type: ignore[call-overload]
        raise ConfigurationError(f"{name} must be {what}, got {raw!r}") from None


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"^([a-z+]+://)([^:@/]*):[^@/]*@", r"\1\2:***@", url)


_settings: Settings | None = None


def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings
