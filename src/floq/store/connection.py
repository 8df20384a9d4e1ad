"""Redis clients, built once per process, and the check that a server answers.

redis-py 8 defaults ``socket_timeout`` to 5 s, so blocking reads (XREADGROUP/XREAD BLOCK)
use a client of their own with no socket timeout.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis

from floq.errors import ConfigurationError, FloqError


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        user = parts.username or ""
        netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def connect(url: str, *, blocking: bool = False, connect_timeout: float = 3.0) -> redis.Redis:
    """A client for ``url``; with ``blocking``, one whose reads may block without a timeout."""
    try:
        return redis.Redis.from_url(
            url,
            socket_connect_timeout=connect_timeout,
            socket_timeout=None if blocking else 10.0,
            health_check_interval=0 if blocking else 30,
        )
    except ValueError as error:
        raise ConfigurationError(f"bad Redis URL {redacted(url)!r}: {error}") from None


def check(client: redis.Redis, url: str, *, run_id: str | None = None) -> None:
    """Fail fast, naming the address, if the server does not answer."""
    try:
        client.ping()
    except redis.RedisError as error:
        raise FloqError(
            f"cannot reach Redis at {redacted(url)}: {type(error).__name__}: {error}",
            run_id=run_id,
        ) from None
