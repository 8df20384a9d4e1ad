"""DaskTaskRunner: task runs on a Dask cluster, with the flow's dependencies as Dask's edges."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from floq.engine.shells import TimeoutMode
from floq.errors import RunnerError
from floq.futures import TaskFuture
from floq.runners.base import TaskRunner
from floq.runners.main_guard import require_main_guard
from floq.runners.transport import decode_outcome, encode_call, finish_from, run_encoded
from floq.runs import TaskCall
from floq.states import State


class DaskTaskRunner(TaskRunner):
    """Submits every task run to Dask; upstream runs are passed as Dask futures.

    With an ``address`` it connects to that scheduler; otherwise it starts ``cluster_class``
    (default ``distributed.LocalCluster``, or a dotted path) with ``cluster_kwargs`` for the
    flow run and closes it after. A script that starts a local cluster needs
    ``if __name__ == "__main__":``; without it the runner stops with a message saying so.
    Needs the ``dask`` extra: ``pip install 'floq[dask]'``.
    """

    def __init__(
        self,
        address: str | None = None,
        cluster_class: type | str | Callable[..., Any] | None = None,
        cluster_kwargs: dict[str, Any] | None = None,
        client_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            address=address,
            cluster_class=cluster_class,
            cluster_kwargs=cluster_kwargs,
            client_kwargs=client_kwargs,
        )
        self.address = address
        self.cluster_class = cluster_class
        self.cluster_kwargs = dict(cluster_kwargs or {})
        self.client_kwargs = dict(client_kwargs or {})
        self._client: Any = None
        self._cluster: Any = None
        self._dask_futures: dict[str, Any] = {}

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` of the running flow (None when not started)."""
        return self._client

    def start(self) -> None:
        import_distributed()  # before the guard: a missing extra is the first thing to say
        if not self.address:
            require_main_guard(type(self).__name__)
        self._client, self._cluster = open_client(
            self.address, self.cluster_class, self.cluster_kwargs, self.client_kwargs
        )

    def shutdown(self) -> None:
        self._dask_futures.clear()
        if self._client is not None:
            close_client(self._client, self._cluster)
        self._client = self._cluster = None

    def _launch(self, call: TaskCall, future: TaskFuture[Any]) -> None:
        payload = encode_call(call)
        edges: dict[str, Any] = {}  # upstream Dask futures: Dask waits for these itself
        known: dict[str, State] = {}  # upstream runs from elsewhere: already final here
        for run_id, upstream in call.upstream.items():
            if run_id in self._dask_futures:
                edges[run_id] = self._dask_futures[run_id]
            else:
                known[run_id] = upstream.wait()
        done = self._client.submit(
            _dask_entry, payload, edges, known, key=f"{call.run.name}-{call.run.id}", pure=False
        )
        self._dask_futures[call.run.id] = done
        done.add_done_callback(lambda d: finish_from(future, d.result, "Dask worker"))


def _dask_entry(payload: bytes, edges: dict[str, bytes], known: dict[str, State]) -> bytes:
    upstream = {run_id: decode_outcome(raw)[0] for run_id, raw in edges.items()}
    return run_encoded(payload, {**known, **upstream}, TimeoutMode.THREAD)


def import_distributed() -> Any:
    """The ``distributed`` module, or a :class:`RunnerError` saying how to install it."""
    try:
        return importlib.import_module("distributed")
    except ImportError:
        raise RunnerError(
            "DaskTaskRunner needs dask.distributed: pip install 'floq[dask]'"
        ) from None


def open_client(
    address: str | None,
    cluster_class: type | str | Callable[..., Any] | None = None,
    cluster_kwargs: dict[str, Any] | None = None,
    client_kwargs: dict[str, Any] | None = None,
) -> tuple[Any, Any]:
    """A ``distributed.Client`` of the scheduler at ``address``, or of a cluster started here
    (``cluster_class``, default ``LocalCluster``, with ``cluster_kwargs``), and that cluster
    (None with an ``address``). :func:`close_client` closes both. Used by
    :class:`DaskTaskRunner` and by the dask mode of ``flow-worker``."""
    distributed = import_distributed()
    if address:
        try:
            return distributed.Client(address, **(client_kwargs or {})), None
        except (OSError, ValueError) as error:  # refused, timed out (30 s), a bad address
            raise RunnerError(f"cannot reach the Dask scheduler at {address}: {error}") from None
    cluster = _cluster_class(cluster_class, distributed)(**(cluster_kwargs or {}))
    return distributed.Client(cluster, **(client_kwargs or {})), cluster


def close_client(client: Any, cluster: Any) -> None:
    """Close what :func:`open_client` opened: the client, then its cluster if it started one."""
    client.close()
    if cluster is not None:
        cluster.close()


def _cluster_class(spec: Any, distributed: Any) -> Any:
    if spec is None:
        return distributed.LocalCluster
    if isinstance(spec, str):
        module, _, name = spec.rpartition(".")
        return getattr(importlib.import_module(module), name)
    return spec


__all__ = ["DaskTaskRunner", "close_client", "import_distributed", "open_client"]
