"""Riding out a Sentinel failover: connections that move to the new master, and retries.

When Sentinel promotes a replica, the deposed master may keep accepting writes for seconds
(until Sentinel reconfigures it), and whatever it accepts then is lost when it resyncs from
the new master. Run masters and replicas with ``min-replicas-to-write 1`` (Redis's own advice
against this): the deposed master then refuses writes with ``NOREPLICAS`` as soon as its
replica leaves. :class:`FailoverConnection` turns that refusal, a ``READONLY`` reply (the old
master now a replica) and ``UNBLOCKED`` (a blocked read cut short by the change of role) into
a lost connection, so that redis-py asks the Sentinels for the master again and the command
runs again there (retried as any lost connection is: :mod:`floq.store.outage`).
"""

from __future__ import annotations

from typing import Any

from redis.exceptions import ConnectionError, ResponseError
from redis.sentinel import SentinelManagedConnection, SentinelManagedSSLConnection

_MOVED_ON = ("NOREPLICAS", "UNBLOCKED", "READONLY", "MASTERDOWN", "LOADING")


class FailoverConnection(SentinelManagedConnection):
    """A master connection that treats the replies of a master being replaced as a lost link."""

    def connect_check_health(self, *args: Any, **kwargs: Any) -> None:
        # redis-py 8 reconnects a dropped connection here, to the address it had: the master
        # that was just deposed. Ask the Sentinels first, as a new connection does.
        if not self._sock and self.connection_pool.is_master:
            self.host, self.port = self.connection_pool.get_master_address()
        super().connect_check_health(*args, **kwargs)

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
