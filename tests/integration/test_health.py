"""`floq health`: the probe of containers and Kubernetes, on a real server and worker."""

from __future__ import annotations

from typing import Any

from integration_helpers import FLOQ_CLI, clean_env, run_cli


def _health(*args: str, **env: str) -> Any:
    return run_cli(FLOQ_CLI, "health", *args, env=clean_env(**env), timeout=30)


def test_health_exits_0_when_the_server_answers_and_1_naming_it_when_not(
    redis_url: str, closed_port: int
) -> None:
    ok = _health(FLOQ_REDIS_URL=redis_url)
    assert ok.returncode == 0 and ok.stdout.startswith("healthy"), ok
    down = f"redis://127.0.0.1:{closed_port}/0"
    failed = _health("--redis", down)
    assert failed.returncode == 1, failed
    [line] = failed.stderr.splitlines()
    assert down in line and "unhealthy" in line, line
    none = _health()
    assert none.returncode == 1 and "FLOQ_REDIS_URL" in none.stderr, none


def test_health_with_worker_needs_that_workers_fresh_heartbeat(
    workers: Any, redis_url: str, namespace: str
) -> None:
    process = workers.start()
    workers.wait_registered(1)
    name = f"w0-{namespace}"
    env = {"FLOQ_REDIS_URL": redis_url, "FLOQ_NAMESPACE": namespace}
    assert _health("--worker", name, **env).returncode == 0
    missing = _health("--worker", "nobody", **env)
    assert missing.returncode == 1 and "'nobody'" in missing.stderr, missing
    workers.stop()
    assert process.returncode == 0
    gone = _health("--worker", name, **env)  # a drained worker takes its heartbeat away
    assert gone.returncode == 1 and name in gone.stderr, gone
