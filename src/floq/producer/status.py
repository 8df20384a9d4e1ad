"""A flow run's state from its floq record and its RQ job's status (pure logic, no IO).

floq's record is the authority once it holds a final state. Before that, the RQ job's status
tells what the record cannot: a job RQ marks failed while the record still says Running means
the process running the flow died (Crashed); a stopped or cancelled job is Cancelled.
"""

from __future__ import annotations

from floq.states import Cancelled, Completed, Crashed, Pending, Running, Scheduled, State, StateType

_TYPES = {
    "created": StateType.PENDING,
    "queued": StateType.PENDING,
    "ready_to_enqueue": StateType.PENDING,
    "rate_limited": StateType.PENDING,
    "deferred": StateType.SCHEDULED,
    "scheduled": StateType.SCHEDULED,
    "started": StateType.RUNNING,
}
_FRESH = {StateType.PENDING: Pending, StateType.SCHEDULED: Scheduled, StateType.RUNNING: Running}


def reconcile(recorded: State | None, job_status: str | None, run_id: str) -> State | None:
    """The run's state; None when neither a record nor a job is known."""
    if recorded is not None and recorded.is_final():
        return recorded
    if job_status is None:
        if recorded is None:
            return None
        return Crashed(message=f"the RQ job of flow run {run_id} is gone (expired or deleted)")
    if job_status in ("stopped", "canceled"):
        return Cancelled(f"flow run {run_id} was cancelled")
    if job_status == "failed":
        return Crashed(message=f"the process running flow run {run_id} died (RQ: failed)")
    if job_status == "finished":
        return Completed(message=f"flow run {run_id} finished; its record expired")
    wanted = _TYPES.get(job_status, StateType.PENDING)
    if recorded is not None and recorded.type is wanted:
        return recorded  # keeps its refinement: AwaitingRetry, say
    return _FRESH[wanted]()
