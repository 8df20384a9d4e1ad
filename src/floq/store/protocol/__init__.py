"""The task-run protocol: the one owner of Redis key names, hash fields and script arguments.

Callers (runners, worker, producer, CLI) use :class:`TaskRunProtocol`, :class:`FlowRunRecords`,
:class:`WorkerRegistry`, :class:`DeadLetters` (refused entries: see, requeue, purge) and the
records of :mod:`floq.store.protocol.records`; the field names
are the tables of :mod:`floq.store.protocol.fields`; the keys are built by
:class:`floq.store.keys.Keys`. ``tests/unit/test_protocol_ownership.py`` keeps it so.

Keys (``ns`` is ``FLOQ_NAMESPACE``; ``<fr>`` a flow run id)
---------------------------------------------------------
======================  ==========  ===========================================================
key                     type        what
======================  ==========  ===========================================================
{ns}:q:<queue>          stream      ready task runs (group ``floq``); entry id = attempt token
{ns}:f:<fr>:t:<id>      hash        one task run (TaskField below)
{ns}:f:<fr>:d:<id>      set         task runs waiting for this one (only inside the scripts)
{ns}:f:<fr>:tasks       list        the flow run's task run ids, in submission order
{ns}:f:<fr>:run         hash        the flow run's record (RunField; ``n:<TYPE>`` counts)
{ns}:f:<fr>:events      stream      the flow run's state changes (``type``, ``state``)
{ns}:f:<fr>:results     stream      task-run outcomes for the coordinator (ResultField)
{ns}:f:<fr>:kept        hash        completed results by call key, for a retried attempt
{ns}:code:<address>     string      a task's encoded code, by content address
{ns}:retries            zset        task-run hash keys waiting for a retry, by due time (ms)
{ns}:cancelled          zset        flow runs cancelled in the last hour, by when (epoch s)
{ns}:dead:<queue>       stream      dead letters (DeadField), at most 10,000
{ns}:runs               zset        enqueued flow run ids, by creation time
{ns}:ix:state:<TYPE>    zset        flow runs now in state type TYPE, by creation time
{ns}:ix:flow:<flow>     zset        flow runs of a flow, by creation time
{ns}:ix:queue:<queue>   zset        flow runs enqueued on a queue, by creation time
{ns}:ix:flows           zset        flow names (``ix:queues``: queue names), by last use
{ns}:ix:tmp:<token>     zset        an intersection of indexes, for 5 s (browse.py)
{ns}:w:<worker>         string      a worker's heartbeat (JSON), expiring
{ns}:workers            set         worker names;  ``{ns}:queues``: set of queues served
======================  ==========  ===========================================================

RQ's keys of enqueued flow runs (``rq:queue:<ns>:<queue>``, ``rq:job:<fr>``, ...) are RQ's
own, on the flow-run server (``FLOQ_FLOW_RUN_REDIS_URL``, by default the same server).

Slots (Redis Cluster): one slot per namespace
---------------------------------------------
Every key starts with the namespace as its hash tag, ``{ns}``, so a namespace lives in one
slot, on one node. Why this layout and not one slot per queue or per flow run: a script's
work crosses those lines. ``complete`` records an outcome (flow-run keys), acknowledges the
entry (the queue's stream), schedules a retry (the retries set) and releases dependents that
may wait on another queue; ``cancel`` walks a flow run's task runs across its queues. Split per
slot, each of these would become several scripts with idempotent steps and a window between
them in which a crash leaves a run half-recorded, which is the one thing the protocol exists
to prevent. One slot keeps every script atomic, as on a single server (RQ's maintainers and
Prefect's docket made the same choice: one slot per queue or docket). What a cluster gives
floq is then availability (a replica per master, failover) and room for several
deployments: namespaces spread over the nodes, and one namespace per team or service scales
out. Scripts declare their fixed keys in KEYS (the node that runs a script is the one of
KEYS[1]); the per-run keys they derive from ARGV prefixes (a dependent's hash, a flow run's
index) share the hash tag, so they are on that node too, and Redis refuses a script that
reaches outside its node's slots. ``tests/cluster`` runs the contract suite and the
integration tests on a real 3-node cluster and checks that every key written is in one slot.

Task-run hash fields (``TaskField``): ``r`` flow run id, ``i`` task run id, ``p`` payload
(CallRecord), ``q`` queue, ``u`` upstream ids (comma list), ``w`` unfinished upstreams, ``n``
attempt, ``c`` code address, ``e`` current entry id ('' when none: the fencing token),
``nm`` name, ``st`` state name, ``s`` last encoded outcome, ``f`` '1' once final, ``k`` the
worker of the last outcome, ``m`` message, ``a``/``z`` attempt start/end (epoch s), ``x`` '1'
if cancelled, ``rc`` attempts handed back (a stopped or lost worker's), ``lo`` attempts lost
with their worker (reaped), ``d`` '1' once another task run
waits for this one (``submit`` sets it with the ``d:`` set; ``complete`` reads that set only
then).
Queue entries (``EntryField``): ``f`` flow run, ``t`` task run, ``p`` payload, ``u`` upstream
ids, ``n`` attempt, ``c`` code address. Result entries (``ResultField``): one per ``complete``
batch and flow run, a field ``o:<task run id>`` per outcome (the encoded outcome); the
coordinator's stop marker is ``t`` = ``stop`` with ``k``, the token of the coordinator that
wrote it (a retried flow run's collector reads past an earlier attempt's). Dead letters
(``DeadField``): ``f``, ``t``, ``entry``, ``reason``, and ``payload`` (a run's) or ``raw`` (a
malformed entry).

Scripts (``floq/store/scripts/*.lua``, run by SHA)
--------------------------------------------------
* ``submit``: KEYS queue stream; ARGV flow-run prefix, flow run id, queue, ttl, then per task
  run :meth:`Submission.encode` (id, payload, upstream ids, code, name). Writes each hash,
  queues those with no unfinished upstream, registers the others as dependents (and flags
  their upstreams ``d``); lists the batch in the flow run's index with one RPUSH; records them
  Cancelled if the flow run is. Returns the number of unfinished upstreams counted.
* ``complete``: KEYS retries; ARGV group, consumer, queue prefix, ttl, then per outcome 13
  values: queue, entry id, flow run id, flow-run prefix, task run id and
  :meth:`Result.encode` (outcome, final '1'/'0', retry due ms or '', then the Summary: state
  type, state name, message, start, end). Fenced: recorded only if the entry is the run's
  current one and pending for this consumer. Per batch: one XPENDING, XACK and XDEL per queue,
  one result entry per flow run, one count update per flow run and state type.
  Returns 1 (recorded) or 0 (refused) per outcome.
* ``promote``: KEYS retries; ARGV now (ms), limit, queue prefix. Re-queues due retries of
  unfinished runs. Returns how many were due and the due time (ms) of the earliest retry
  left ('' when none), so a worker sleeps until then instead of polling.
* ``reclaim``: KEYS queue stream; ARGV group, consumer, max count, flow-run key root, lost
  limit, taker. Re-adds the consumer's pending entries under new ids (``rc`` +1), deletes the
  consumer when done. With a limit (a lost worker's entries: ``lo`` +1), a run whose ``lo``
  reaches it is not re-added: its entry moves to the taker, who records the run Crashed.
  Returns how many entries it took, and the id and fields of each run given up.
* ``cancel``: KEYS retries, cancelled; ARGV flow-run prefix, queue prefix, group, flow run id,
  now (epoch s). Returns the number of task runs cancelled.
* ``requeue``: KEYS queue stream, its dead-letter stream; ARGV letter id, then ``raw`` and the
  entry's field/value pairs, or ``run``, flow-run prefix, flow run id, task run id, message.
  Puts the letter's entry back once (see :mod:`floq.store.protocol.dead_letters`). Returns
  ``requeued`` and the new entry id, or the refusal and what it concerns.
* ``flow_state``: KEYS run record, its events stream, and (optional) the state indexes'
  prefix: the run moves from its old state type's index to the new one's; ARGV ttl, state
  type, name, message, timestamp, then field/value pairs. Returns 1 if recorded, 0 if the
  run had already ended.
"""

from floq.store.protocol.browse import RunBrowser, RunFilter
from floq.store.protocol.dead_letters import DeadLetter, DeadLetters, Requeued, RequeueRefused
from floq.store.protocol.flow_records import FlowRunRecords, TaskRunRow
from floq.store.protocol.records import Claim, FlowCall, Result, Submission, Summary
from floq.store.protocol.taskruns import (
    DEAD_LETTERS_KEPT,
    Malformed,
    ResultEntry,
    TaskRunProtocol,
)
from floq.store.protocol.workers import WorkerRegistry

__all__ = [
    "DEAD_LETTERS_KEPT",
    "Claim",
    "DeadLetter",
    "DeadLetters",
    "FlowCall",
    "FlowRunRecords",
    "Malformed",
    "RequeueRefused",
    "Requeued",
    "Result",
    "ResultEntry",
    "RunBrowser",
    "RunFilter",
    "Submission",
    "Summary",
    "TaskRunProtocol",
    "TaskRunRow",
    "WorkerRegistry",
]
