"""Hostile and broken entries put on a queue while a flow runs on it (workers under
``FLOQ_SECRET``): garbage bytes, a truncated payload, an entry missing fields, a payload of a
newer envelope version, an unsigned one, a forged one, an entry that names no run. None is
executed (their pickles would create a file if unpickled), each is dead-lettered with its
reason, the workers go on, and the flow's own task runs complete, each recorded once.
``floq dead-letters`` lists them and purges them."""

from __future__ import annotations

import json
import os
import pickle
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from chaos_report import Counts, report
from integration_helpers import WAIT, outcomes, run_in_thread, wait_until

from floq import flow, serialization, task
from floq import settings as floq_settings
from floq.runners import RedisTaskRunner
from floq.settings import Settings
from floq.store.keys import Keys
from floq.store.protocol import DeadLetters

cloudpickle.register_pickle_by_value(sys.modules[__name__])

TASKS = 300
SECRET = b"the-deployments-secret"


@task
def step(x: int) -> int:
    time.sleep(0.005)
    return x


class Touch:
    """Unpickled, it creates ``path``: the proof that a payload was executed."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


def _hostile(marker: Path) -> dict[str, dict[str, Any]]:
    """Entry fields by what is wrong with them (flow run ``fr-hostile``, task run = the name)."""
    body = pickle.dumps(Touch(marker))
    signed = serialization.dumps(Touch(marker), SECRET)
    payloads = {
        "garbage": os.urandom(64),
        "truncated": signed[: len(signed) // 2],
        "newer-version": serialization.MAGIC + bytes((serialization.VERSION + 1, 0)) + body,
        "unsigned": serialization.MAGIC + bytes((serialization.VERSION, 0)) + body,
        "forged": serialization.dumps(Touch(marker), b"an-attackers-secret"),
    }
    entries: dict[str, dict[str, Any]] = {
        name: {"f": "fr-hostile", "t": name, "p": p, "u": "", "n": "1", "c": "x"}
        for name, p in payloads.items()
    }
    entries["missing-fields"] = {"f": "fr-hostile", "t": "missing-fields", "p": signed}
    entries["names-no-run"] = {"junk": b"\xff\x00"}
    return entries


def test_hostile_entries_mid_flow_are_dead_lettered_never_run(
    redis_url: str, namespace: str, workers: Any, client: Any, keys: Keys, floq: Any,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(floq_settings, "_settings", Settings.from_env().replace(secret=SECRET))
    for _ in range(2):
        workers.start("--concurrency", "4", FLOQ_SECRET=SECRET.decode())
    workers.wait_registered(2)
    marker, seen_id = tmp_path / "executed", {}

    @flow(task_runner=RedisTaskRunner(url=redis_url, namespace=namespace))
    def honest(n: int) -> int:
        futures = step.map(range(n))
        seen_id["flow_run_id"] = futures[0].task_run.flow_run_id or ""
        return sum(future.result(timeout=WAIT) for future in futures)

    thread, seen = run_in_thread(honest, TASKS)
    wait_until(lambda: seen_id and client.xlen(keys.results(seen_id["flow_run_id"])) >= 20,
               WAIT, "20 task runs done")  # fmt: skip
    hostile = _hostile(marker)
    injected = time.monotonic()
    for fields in hostile.values():
        client.xadd(keys.queue("default"), fields)
    dead = DeadLetters(client, keys)
    wait_until(lambda: dead.count("default") >= len(hostile), WAIT, "every entry dead-lettered")
    recover = time.monotonic() - injected
    thread.join(timeout=WAIT * 2)

    assert not thread.is_alive() and seen.get("result") == sum(range(TASKS)), seen
    recorded = Counter(run for run, _ in outcomes(client, keys, seen_id["flow_run_id"]))
    counts = Counts.of(f"hostile entries mid-flow ({len(hostile)} dead-lettered)", TASKS,
                       recorded.values(), recover=recover)  # fmt: skip
    report(counts)
    assert counts.lost == 0 and counts.twice == 0, recorded.most_common(3)
    assert not marker.exists(), "a hostile payload was executed"
    assert all(p.poll() is None for p in workers.processes), workers.logs()
    assert "Traceback" not in workers.logs(), workers.logs()
    letters = _letters(floq, len(hostile))
    assert letters is not None
    by_run = {row["task_run"]: row["reason"] for row in letters}
    assert set(by_run) == {*hostile} - {"names-no-run"} | {None}, by_run
    assert all(reason.strip() for reason in by_run.values()), by_run
    assert "not signed" in by_run["unsigned"] and "different FLOQ_SECRET" in by_run["forged"]
    assert "version" in by_run["newer-version"], by_run["newer-version"]
    purged = floq("dead-letters", "purge", "--yes")
    assert f"purged {len(hostile)} dead letter(s)" in purged.stdout, purged.stderr


def _letters(floq: Any, count: int) -> list[dict[str, Any]] | None:
    done = floq("dead-letters", "list", "--json")
    rows: list[dict[str, Any]] = json.loads(done.stdout) if done.returncode == 0 else []
    return rows if len(rows) >= count else None
