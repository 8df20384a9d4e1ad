"""Redis clients, built once per process, and the check that a server answers.

URLs (wherever floq takes one: ``FLOQ_REDIS_URL``, ``--redis``, ``url=``):

* ``redis://``, ``rediss://``, ``unix://``: one server (redis-py's own URL syntax).
* ``redis+cluster://[user:pass@]host:port[,host:port...]`` (``rediss+cluster://`` for TLS):
  a Redis Cluster, found from any of the nodes given. Every floq key carries the namespace
  as its hash tag, so a namespace lives in one slot (see :mod:`floq.store.protocol`).
* ``redis+sentinel://[user:pass@]host:port[,host:port...]/service[/db]``
  (``rediss+sentinel://``: TLS to the Sentinels and to the master): the master of ``service``
  as the Sentinels say, followed across failovers (see :mod:`floq.store.failover`).

Query options (``?ssl_ca_certs=...``) are redis-py's, as on a plain URL. Every client rides
out a lost connection (:mod:`floq.store.outage`). Commands time out after 10 s; blocking reads
(XREADGROUP/XREAD BLOCK, never more than a second here) use a client of their own that allows
20 s, so that a server cut off by a partition is noticed, not waited for forever.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.connection import parse_url
from redis.retry import Retry
from redis.sentinel import Sentinel

from floq.errors import ConfigurationError, FloqError
from floq.settings import URL_SCHEMES, get_settings
from floq.settings import redacted as redacted  # re-exported: callers import it from here
from floq.store import failover
from floq.store.outage import OutageRetry, described

_MULTI = re.compile(r"^(rediss?)\+(cluster|sentinel)://(?:([^@/]*)@)?([^/?]+)(/[^?]*)?(\?.*)?$")


def is_cluster(url: str) -> bool:
    return url.startswith(("redis+cluster://", "rediss+cluster://"))


def connect(
    url: str,
    *,
    blocking: bool = False,
    connect_timeout: float = 3.0,
    retry_seconds: float | None = None,
) -> Any:
    """A client for ``url``; with ``blocking``, one for blocking reads. It retries a lost
    connection for ``retry_seconds`` (default ``FLOQ_REDIS_RETRY_SECONDS``)."""
    if retry_seconds is None:
        retry_seconds = get_settings().redis_retry_seconds
    timeouts: dict[str, Any] = {
        "socket_connect_timeout": connect_timeout,
        "socket_timeout": 20.0 if blocking else 10.0,
        # no CLIENT SETINFO on each new connection: two round trips, 0.8 ms a connection here
        "lib_name": None,
        "lib_version": None,
    }
    try:
        multi = _MULTI.match(url)
        if multi is None:
            if url.startswith(URL_SCHEMES[3:]):
                raise ValueError("expected host:port[,host:port...] after '://'")
            _check_database(url)
            health = {"health_check_interval": 0 if blocking else 30}
            retry = OutageRetry(redacted(url), retry_seconds)
            return redis.Redis.from_url(url, retry=retry, **timeouts, **health)
        scheme, kind, auth, hosts, path, query = multi.groups()
        nodes = _nodes(hosts, 26379 if kind == "sentinel" else 6379)
        if kind == "cluster":
            # The cluster client counts its retries (and finds the slots again between
            # them): about one a second for the same budget.
            backoff = ExponentialWithJitterBackoff(base=0.05, cap=1.0)
            timeouts["retry"] = Retry(backoff, max(0, int(retry_seconds)))
            return _cluster(scheme, auth, nodes, path, query, timeouts)
        timeouts["retry"] = OutageRetry(redacted(url), retry_seconds)
        return _sentinel(scheme, auth, nodes, path, query, timeouts)
    except ValueError as error:
        raise ConfigurationError(f"bad Redis URL {redacted(url)!r}: {error}") from None
    except redis.AuthenticationError as error:
        raise FloqError(refused(url, error)) from None
    except (redis.RedisError, redis.exceptions.RedisClusterException) as error:  # slots, at once
        if isinstance(error.__cause__, redis.AuthenticationError):  # a cluster's nodes refused
            raise FloqError(refused(url, error.__cause__)) from None
        raise FloqError(f"cannot reach Redis at {redacted(url)}: {described(error)}") from None


def _check_database(url: str) -> None:
    """A one-server URL's path is its database number (redis-py ignores any other)."""
    parts = urlsplit(url)
    if parts.scheme in ("redis", "rediss") and not re.fullmatch(r"/?\d*", parts.path):
        raise ValueError(f"bad database number {parts.path.lstrip('/')!r} (expected /0, /1, ...)")


def _nodes(hosts: str, default_port: int) -> list[tuple[str, int]]:
    nodes = []
    for node in hosts.split(","):
        host, _, port = node.strip().rpartition(":") if ":" in node else (node, "", "")
        if not host.strip("[]"):
            raise ValueError(f"no host in {node!r}")
        try:
            nodes.append((host.strip("[]"), int(port) if port else default_port))
        except ValueError:
            raise ValueError(f"bad port in {node!r}") from None
    return nodes


def _options(scheme: str, auth: str | None, db: str, query: str | None) -> dict[str, Any]:
    """redis-py's connection options of the equivalent one-server URL (credentials, TLS), with
    ``ssl=True`` for ``rediss`` instead of a connection class: the cluster and Sentinel clients
    choose their own."""
    credentials = f"{auth}@" if auth else ""
    url = f"{scheme}://{credentials}localhost/{db}{query or ''}"
    options: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]
    for key in ("host", "port", "connection_class"):
        options.pop(key, None)
    if scheme == "rediss":
        options["ssl"] = True
    return options


def _cluster(
    scheme: str, auth: str | None, nodes: list[tuple[str, int]], path: str | None,
    query: str | None, timeouts: dict[str, Any],
) -> RedisCluster:  # fmt: skip
    if path not in (None, "", "/", "/0"):
        raise ValueError("a cluster has database 0 only")
    options = _options(scheme, auth, "0", query)
    options.pop("db", None)
    startup = [ClusterNode(host, port) for host, port in nodes]  # type: ignore[no-untyped-call]
    return RedisCluster(startup_nodes=startup, **options, **timeouts)


def _sentinel(
    scheme: str, auth: str | None, nodes: list[tuple[str, int]], path: str | None,
    query: str | None, timeouts: dict[str, Any],
) -> redis.Redis:  # fmt: skip
    parts = [part for part in (path or "").split("/") if part]
    if not 1 <= len(parts) <= 2:
        raise ValueError("expected /service or /service/db after the Sentinels")
    service, db = parts[0], parts[1] if len(parts) == 2 else "0"
    if not db.isdigit():
        raise ValueError(f"bad database number {db!r}")
    options = _options(scheme, auth, db, query)
    plain = {k: v for k, v in timeouts.items() if k != "retry"}
    # TLS (``ssl`` and the ``ssl_*`` options) to the Sentinels as well as to the master
    sentinel_options = {k: v for k, v in options.items() if k.startswith("ssl")}
    sentinel_options.update(plain)
    sentinels = Sentinel(nodes, sentinel_kwargs=sentinel_options, **plain)  # type: ignore[no-untyped-call]
    ssl = options.pop("ssl", False)
    connection_class = failover.FailoverSSLConnection if ssl else failover.FailoverConnection
    master: redis.Redis = sentinels.master_for(  # type: ignore[no-untyped-call]
        service, connection_class=connection_class, **options, **timeouts
    )
    return master


def check(client: Any, url: str, *, run_id: str | None = None) -> None:
    """Fail fast, naming the address, if the server does not answer (or refuses the user)."""
    try:
        client.ping()
    except redis.AuthenticationError as error:
        raise FloqError(refused(url, error), run_id=run_id) from None
    except redis.RedisError as error:
        raise FloqError(
            f"cannot reach Redis at {redacted(url)}: {described(error)}",
            run_id=run_id,
        ) from None


def refused(url: str, error: Exception) -> str:
    """What to say when the server refuses the URL's user (a wrong password): the user, the
    server, never the password."""
    user = urlsplit(url).username or "default"
    return (
        f"Redis at {redacted(url)} refused user {unquote(user)!r}: {str(error).rstrip('.')} "
        "(check the user and password in the URL)"
    )
