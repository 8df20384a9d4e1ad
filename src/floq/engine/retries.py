"""How long to wait before each retry: a number, a list (its last value repeats) or a callable."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from floq.errors import ConfigurationError

DelaySpec = float | int | Sequence[float] | Callable[[int], float | Sequence[float]]


def exponential_backoff(backoff_factor: float) -> Callable[[int], list[float]]:
    """Delays ``backoff_factor * 2**n`` for retries n = 0, 1, 2, ...

    Pass it as ``retry_delay_seconds``.
    """
    if backoff_factor < 0:
        raise ConfigurationError(f"backoff_factor must be >= 0, got {backoff_factor!r}")

    def delays(retries: int) -> list[float]:
        return [backoff_factor * 2**n for n in range(retries)]

    return delays


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``retries`` more attempts after the first, each after a (jittered) delay."""

    retries: int = 0
    delays: tuple[float, ...] = (0.0,)
    jitter_factor: float | None = None

    @classmethod
    def build(cls, retries: int, delay: DelaySpec, jitter_factor: float | None) -> RetryPolicy:
        if retries < 0:
            raise ConfigurationError(f"retries must be >= 0, got {retries!r}")
        if jitter_factor is not None and jitter_factor < 0:
            raise ConfigurationError(f"retry_jitter_factor must be >= 0, got {jitter_factor!r}")
        if callable(delay):
            delay = delay(retries) or 0  # no retries: a callable may give no delays at all
        values = (delay,) if isinstance(delay, int | float) else tuple(delay)
        if not values or any(not isinstance(v, int | float) or v < 0 for v in values):
            raise ConfigurationError(
                "retry_delay_seconds must be a number >= 0 or a non-empty list of them, "
                f"got {delay!r}"
            )
        return cls(retries, tuple(float(v) for v in values), jitter_factor)

    def delay(self, retry_number: int) -> float:
        """The wait before retry ``retry_number`` (1-based), jitter applied."""
        base = self.delays[min(retry_number - 1, len(self.delays) - 1)]
        if not self.jitter_factor or not base:
            return base
        spread = base * self.jitter_factor
        return random.uniform(max(0.0, base - spread), base + spread)
