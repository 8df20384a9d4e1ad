"""floq's configuration: one frozen :class:`Settings`, read from the environment only here.

Precedence is flag > environment > default: command-line code builds ``Settings.from_env()``
and then ``replace()``s what its flags set. A bad value fails at once, naming the variable.

=========================  =========================================  ===========
variable                   meaning                                    default
=========================  =========================================  ===========
FLOQ_REDIS_URL             Redis server for the distributed path      (embedded)
FLOQ_SECRET                HMAC key: sign payloads, refuse unsigned   (off)
FLOQ_LOG_LEVEL             level of floq's run logs on stderr         INFO
FLOQ_THREAD_POOL_WORKERS   threads of ConcurrentTaskRunner            64
=========================  =========================================  ===========
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from floq.errors import ConfigurationError

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True, slots=True)
class Settings:
    redis_url: str | None = None
    secret: bytes | None = None
    log_level: str = "INFO"
    thread_pool_workers: int = 64

    def __post_init__(self) -> None:
        if self.log_level not in _LEVELS:
            raise ConfigurationError(
                f"FLOQ_LOG_LEVEL must be one of {', '.join(_LEVELS)}, got {self.log_level!r}"
            )
        if self.thread_pool_workers < 1:
            raise ConfigurationError(
                f"FLOQ_THREAD_POOL_WORKERS must be >= 1, got {self.thread_pool_workers!r}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if env.get("FLOQ_REDIS_URL"):
            values["redis_url"] = env["FLOQ_REDIS_URL"]
        if env.get("FLOQ_SECRET"):
            values["secret"] = env["FLOQ_SECRET"].encode()
        if env.get("FLOQ_LOG_LEVEL"):
            values["log_level"] = env["FLOQ_LOG_LEVEL"].upper()
        if env.get("FLOQ_THREAD_POOL_WORKERS"):
            values["thread_pool_workers"] = _integer(env, "FLOQ_THREAD_POOL_WORKERS")
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def log_level_number(self) -> int:
        return logging.getLevelName(self.log_level)  # type: ignore[no-any-return]


def _integer(env: Mapping[str, str], name: str) -> int:
    try:
        return int(env[name])
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer, got {env[name]!r}") from None


_settings: Settings | None = None


def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings
