"""The peer benchmark's parts (see ``benchmarks/peers.py`` and ``benchmarks/README.md``).

Two kinds of module live here:

- per-peer drivers (``floq``, ``rq``, ``celery``, ``dramatiq``, ``arq``, ``dask``), run as
  ``python -m peers PEER ...`` with the peer's own venv and ``benchmarks/`` on ``PYTHONPATH``;
  each starts its peer's worker processes, runs one workload and prints one JSON line. They
  import only the standard library, :mod:`peers.common` and their own peer;
- the orchestrator's helpers (``catalog``, ``server``, ``venvs``, ``report``), imported by
  ``benchmarks/peers.py`` under floq's interpreter.
"""
