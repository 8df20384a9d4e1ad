"""The default timings the README states: a killed worker's task runs again within about 15 s."""

from __future__ import annotations

from floq.settings import Settings


def test_a_killed_workers_runs_are_reaped_within_about_15_seconds_by_default() -> None:
    defaults = Settings.from_env({})
    assert (defaults.heartbeat_seconds, defaults.worker_ttl, defaults.reap_seconds) == (2, 10, 5)
    # The heartbeat lapses at most FLOQ_WORKER_TTL after the kill; the next reap comes at most
    # FLOQ_REAP_SECONDS later.
    assert defaults.worker_ttl + defaults.reap_seconds == 15
    assert defaults.drain_seconds == 30
