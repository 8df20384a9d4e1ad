"""Riding out a Sentinel failover: connections that move to the new master, and retries.

When Sentinel promotes a replica, the deposed master may keep accepting writes for seconds
(until Sentinel reconfigures it), and whatever it accepts then is lost when it resyncs from
the new master. Run masters and replicas with ``min-replicas-to-write 1`` (Redis's own advice
against this): the deposed master then refuses writes with ``NOREPLICAS`` as soon as its
replica leaves. :class:`FailoverConnection` turns that refusal, a ``READONLY`` reply (the old
master now a replica) and ``UNBLOCKED`` (a blocked read cut short by the change of role) into
a lost connection, so that redis-py asks the Sentinels for the master again and the command
runs again there, with capped, jittered backoff for up to about :data:`RETRY_SECONDS`.
"""

from __future__ import annotations

from typing import Any

from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError, ResponseError, TimeoutError
from redis.retry import Retry
from redis.sentinel import SentinelManagedConnection, SentinelManagedSSLConnection

RETRY_SECONDS = 30.0
_MOVED_ON = ("NOREPLICAS", "UNBLOCKED", "READONLY", "MASTERDOWN", "LOADING")


def retry() -> Retry:
    """Backoff from 50 ms, capped at 1 s: about ``RETRY_SECONDS`` of attempts in all."""
    backoff = ExponentialWithJitterBackoff(base=0.05, cap=1.0)
    return Retry(backoff, int(RETRY_SECONDS), supported_errors=(ConnectionError, TimeoutError))


class FailoverConnection(SentinelManagedConnection):
    """A master connection that treats the replies of a master being replaced as a lost link."""

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().read_response(*args, **kwargs)
        except ResponseError as error:
            if not str(error).startswith(_MOVED_ON) or not self.connection_pool.is_master:
                raise
            self.disconnect()  # type: ignore[no-untyped-call]  # next connect: ask the Sentinels
            raise ConnectionError(f"the master is changing: {error}") from error


class FailoverSSLConnection(FailoverConnection, SentinelManagedSSLConnection):
    pass
