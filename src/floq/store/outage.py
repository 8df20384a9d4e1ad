"""Riding out a lost Redis: every client floq builds retries lost connections for a while.

Each client gets an :class:`OutageRetry` (redis-py's retry hook, around every command and
every connect): after a connection error or timeout it tries again with capped, jittered
backoff (50 ms doubling to 2 s) until ``FLOQ_REDIS_RETRY_SECONDS`` (default 60, enough for a
restart) have passed since the outage began, then raises a ``ConnectionError`` that names the
server and the setting. So the worker's loops, the coordinator's threads and ``FlowRun``
handles all wait through a restart or a short partition without code of their own.

Only a server that answered once is waited for: a wrong URL, or a server down when a process
starts, still fails at once; so does a server that refuses the user (a wrong password: it
answered, and waiting will not change its mind). The process logs one WARNING when an outage
begins and one INFO when the server answers again, whatever the number of threads that
noticed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import AuthenticationError, ConnectionError
from redis.retry import Retry

T = TypeVar("T")
logger = logging.getLogger("floq.store")

_lock = threading.Lock()
_outages: dict[str, float] = {}  # server (redacted URL) -> monotonic time its outage began
_reached: set[str] = set()  # servers that answered in this process (redis-py copies retries)


class OutageRetry(Retry):
    """Retry lost connections to ``server`` for up to ``seconds`` from the outage's start."""

    def __init__(self, server: str, seconds: float) -> None:
        super().__init__(ExponentialWithJitterBackoff(base=0.05, cap=2.0), -1)
        self.server, self.seconds = server, seconds

    def call_with_retry(
        self,
        do: Callable[[], T],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        failures = 0
        while True:
            try:
                result = do()
            except AuthenticationError:
                raise  # the server answered: a wrong password is no outage
            except self._supported_errors as error:
                if is_retryable and not is_retryable(error):
                    raise
                failures += 1
                fail(error, failures) if with_failure_count else fail(error)
                time.sleep(self._wait(error, failures))
                continue
            _reached.add(self.server)
            if failures:
                _ended(self.server)
            return result

    def _wait(self, error: Exception, failures: int) -> float:
        """How long to sleep before the next try; raises once the budget is spent."""
        if self.server not in _reached or self.seconds <= 0:
            raise error
        began = _began(self.server, error, self.seconds)
        left = began + self.seconds - time.monotonic()
        if left <= 0:
            raise ConnectionError(
                f"lost Redis at {self.server} for more than {self.seconds:g} s "
                f"(FLOQ_REDIS_RETRY_SECONDS): {described(error)}"
            ) from error
        return min(left, self._backoff.compute(failures))


def _began(server: str, error: Exception, seconds: float) -> float:
    with _lock:
        if server not in _outages:
            _outages[server] = time.monotonic()
            logger.warning(
                "lost Redis at %s (%s); retrying for up to %g s",
                server, described(error), seconds,
            )  # fmt: skip
        return _outages[server]


def _ended(server: str) -> None:
    with _lock:
        began = _outages.pop(server, None)
    if began is not None:
        logger.info("Redis at %s is back after %.1f s", server, time.monotonic() - began)


def described(error: BaseException) -> str:
    """``Type: message``, without the client's repr that redis-py writes into a Sentinel's
    "No master found for 'mymaster' : <redis.client.Redis(...)> - network:ConnectionError"."""
    text = str(error)
    if " : <" in text:
        head, _, rest = text.partition(" : <")
        cause = rest.rpartition("> - ")[2] if "> - " in rest else ""
        text = f"{head} ({cause})" if cause else head
    return f"{type(error).__name__}: {text}"
