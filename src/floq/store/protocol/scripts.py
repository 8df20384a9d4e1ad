"""The Lua scripts of the protocol, loaded from the ``.lua`` files in ``floq/store/scripts``.

Scripts run by SHA (``EVALSHA``) straight from pipelines: redis-py's ``Script`` objects would
ask the server ``SCRIPT EXISTS`` before every pipeline, one more round trip per batch. They
are loaded at start; :func:`execute` reloads them once if the server forgot them (a restart).
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import redis
import redis.cluster

NAMES = ("submit", "complete", "promote", "reclaim", "cancel", "flow_state", "requeue")


@cache
def source(name: str) -> str:
    return (resources.files("floq.store") / "scripts" / f"{name}.lua").read_text()


@cache
def sha(name: str) -> str:
    return hashlib.sha1(source(name).encode()).hexdigest()


class Scripts:
    """Call a protocol script on a client or pipeline: ``scripts.call(pipe, "complete", ...)``."""

    _loaded: weakref.WeakKeyDictionary[Any, Scripts] = weakref.WeakKeyDictionary()

    def __init__(self, client: Any) -> None:
        self._client = client
        self.load()

    @classmethod
    def of(cls, client: Any) -> Scripts:
        """The scripts loaded on ``client``: loaded once per client, not once per protocol
        object (a runner that starts again on the same client loads nothing)."""
        scripts = cls._loaded.get(client)
        if scripts is None:
            scripts = cls._loaded[client] = cls(client)
        return scripts

    def load(self) -> None:
        """Load every script: one round trip (a cluster client sends each to every primary)."""
        if isinstance(self._client, redis.cluster.RedisCluster):
            for name in NAMES:
                self._client.script_load(source(name))
            return
        pipe = self._client.pipeline(transaction=False)
        for name in NAMES:
            pipe.script_load(source(name))
        pipe.execute()

    def call(self, target: Any, name: str, keys: list[str], args: list[Any]) -> Any:
        """On a pipeline, queue the call (:meth:`execute` reloads on NOSCRIPT); on a client,
        run it, loading the scripts again once if the server forgot them (a restart, or a
        replica promoted by a failover: the script cache is not replicated)."""
        # execute_command, not evalsha(): redis-py's cluster pipeline refuses evalsha() by
        # name, while every key of a script is in the namespace's slot (one node) anyway.
        command = ("EVALSHA", sha(name), len(keys), *keys, *args)
        if isinstance(target, (redis.client.Pipeline, redis.cluster.ClusterPipeline)):
            return target.execute_command(*command)  # type: ignore[no-untyped-call]
        try:
            return target.execute_command(*command)
        except redis.exceptions.NoScriptError:
            self.load()
            return target.execute_command(*command)

    def execute(self, build: Callable[[Any], None]) -> list[Any]:
        """Build a pipeline with ``build(pipe)`` and run it; reload the scripts once if need be."""
        for attempt in (1, 2):
            pipe = self._client.pipeline(transaction=False)
            build(pipe)
            try:
                return pipe.execute()  # type: ignore[no-any-return]
            except redis.exceptions.NoScriptError:
                if attempt == 2:
                    raise
                self.load()
        raise AssertionError("unreachable")
