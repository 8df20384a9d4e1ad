"""Redis: key layout, Lua scripts of the task-run protocol, connections, the embedded server.

The protocol's keys, fields and script arguments belong to :mod:`floq.store.protocol` alone
(its docstring tables them); everything else goes through its classes.

The protocol (see DESIGN.md, "The distributed path"):

* submit (``submit.lua``): a task-run hash per run; a run whose upstreams are unfinished waits
  in its hash (counted in ``w``) and is registered with each upstream's dependents; a ready
  one is XADDed to its queue's stream at once.
* claim: workers ``XREADGROUP`` batches from the queue streams (consumer group ``floq``).
  The stream entry id is the attempt token: the run's hash names its current entry.
* complete (``complete.lua``): accepted only if the entry is still the run's current one and
  still owned by this worker in the group's pending list (fencing); writes the outcome, XADDs it
  to the flow run's result stream, XACKs, and releases dependents whose last upstream this was,
  or schedules a delayed retry in the retries sorted set.
* promote (``promote.lua``): due retries go back onto their queue streams.
* reclaim (``reclaim.lua``): the pending entries of a worker whose heartbeat lapsed are put back
  on the stream as new entries (new tokens), so a late result from that worker is refused.
"""
