"""The peers: which driver module, which venv, what to install there, which Redis db."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    name: str
    module: str  # peers.<module> is the driver
    variant: str | None  # passed to the driver (celery's pool)
    venv: str | None  # benchmarks/.venvs/<venv>; None: floq's own interpreter
    db: int  # the db this peer uses on the harness's own server (flushed before each run)
    uses_redis: bool = True


PEERS: dict[str, Entry] = {
    e.name: e
    for e in (
        Entry("floq", "floq", None, None, 1),
        Entry("rq", "rq", None, "rq", 2),
        Entry("celery-prefork", "celery", "prefork", "celery", 3),
        Entry("celery-threads", "celery", "threads", "celery", 4),
        Entry("dramatiq", "dramatiq", None, "dramatiq", 5),
        Entry("arq", "arq", None, "arq", 6),
        Entry("dask", "dask", None, "dask", 0, uses_redis=False),
        Entry("saq", "saq", None, "saq", 7),
        Entry("streaq", "streaq", None, "streaq", 8),
        Entry("taskiq", "taskiq", None, "taskiq", 9),
    )
}

# What `--setup` installs into each venv (pinned: the versions of the published figures),
# and an import that must work afterwards. hiredis (redis-py's C parser) goes wherever
# redis-py does, since floq depends on `redis[hiredis]`.
VENVS: dict[str, tuple[tuple[str, ...], str]] = {
    "rq": (("rq==3.0.0", "hiredis==3.5.0"), "import rq.worker, hiredis"),
    "celery": (("celery[redis]==5.7.0", "hiredis==3.5.0"), "import celery, redis, hiredis"),
    "dramatiq": (
        ("dramatiq[redis]==2.2.1", "hiredis==3.5.0"),
        "import dramatiq.brokers.redis, hiredis",
    ),
    "arq": (("arq==0.28.0", "hiredis==3.5.0"), "import arq.worker, hiredis"),
    "dask": (("dask[distributed]==2026.8.0",), "import distributed"),
    # saq imports typing_extensions without declaring it (0.26.4); its `redis` extra caps redis<8.
    "saq": (
        ("saq[redis]==0.26.4", "hiredis==3.5.0", "typing-extensions==4.16.0"),
        "import saq.queue.redis, hiredis",
    ),
    "streaq": (("streaq==7.2.0",), "import streaq"),
    "taskiq": (
        ("taskiq==0.13.0", "taskiq-redis==1.2.4", "hiredis==3.5.0"),
        "import taskiq_redis, hiredis",
    ),
}
