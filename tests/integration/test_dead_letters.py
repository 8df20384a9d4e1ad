"""`floq dead-letters list | show | requeue | purge` with a real server and real workers.

A worker refuses what it cannot decode or verify; these tests put such entries on queues, see
them dead-lettered, look at them, put them back after the fault is fixed, and purge them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from integration_helpers import WAIT, lines, outcomes, wait_until

from floq import flow, task
from floq import settings as floq_settings
from floq.settings import Settings
from floq.states import StateType
from floq.store.keys import Keys
from floq.store.protocol import DeadLetters, RequeueRefused

cloudpickle.register_pickle_by_value(sys.modules[__name__])


@task
def mark(path: str) -> int:
    with open(path, "a") as out:
        out.write("ran\n")
    return 42


def _json(floq: Any, *args: str) -> Any:
    done = floq("dead-letters", *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _listed(floq: Any, count: int) -> list[dict[str, Any]]:
    """`floq dead-letters list --json`, once it lists ``count`` letters."""

    def found() -> list[dict[str, Any]] | None:
        rows: list[dict[str, Any]] = _json(floq, "list")
        return rows if len(rows) == count else None

    return wait_until(found, WAIT, f"{count} dead letter(s)")


def test_a_letter_of_another_secret_runs_once_requeued_after_the_fix(
    runner: Any, workers: Any, client: Any, keys: Keys, floq: Any, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(floq_settings, "_settings",
                        Settings.from_env().replace(secret=b"the-apps-secret"))  # fmt: skip
    wrong = workers.start("--concurrency", "2", FLOQ_SECRET="an-old-secret")
    workers.wait_registered(1)
    marks, seen = tmp_path / "marks", {}

    @flow(task_runner=runner)
    def refused() -> None:
        seen["state"] = mark.submit(str(marks)).wait(timeout=WAIT)

    assert refused(return_state=True).is_failed()  # at once: the worker refused the payload
    assert seen["state"].type is StateType.FAILED
    [letter] = _listed(floq, count=1)
    assert letter["queue"] == "default" and letter["id"].startswith("default/")
    assert "FLOQ_SECRET" in letter["reason"] or "signature" in letter["reason"], letter
    shown = _json(floq, "show", letter["id"])
    assert shown["task_run"] == letter["task_run"] and shown["payload_bytes"] > 0
    assert lines(marks) == [] and wrong.poll() is None  # never run; the worker goes on

    # The fix: the worker restarted with the app's secret. Requeue runs the task run once.
    workers.stop()
    workers.start("--concurrency", "2", FLOQ_SECRET="the-apps-secret")
    done = floq("dead-letters", "requeue", letter["id"])
    assert done.returncode == 0 and "requeued on default" in done.stdout, done.stderr
    flow_run_id, task_run_id = shown["flow_run"], shown["task_run"]

    def completed() -> bool:
        return [s.type for i, s in outcomes(client, keys, flow_run_id) if i == task_run_id][-1:] \
            == [StateType.COMPLETED]  # fmt: skip

    wait_until(completed, WAIT, f"the requeued run's outcome\n{workers.logs()}")
    assert lines(marks) == ["ran"]
    assert _json(floq, "list") == []
    again = floq("dead-letters", "requeue", letter["id"])  # it went with the requeue: once
    assert again.returncode == 1 and "no such dead letter" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1, again.stderr


def test_garbage_is_listed_per_queue_requeued_as_is_and_purged(
    workers: Any, client: Any, keys: Keys, floq: Any
) -> None:
    worker = workers.start("--queue", "default", "--queue", "other")
    workers.wait_registered(1)
    client.xadd(keys.queue("default"), {"junk": b"\xff\x00 garbage"})
    client.xadd(keys.queue("default"), {"f": "", "p": b"truncated"})
    client.xadd(keys.queue("other"), {"junk": b"elsewhere"})

    every = _listed(floq, count=3)
    assert len({row["id"] for row in every}) == 3 and worker.poll() is None, workers.logs()
    [other] = _json(floq, "list", "--queue", "other")
    assert other["id"].startswith("other/") and other["task_run"] is None
    assert "malformed queue entry" in other["reason"] and "elsewhere" in other["raw"]
    assert _json(floq, "show", other["id"])["raw"] == other["raw"]
    text = floq("dead-letters", "list", "--queue", "other")
    assert other["id"] in text.stdout, text

    # Put back as it was refused: still garbage, so dead-lettered again, under a new id.
    done = floq("dead-letters", "requeue", other["id"])
    assert done.returncode == 0, done.stderr
    wait_until(lambda: [r["id"] for r in _json(floq, "list", "--queue", "other")]
               not in ([], [other["id"]]), WAIT, "the letter again")  # fmt: skip
    assert _json(floq, "list", "--queue", "other")[0]["raw"] == other["raw"]

    purged = floq("dead-letters", "purge", "--queue", "other", "--yes")
    assert "purged 1 dead letter(s) of queue other" in purged.stdout, purged.stderr
    assert len(_json(floq, "list")) == 2
    assert "purged 2" in floq("dead-letters", "purge", "--yes").stdout
    assert _json(floq, "list") == [] and worker.poll() is None
    bad = floq("dead-letters", "show", "nonsense")
    assert bad.returncode == 1 and "not a dead letter id" in bad.stderr, bad.stderr


def test_requeue_never_runs_a_task_run_twice(client: Any, keys: Keys) -> None:
    """A letter whose run completed since (a later delivery), or whose record expired."""
    letters = DeadLetters(client, keys)
    run = keys.task("fr-x", "tr-done")
    client.hset(run, mapping={"p": b"payload", "u": "", "n": "1", "c": "code", "f": "1",
                              "st": "Completed", "e": ""})  # fmt: skip
    for task_run_id in ("tr-done", "tr-expired"):
        client.xadd(keys.dead("default"), {"f": "fr-x", "t": task_run_id, "entry": "1-1",
                                           "reason": "test", "payload": b"p"})  # fmt: skip
    by_run = {letter.task_run_id: letter.id for letter in letters.list()}
    with pytest.raises(RequeueRefused, match="ended Completed"):
        letters.requeue(by_run["tr-done"])
    with pytest.raises(RequeueRefused, match="expired"):
        letters.requeue(by_run["tr-expired"])
    assert client.xlen(keys.queue("default")) == 0 and letters.count("default") == 2
    assert letters.purge() == 2 and letters.list() == []
