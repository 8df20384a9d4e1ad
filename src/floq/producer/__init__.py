"""Enqueue whole flow runs from apps (RQ jobs) and follow them with :class:`FlowRun` handles.

>>> run = my_flow.enqueue(3)                 # or floq.producer.enqueue(my_flow, (3,), queue=...)
>>> run.result(timeout=60)                  # from any process: FlowRun.fetch(run.id).result()
"""

from floq.producer.flow_run import FlowRun, enqueue

__all__ = ["FlowRun", "enqueue"]
