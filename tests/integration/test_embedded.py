"""With no Redis URL configured, floq starts (and reuses) its own server: `floq demo` just works."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from integration_helpers import FLOQ_CLI, clean_env, run_cli

from floq.store import embedded


@pytest.fixture
def home_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment with no FLOQ_REDIS_URL and its own FLOQ_HOME; its server stopped after."""
    env = clean_env(FLOQ_HOME=str(tmp_path))
    yield env
    run_cli(FLOQ_CLI, "server", "--stop", env=env)
    pid_file = tmp_path / "server" / "server.pid"
    with contextlib.suppress(OSError, ValueError):  # still running (a bug the test reports)?
        pid = int(pid_file.read_text().strip())
        if str(tmp_path) in Path(f"/proc/{pid}/cmdline").read_text():  # ours, not a reused pid
            os.kill(pid, signal.SIGTERM)


def test_demo_runs_on_the_embedded_server(home_env: dict[str, str]) -> None:
    first = run_cli(FLOQ_CLI, "server", "--url", env=home_env)
    assert first.returncode == 0, first.stderr
    url = first.stdout.strip()
    assert url.startswith("redis://127.0.0.1:"), first.stdout
    assert not url.endswith(":6379/0")
    assert embedded.wait_ready(url, timeout=5)

    again = run_cli(FLOQ_CLI, "server", "--url", env=home_env)
    assert (again.returncode, again.stdout.strip()) == (0, url)  # reused, not a second server

    demo = run_cli(FLOQ_CLI, "demo", env=home_env, timeout=60)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "sum: 2470" in demo.stdout, demo.stdout
    assert "ran on 2 worker process(es)" in demo.stdout, demo.stdout
    assert url in demo.stderr  # it says which server it used: the one already running

    stopped = run_cli(FLOQ_CLI, "server", "--stop", env=home_env)
    assert (stopped.returncode, stopped.stdout.strip()) == (0, "stopped")
    assert not embedded.wait_ready(url, timeout=1)
